/// The sans-IO core of a STUN server that answers Binding requests (RFC 8489 §6.3, §12).
///
/// Feed each received datagram with its source address; the result says what to send back,
/// or why it was dropped. It holds only counters, so one value can serve a whole socket.
public struct BindingResponder: Sendable {
    public struct Configuration: Hashable, Sendable {
        /// SOFTWARE in responses (RFC 8489 §14.14), nil to leave it out.
        public var software: String?
        /// FINGERPRINT in responses (RFC 8489 §14.7).
        public var fingerprint: Bool
        /// Answer RFC 3489 clients (no magic cookie) with MAPPED-ADDRESS (RFC 8489 §12.2).
        public var answerRFC3489: Bool

        public init(software: String? = "pod-arcade", fingerprint: Bool = true, answerRFC3489: Bool = true) {
            self.software = software
            self.fingerprint = fingerprint
            self.answerRFC3489 = answerRFC3489
        }
    }

    /// Why a datagram was not answered.
    public enum DropReason: Hashable, Sendable, CustomStringConvertible {
        /// Not STUN at all, or a header that cannot be answered.
        case malformed(StunDecodingError)
        /// Indications get no response (RFC 8489 §6.3.2).
        case indication
        /// Responses are not for a server.
        case response

        public var description: String {
            switch self {
            case .malformed(let error): "\(error)"
            case .indication: "indication"
            case .response: "unexpected response"
            }
        }
    }

    public enum Outcome: Hashable, Sendable {
        /// Send these bytes back to the source.
        case respond([UInt8])
        case drop(DropReason)
    }

    public struct Statistics: Hashable, Sendable {
        public var requests = 0
        public var successResponses = 0
        /// 400 answers to malformed or unsupported requests.
        public var badRequests = 0
        /// 420 answers to unknown comprehension-required attributes.
        public var unknownAttributeResponses = 0
        public var droppedMalformed = 0
        public var droppedIndications = 0
        public var droppedResponses = 0
        /// Requests that repeated an attribute type (answered; the first occurrence counts).
        public var duplicateAttributes = 0
    }

    public let configuration: Configuration
    public private(set) var statistics = Statistics()

