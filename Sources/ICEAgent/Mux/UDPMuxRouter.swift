public import NIOCore
public import STUNCore

/// Decides which ICE session a datagram on the shared `WEBRTC_PORT` socket belongs to.
///
/// Sans-IO: it holds only tables. Binding requests are routed by the local ufrag in their
/// USERNAME (RFC 8445 §7.3: `<receiver ufrag>:<sender ufrag>`); everything else — responses,
/// DTLS, SRTP — by the remote address, which a session confirms only after its agent has
/// authenticated a check from that address ( ``confirm(_:for:)``). A stranger who guesses a
/// ufrag reaches that session's agent, which rejects the check for its MESSAGE-INTEGRITY, and
/// gains no address entry, so no session can be stolen by a forged packet.
public struct UDPMuxRouter: Sendable {
    /// A session sharing the socket; the caller chooses the numbers.
    public struct SessionID: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int
        public init(_ rawValue: Int) { self.rawValue = rawValue }
        public var description: String { "session \(rawValue)" }
    }

    /// Where a datagram goes.
    public enum Route: Equatable, Sendable {
        case session(SessionID)
        case drop(DropReason)
    }

    /// Why a datagram was dropped.
    public enum DropReason: Equatable, Sendable, CaseIterable {
        /// A Binding request whose USERNAME names no registered ufrag.
        case unknownUfrag
        /// A response or non-STUN packet from an address no session has confirmed.
        case unknownAddress
        /// Looked like STUN but its header or attributes do not parse.
        case malformed
    }

    /// Counters; every datagram lands in exactly one of them.
    public struct Statistics: Hashable, Sendable {
        public var routedByUfrag = 0
        public var routedByAddress = 0
        public var routedByTransaction = 0
        public var droppedUnknownUfrag = 0
        public var droppedUnknownAddress = 0
        public var droppedMalformed = 0
        public var total: Int {
            routedByUfrag + routedByAddress + routedByTransaction + droppedUnknownUfrag + droppedUnknownAddress + droppedMalformed
        }
    }

    public private(set) var statistics = Statistics()
    private var sessionsByUfrag: [[UInt8]: SessionID] = [:]
    private var sessionsByAddress: [TransportAddress: SessionID] = [:]
    private var ufragsBySession: [SessionID: Set<[UInt8]>] = [:]
    private var addressesBySession: [SessionID: Set<TransportAddress>] = [:]
    /// Requests a session sent to servers (STUN gathering), whose responses come from addresses
    /// no check has confirmed: routed once by transaction id.
    private var sessionsByTransaction: [TransactionID: SessionID] = [:]

    public init() {}

    /// The sessions currently registered.
    public var sessionCount: Int { ufragsBySession.count }

    /// Registers a local ufrag for a session (a session has several after an ICE restart,
    /// RFC 8445 §9, until it ``unregister(ufrag:)``s the old one).
    /// - Returns: false when another session already uses this ufrag (the caller must pick another).
    @discardableResult
    public mutating func register(ufrag: String, for session: SessionID) -> Bool {
        let key = Array(ufrag.utf8)
        if let owner = sessionsByUfrag[key], owner != session { return false }
        sessionsByUfrag[key] = session
        ufragsBySession[session, default: []].insert(key)
        return true
    }

    /// Forgets one ufrag (for example the one replaced by an ICE restart).
    public mutating func unregister(ufrag: String) {
        let key = Array(ufrag.utf8)
        guard let session = sessionsByUfrag.removeValue(forKey: key) else { return }
        ufragsBySession[session]?.remove(key)
    }

    /// Records that `address` proved to belong to `session` (an authenticated check or response
    /// arrived from it). An address confirmed by another session moves to this one.
    public mutating func confirm(_ address: TransportAddress, for session: SessionID) {
        guard ufragsBySession[session] != nil else { return }
        if let previous = sessionsByAddress.updateValue(session, forKey: address), previous != session {
            addressesBySession[previous]?.remove(address)
        }
        addressesBySession[session, default: []].insert(address)
    }

    /// Routes the response to a request `session` sent from the shared socket to a server (for
    /// example a STUN Binding request for a server-reflexive candidate) to that session, once.
    public mutating func expectResponse(to transactionID: TransactionID, for session: SessionID) {
        guard ufragsBySession[session] != nil else { return }
        sessionsByTransaction[transactionID] = session
    }

    /// Stops waiting for a response (the request timed out).
    public mutating func forgetResponse(to transactionID: TransactionID) {
        sessionsByTransaction.removeValue(forKey: transactionID)
    }

    /// Removes a session with all its ufrags and addresses.
    public mutating func unregister(_ session: SessionID) {
        sessionsByTransaction = sessionsByTransaction.filter { $0.value != session }
        for key in ufragsBySession.removeValue(forKey: session) ?? [] { sessionsByUfrag.removeValue(forKey: key) }
        for address in addressesBySession.removeValue(forKey: session) ?? [] {
            if sessionsByAddress[address] == session { sessionsByAddress.removeValue(forKey: address) }
        }
    }

    /// The session a confirmed address belongs to, if any.
    public func session(for address: TransportAddress) -> SessionID? { sessionsByAddress[address] }

    /// Routes one datagram as the transport receives it (specialised here, not at the caller).
    public mutating func route(_ bytes: ByteBufferView, from source: TransportAddress) -> Route {
        routeBytes(bytes, from: source)
    }

    /// Routes one datagram.
    public mutating func route(_ bytes: [UInt8], from source: TransportAddress) -> Route {
        routeBytes(bytes, from: source)
    }

    mutating func routeBytes<Bytes: RandomAccessCollection>(_ bytes: Bytes, from source: TransportAddress) -> Route
    where Bytes.Element == UInt8, Bytes.Index == Int {
        switch StunUsernamePeek.localUfrag(bytes) {
        case .bindingRequest(let ufrag):
            if let session = sessionsByUfrag[ufrag] {
                statistics.routedByUfrag += 1
                return .session(session)
            }
            statistics.droppedUnknownUfrag += 1
            return .drop(.unknownUfrag)
        case .malformed:
            statistics.droppedMalformed += 1
            return .drop(.malformed)
        case .otherStun:
            if !sessionsByTransaction.isEmpty, let id = TransactionID(bytes: bytes[(bytes.startIndex + 8)..<(bytes.startIndex + 20)]),
                let session = sessionsByTransaction.removeValue(forKey: id)
            {
                statistics.routedByTransaction += 1
                return .session(session)
            }
            fallthrough
        case .notStun:
            if let session = sessionsByAddress[source] {
                statistics.routedByAddress += 1
                return .session(session)
            }
            statistics.droppedUnknownAddress += 1
            return .drop(.unknownAddress)
        }
    }
}
