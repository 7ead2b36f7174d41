public import NIOCore

/// A sans-IO STUN client transaction (RFC 8489 §6.2).
///
/// Give it the encoded request and the current time; it says when to (re)send and when it has
/// timed out. Over UDP the request is sent at 0, RTO, 3·RTO, 7·RTO, … (the interval doubles) up
/// to Rc transmissions, and the transaction fails Rm·RTO after the last one (§6.2.1: with the
/// defaults, sends at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s and failure at 39.5 s). Over TCP or TLS
/// the request is sent once and fails after Ti (§6.2.2, 39.5 s).
public struct StunClientTransaction: Sendable {
    public struct Configuration: Hashable, Sendable {
        /// Initial retransmission timeout (RTO; §6.2.1 recommends 500 ms).
        public var initialRTO: TimeAmount
        /// Rc: total transmissions over UDP (§6.2.1: 7).
        public var maxTransmissions: Int
        /// Rm: the wait after the last transmission, in multiples of RTO (§6.2.1: 16).
        public var lastWaitMultiplier: Int
        /// Ti for reliable transports (§6.2.2: 39.5 s).
        public var reliableTimeout: TimeAmount
        /// True over TCP or TLS: no retransmissions.
        public var reliable: Bool

        public init(
            initialRTO: TimeAmount = .milliseconds(500), maxTransmissions: Int = 7, lastWaitMultiplier: Int = 16,
            reliableTimeout: TimeAmount = .milliseconds(39_500), reliable: Bool = false
        ) {
            self.initialRTO = initialRTO
            self.maxTransmissions = maxTransmissions
            self.lastWaitMultiplier = lastWaitMultiplier
            self.reliableTimeout = reliableTimeout
            self.reliable = reliable
        }
    }

    public enum State: Hashable, Sendable {
        case pending
        /// A success or error response arrived (§6.3.3, §6.3.4).
        case completed(StunMessage)
        /// No response within the timeouts (§6.2.1: "the client SHOULD consider the transaction to have failed").
        case timedOut
        case cancelled
    }

    public let transactionID: TransactionID
    public let request: [UInt8]
    public let configuration: Configuration
    public private(set) var state: State = .pending
    /// How many times the request has been handed out for sending.
    public private(set) var transmissions = 0

    private var nextSend: NIODeadline?
    private var deadline: NIODeadline?
    private var currentRTO: TimeAmount
    /// Set by ``handleTimeout(now:)`` when a transmission is due, cleared by ``pollTransmit()``.
    private var sendDue = false

    /// - Parameters:
    ///   - request: the encoded request; its transaction id must be `transactionID`.
    ///   - now: when the transaction starts; the first transmission is due at once.
    public init(request: [UInt8], transactionID: TransactionID, configuration: Configuration = .init(), now: NIODeadline) {
        self.request = request
        self.transactionID = transactionID
        self.configuration = configuration
        self.currentRTO = configuration.initialRTO
        self.nextSend = now
    }

    /// Convenience: encodes `message` (with FINGERPRINT and the given integrity key) and starts.
    public init(message: StunMessage, integrity: StunKey? = nil, fingerprint: Bool = true,
                configuration: Configuration = .init(), now: NIODeadline) {
        self.init(request: message.encoded(messageIntegrity: integrity, fingerprint: fingerprint),
                  transactionID: message.transactionID, configuration: configuration, now: now)
    }

    /// The bytes to send now, if a (re)transmission is due. Call after ``handleTimeout(now:)``.
    public mutating func pollTransmit() -> [UInt8]? {
        guard state == .pending, sendDue else { return nil }
        sendDue = false
        return request
    }

    /// When ``handleTimeout(now:)`` must next be called, or nil when the transaction is over.
    public func nextTimeout() -> NIODeadline? {
        guard state == .pending else { return nil }
        return [nextSend, deadline].compactMap { $0 }.min()
    }

    /// Advances timers: schedules a retransmission or ends the transaction.
    public mutating func handleTimeout(now: NIODeadline) {
        guard state == .pending else { return }
        if let due = nextSend, now >= due {
            transmissions += 1
            sendDue = true
            if configuration.reliable {
                nextSend = nil
                deadline = now + configuration.reliableTimeout
            } else if transmissions >= configuration.maxTransmissions {
                nextSend = nil
                deadline = now + configuration.initialRTO * Int64(configuration.lastWaitMultiplier)
            } else {
                nextSend = now + currentRTO
                currentRTO = currentRTO * 2
            }
            return
        }
        if let deadline, now >= deadline {
            state = .timedOut
            sendDue = false
        }
    }

    /// Offers a decoded message; a response with this transaction id ends the transaction.
    /// - Returns: true when the message belonged to this transaction.
    @discardableResult
    public mutating func handleResponse(_ message: StunMessage) -> Bool {
        guard state == .pending, message.transactionID == transactionID, message.messageClass.isResponse else { return false }
        state = .completed(message)
        sendDue = false
        return true
    }

    /// Stops retransmitting (§6.2.1: a client may cancel; late responses are then ignored).
    public mutating func cancel() {
        if state == .pending { state = .cancelled }
        sendDue = false
    }
}
