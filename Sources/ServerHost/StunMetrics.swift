import Logging
import Metrics
import STUNCore

/// The STUN server's counters (swift-metrics; exported on `/metrics` once the HTTP server exists).
enum StunMetrics {
    static let answered = Counter(label: "pod_arcade_stun_responses_total", dimensions: [("kind", "success")])
    static let badRequests = Counter(label: "pod_arcade_stun_responses_total", dimensions: [("kind", "400")])
    static let unknownAttribute = Counter(label: "pod_arcade_stun_responses_total", dimensions: [("kind", "420")])
    static let droppedMalformed = Counter(label: "pod_arcade_stun_dropped_total", dimensions: [("reason", "malformed")])
    static let droppedIndication = Counter(label: "pod_arcade_stun_dropped_total", dimensions: [("reason", "indication")])
    static let droppedResponse = Counter(label: "pod_arcade_stun_dropped_total", dimensions: [("reason", "response")])

    /// Creates the counters, so that `/metrics` lists them at 0 before the first datagram.
    static func register() {
        _ = (answered, badRequests, unknownAttribute, droppedMalformed, droppedIndication, droppedResponse)
    }

    /// Counts an answer by comparing the responder's statistics before and after it.
    static func countResponse(
        before: BindingResponder.Statistics, after: BindingResponder.Statistics, from source: TransportAddress, logger: Logger
    ) {
        if after.successResponses != before.successResponses {
            answered.increment()
        } else if after.unknownAttributeResponses != before.unknownAttributeResponses {
            unknownAttribute.increment()
            logger.debug("STUN request with unknown attributes answered 420", metadata: ["from": "\(source)"])
        } else {
            badRequests.increment()
            logger.debug("STUN request answered 400", metadata: ["from": "\(source)"])
        }
    }

    static func countDrop(_ reason: BindingResponder.DropReason, from source: TransportAddress, bytes: Int, logger: Logger) {
        switch reason {
        case .malformed: droppedMalformed.increment()
        case .indication: droppedIndication.increment()
        case .response: droppedResponse.increment()
        }
        logger.debug("STUN datagram dropped", metadata: ["from": "\(source)", "bytes": "\(bytes)", "reason": "\(reason)"])
    }
}
