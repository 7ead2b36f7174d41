public import NIOCore
public import STUNCore

/// Learns server-reflexive addresses (RFC 8445 §5.1.1.2): a STUN Binding request from each local
/// base to each STUN server, retransmitted per RFC 8489 §6.2.1; the XOR-MAPPED-ADDRESS of the
/// answer is the candidate's address and the base's address its related address.
///
/// Sans-IO: the caller sends what ``pollTransmit()`` returns from the named base, feeds responses
/// with ``handleResponse(_:from:on:)`` and calls ``handleTimeout(now:)`` at ``nextTimeout()``.
/// Each query ends in exactly one ``Event``; queries run in parallel and never wait for each
/// other, so one slow server delays no other candidate (results trickle).
public struct ServerReflexiveGatherer<Base: Hashable & Sendable>: Sendable {
    /// A query's result.
    public enum Event: Hashable, Sendable {
        /// The server saw `base` as `mapped`.
        case mapped(base: Base, server: TransportAddress, mapped: TransportAddress)
        /// The server answered with an error, an answer without a mapped address, or not at all.
        case failed(base: Base, server: TransportAddress, reason: String)
    }

    /// A datagram to send from `base` to `server`.
    public struct Transmit: Hashable, Sendable {
        public let base: Base
        public let server: TransportAddress
        public let bytes: [UInt8]
    }

    private struct Query: Sendable {
        let base: Base
        let server: TransportAddress
        var transaction: StunClientTransaction
    }

    /// Retransmission schedule for gathering. RFC 8489's full 39.5 s would hold gathering open for
    /// long after checks began; the default gives up after about 3 s (sends at 0, 0.25, 0.75,
    /// 1.75 s, then waits 5×RTO).
    public var transactionConfiguration: StunClientTransaction.Configuration
    private var queries: [TransactionID: Query] = [:]
    private var transmits: [Transmit] = []
    private var events: [Event] = []

    public init(
        transactionConfiguration: StunClientTransaction.Configuration = .init(
            initialRTO: .milliseconds(250), maxTransmissions: 4, lastWaitMultiplier: 5)
    ) {
        self.transactionConfiguration = transactionConfiguration
    }

    /// True when no query is outstanding.
    public var isIdle: Bool { queries.isEmpty }

    /// Starts a query from `base` to `server`.
    public mutating func start<G: RandomNumberGenerator>(base: Base, server: TransportAddress, now: NIODeadline, using generator: inout G) {
        let id = TransactionID.random(using: &generator)
        let request = StunMessage(method: .binding, messageClass: .request, transactionID: id, attributes: [])
        var transaction = StunClientTransaction(message: request, fingerprint: true, configuration: transactionConfiguration, now: now)
        transaction.handleTimeout(now: now)
        if let bytes = transaction.pollTransmit() { transmits.append(Transmit(base: base, server: server, bytes: bytes)) }
        queries[id] = Query(base: base, server: server, transaction: transaction)
    }

    /// Offers a decoded STUN message that arrived on `base` from `source`.
    /// - Returns: true when it answered one of this gatherer's queries (the caller need not pass
    ///   it to anyone else).
    @discardableResult
    public mutating func handleResponse(_ message: StunMessage, from source: TransportAddress, on base: Base) -> Bool {
        guard message.method == .binding, message.messageClass.isResponse,
            var query = queries[message.transactionID], query.base == base, query.server == source
        else { return false }
        query.transaction.handleResponse(message)
        queries.removeValue(forKey: message.transactionID)
        if message.messageClass == .successResponse, let mapped = message.xorMappedAddress ?? message.mappedAddress {
            events.append(.mapped(base: base, server: source, mapped: mapped))
        } else if let error = message.errorCode {
            events.append(.failed(base: base, server: source, reason: "error \(error.code) \(error.reason)"))
        } else {
            events.append(.failed(base: base, server: source, reason: "response without a mapped address"))
        }
        return true
    }

    /// Advances retransmissions and timeouts.
    public mutating func handleTimeout(now: NIODeadline) {
        for (id, var query) in queries {
            query.transaction.handleTimeout(now: now)
            if let bytes = query.transaction.pollTransmit() {
                transmits.append(Transmit(base: query.base, server: query.server, bytes: bytes))
            }
            if query.transaction.state == .timedOut {
                queries.removeValue(forKey: id)
                events.append(.failed(base: query.base, server: query.server, reason: "no answer"))
            } else {
                queries[id] = query
            }
        }
    }

    /// Stops every query from `base` (its socket closed); they end without events.
    public mutating func cancel(base: Base) {
        queries = queries.filter { $0.value.base != base }
        transmits.removeAll { $0.base == base }
    }

    public mutating func pollTransmit() -> Transmit? { transmits.isEmpty ? nil : transmits.removeFirst() }
    public mutating func pollEvent() -> Event? { events.isEmpty ? nil : events.removeFirst() }
    public func nextTimeout() -> NIODeadline? { queries.values.compactMap { $0.transaction.nextTimeout() }.min() }
}
