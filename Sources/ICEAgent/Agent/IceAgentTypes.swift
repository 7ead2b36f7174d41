public import STUNCore

/// The caller's name for one local socket or TURN allocation (a candidate's base, RFC 8445 §5.1.1).
///
/// The agent never learns whether a base is a UDP socket or a relay: transmits name the base,
/// and the caller sends from that socket or wraps the bytes for that allocation.
public struct IceBaseID: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int

    public init(_ rawValue: Int) { self.rawValue = rawValue }

    public var description: String { "base\(rawValue)" }
}

/// The agent's role (RFC 8445 §6.1.1): the controlling agent nominates.
public enum IceRole: String, Hashable, Sendable, CustomStringConvertible {
    case controlling
    case controlled

    public var description: String { rawValue }
}

/// Bytes to send from a base to a remote transport address.
public struct IceTransmit: Hashable, Sendable {
    public var base: IceBaseID
    public var destination: TransportAddress
    public var bytes: [UInt8]

    public init(base: IceBaseID, destination: TransportAddress, bytes: [UInt8]) {
        self.base = base
        self.destination = destination
        self.bytes = bytes
    }
}

/// Connection states, as `RTCIceConnectionState` names them (W3C webrtc-pc §5.6.4).
public enum IceConnectionState: String, Hashable, Sendable, CustomStringConvertible {
    /// Waiting for remote credentials and candidates.
    case new
    /// Checks are under way and nothing is selected yet.
    case checking
    /// A pair is selected and consent is fresh.
    case connected
    /// A pair is selected, the peer signalled its last candidate and no check is pending.
    case completed
    /// The selected pair has not had an authenticated response for a while (RFC 7675 §5.1).
    case disconnected
    /// Every pair failed, or consent expired.
    case failed
    /// ``IceAgent/close()`` was called.
    case closed

    public var description: String { rawValue }
}

/// A local and a remote candidate that can carry application data.
public struct IceCandidatePair: Hashable, Sendable, CustomStringConvertible {
    /// The local candidate; for a pair validated through a NAT, the peer-reflexive candidate
    /// the check discovered (RFC 8445 §7.2.5.3.1).
    public var local: IceCandidate
    public var remote: IceCandidate
    /// Where to send from.
    public var base: IceBaseID
    /// Where to send to (the remote candidate's resolved address).
    public var remoteAddress: TransportAddress
    /// RFC 8445 §6.1.2.3.
    public var priority: UInt64

    public var description: String {
        "\(local.type) \(local.address):\(local.port) (\(base)) -> \(remote.type) \(remoteAddress)"
    }
}

/// What the agent tells its owner.
public enum IceEvent: Hashable, Sendable {
    /// The connection state changed (sent only on change).
    case connectionStateChanged(IceConnectionState)
    /// The pair for application data changed; nil when there is none any more.
    case selectedPairChanged(IceCandidatePair?)
    /// A remote candidate names an mDNS host: resolve it and call
    /// ``IceAgent/resolvedHostname(_:to:now:)`` or ``IceAgent/hostnameResolutionFailed(_:)``.
    case resolveHostname(String)
    /// A role conflict (RFC 8445 §7.3.1.1, §7.2.5.1) switched the agent's role.
    case roleChanged(IceRole)
    /// No authenticated response on the selected pair for the consent timeout (RFC 7675 §5.1):
    /// stop sending application data.
    case consentExpired
}

/// What became of a received datagram.
public enum IceReceiveOutcome: Hashable, Sendable {
    /// A check or response for this agent, processed.
    case handled
    /// Not for this agent: not STUN, an unknown transaction, or a username of another agent.
    /// A shared-port demultiplexer may offer it elsewhere.
    case notForThisAgent
    /// For this agent but refused; counted in ``IceAgent/statistics``.
    case rejected(IceRejection)
}

/// Why a check or response was refused.
public struct IceRejection: Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case malformed, missingFingerprint, badFingerprint, badIntegrity, missingCredentials
        case unknownUsername, roleConflict, unexpectedSource, closed
    }
    private let base: Base
    private init(_ base: Base) { self.base = base }

    /// Not decodable as STUN (beyond the fingerprint).
    public static let malformed = IceRejection(.malformed)
    /// No FINGERPRINT attribute (RFC 8445 §7.2.2 requires one): dropped.
    public static let missingFingerprint = IceRejection(.missingFingerprint)
    /// FINGERPRINT does not match: dropped.
    public static let badFingerprint = IceRejection(.badFingerprint)
    /// MESSAGE-INTEGRITY does not verify: a request is answered 401, a response dropped.
    public static let badIntegrity = IceRejection(.badIntegrity)
    /// A request without USERNAME or MESSAGE-INTEGRITY: answered 400 (RFC 8489 §9.1.3).
    public static let missingCredentials = IceRejection(.missingCredentials)
    /// The username names an earlier ufrag of this agent (after an ICE restart): answered 401.
    public static let unknownUsername = IceRejection(.unknownUsername)
    /// A request lost the tie-breaker: answered 487 (RFC 8445 §7.3.1.1).
    public static let roleConflict = IceRejection(.roleConflict)
    /// A response from an address other than the request's destination (§7.2.5.2.1): pair failed.
    public static let unexpectedSource = IceRejection(.unexpectedSource)
    /// The agent is closed.
    public static let closed = IceRejection(.closed)

    public var description: String { "\(base)" }
}

/// Counters, for metrics and tests.
public struct IceStatistics: Hashable, Sendable {
    /// Connectivity checks sent, retransmissions included (consent checks too).
    public var checksSent = 0
    /// Of those, retransmissions.
    public var retransmissions = 0
    /// Consent freshness checks sent (RFC 7675).
    public var consentChecksSent = 0
    /// Authenticated checks received.
    public var checksReceived = 0
    /// Success and error responses sent.
    public var responsesSent = 0
    /// Authenticated responses received for our checks.
    public var responsesReceived = 0
    /// Requests or responses whose MESSAGE-INTEGRITY failed.
    public var integrityFailures = 0
    /// Messages dropped for a missing or wrong FINGERPRINT.
    public var fingerprintFailures = 0
    /// Requests refused because their username is not ours (or an old ufrag of ours).
    public var unknownUsernameDrops = 0
    /// Role conflicts seen (487 sent or received, or a role switch).
    public var roleConflicts = 0
    /// Malformed or unexpected messages dropped.
    public var malformedDrops = 0
    /// Check transactions that ended without a response.
    public var checkTimeouts = 0

    public init() {}
}