    /// SOFTWARE, encoded once with its header and padding.
    private let softwareAttribute: [UInt8]

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        if let software = configuration.software {
            let value = Array(utf8Prefix(software, maxBytes: StunLimits.software))
            var bytes: [UInt8] = []
            bytes.appendUInt16(StunAttributeType.software.rawValue)
            bytes.appendUInt16(UInt16(value.count))
            bytes.append(contentsOf: value)
            bytes.append(contentsOf: repeatElement(0, count: (4 - value.count % 4) % 4))
            softwareAttribute = bytes
        } else {
            softwareAttribute = []
        }
    }

    /// Handles one datagram.
    /// - Parameters:
    ///   - datagram: the bytes received.
    ///   - source: where they came from: the reflexive address to report.
    public mutating func handle(_ datagram: [UInt8], from source: TransportAddress) -> Outcome {
        let message: StunMessage
        do {
            message = try StunMessage(decoding: datagram, requireMagicCookie: !configuration.answerRFC3489)
        } catch {
            // RFC 8489 §6.3: a request whose header parsed but whose body did not gets 400;
            // a FINGERPRINT mismatch means the datagram is not for us at all (§14.7).
            if let header = error.header, header.type.messageClass == .request, error.code != .fingerprintMismatch {
                statistics.requests += 1
                statistics.badRequests += 1
                return .respond(errorResponse(
                    to: header.type.method, transactionID: header.transactionID,
                    prefix: header.hasMagicCookie ? nil : cookieField(datagram),
                    error: StunErrorCode(code: 400, reason: "Bad Request: \(error.code) in \(error.field)")))
            }
            statistics.droppedMalformed += 1
            return .drop(.malformed(error))
        }
        switch message.messageClass {
        case .indication:
            statistics.droppedIndications += 1
            return .drop(.indication)
        case .successResponse, .errorResponse:
            statistics.droppedResponses += 1
            return .drop(.response)
        case .request:
            break
        }
        statistics.requests += 1
        if !message.duplicateAttributeTypes.isEmpty { statistics.duplicateAttributes += 1 }

        // RFC 8489 §6.3.1.1: unknown comprehension-required attributes get 420 listing them.
        // RFC 5780 §6.1: a server without an alternate address answers CHANGE-REQUEST with 420;
        // RESPONSE-PORT is not supported here either (no responses to other ports).
        var unknown = message.unknownComprehensionRequired
        for attribute in message.attributes {
            switch attribute {
            case .changeRequest(let changeIP, let changePort) where changeIP || changePort:
                if !unknown.contains(.changeRequest) { unknown.append(.changeRequest) }
            case .responsePort:
                if !unknown.contains(.responsePort) { unknown.append(.responsePort) }
            default:
                break
            }
        }
        if !unknown.isEmpty {
            statistics.unknownAttributeResponses += 1
            return .respond(errorResponse(
                to: message.method, transactionID: message.transactionID, prefix: message.rfc3489TransactionPrefix,
                error: .unknownAttribute, extra: [.unknownAttributes(unknown)]))
        }
        guard message.method == .binding else {
            statistics.badRequests += 1
            return .respond(errorResponse(
                to: message.method, transactionID: message.transactionID, prefix: message.rfc3489TransactionPrefix,
                error: StunErrorCode(code: 400, reason: "Bad Request: only Binding is served here")))
        }

        statistics.successResponses += 1
        if message.hasMagicCookie {
            return .respond(successResponse(transactionID: message.transactionID, source: source))
        }
        // RFC 8489 §12.2: an RFC 3489 client understands only MAPPED-ADDRESS; echo its 128-bit id.
        let response = StunMessage(
            method: .binding, messageClass: .successResponse, transactionID: message.transactionID,
            attributes: [.mappedAddress(source)], rfc3489TransactionPrefix: message.rfc3489TransactionPrefix)
        return .respond(response.encoded())
    }

    /// The success response, written straight into one buffer: this is the hot path of the
    /// server (one allocation per answer). Same bytes as encoding a ``StunMessage`` with
    /// XOR-MAPPED-ADDRESS, SOFTWARE and FINGERPRINT.
    private func successResponse(transactionID: TransactionID, source: TransportAddress) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(20 + 24 + softwareAttribute.count + 8)
        out.appendUInt16(StunMessageType(method: .binding, messageClass: .successResponse).rawValue)
        out.appendUInt16(0)
        out.appendUInt32(stunMagicCookie)
        out.appendUInt64(transactionID.high)
        out.appendUInt32(transactionID.low)
        out.appendUInt16(StunAttributeType.xorMappedAddress.rawValue)
        out.appendUInt16(source.ip.family == .ipv4 ? 8 : 20)
        encodeAddress(source, xor: transactionID, into: &out)
        out.append(contentsOf: softwareAttribute)
        if configuration.fingerprint {
            let value = StunFingerprint.compute(out[...], lengthFieldValue: out.count - 20 + 8)
            out.appendUInt16(StunAttributeType.fingerprint.rawValue)
            out.appendUInt16(4)
            out.appendUInt32(value)
        }
        out.setUInt16(UInt16(out.count - 20), at: 2)
        return out
    }

    private func cookieField(_ datagram: [UInt8]) -> UInt32 { datagram[...].readUInt32(at: 4) }

    private func errorResponse(
        to method: StunMethod, transactionID: TransactionID, prefix: UInt32?, error: StunErrorCode,
        extra: [StunAttribute] = []
    ) -> [UInt8] {
        var attributes: [StunAttribute] = [.errorCode(error)] + extra
        if prefix == nil, let software = configuration.software { attributes.append(.software(software)) }
        let response = StunMessage(
            method: method, messageClass: .errorResponse, transactionID: transactionID, attributes: attributes,
            rfc3489TransactionPrefix: prefix)
        return response.encoded(fingerprint: prefix == nil && configuration.fingerprint)
    }
}
