import NIOCore
import STUNCore

/// A local candidate and the base it belongs to.
struct LocalCandidate: Sendable {
    var id: Int
    var candidate: IceCandidate
    var base: IceBaseID
}

/// A remote candidate; `address` is nil while its hostname is being resolved.
struct RemoteCandidate: Sendable {
    var id: Int
    var candidate: IceCandidate
    var address: TransportAddress?
}

/// Candidate-pair states (RFC 8445 §6.1.2.6).
enum PairState: Sendable, Hashable {
    case frozen, waiting, inProgress, succeeded, failed
}

/// A pair in the checklist. Candidates are referred to by id (RFC 8445 §6.1.2).
struct CandidatePair: Sendable {
    var id: Int
    var localID: Int
    var remoteID: Int
    var base: IceBaseID
    var remoteAddress: TransportAddress
    var priority: UInt64
    /// The local and remote foundations joined (RFC 8445 §6.1.2.6).
    var foundation: String
    var state: PairState = .frozen
    /// The local candidate the check's XOR-MAPPED-ADDRESS matched, or the peer-reflexive one
    /// it created (RFC 8445 §7.2.5.3.1); set once the pair is valid.
    var validLocalID: Int?
    /// Nominated (RFC 8445 §8.1.1): USE-CANDIDATE check succeeded, or the controlling peer
    /// nominated it and our own check succeeded.
    var nominated = false
    /// The controlling peer sent USE-CANDIDATE on this pair (§7.3.1.5).
    var remoteNominated = false
    /// The next check on this pair carries USE-CANDIDATE (controlling, §8.1.1).
    var nominating = false
    var lastResponseAt: NIODeadline?
}

/// A check (or consent check) in flight, with its retransmission schedule (RFC 8489 §6.2.1).
struct CheckTransaction: Sendable {
    var id: TransactionID
    /// The checklist pair, or nil for a consent check on the selected pair's snapshot.
    var pairID: Int?
    var base: IceBaseID
    var destination: TransportAddress
    var bytes: [UInt8]
    /// The remote password the request was signed with: the response must be signed with it too (RFC 8489 §9.1.4).
    var key: StunKey
    var role: IceRole
    var useCandidate: Bool
    var isConsent: Bool
    var transmissions = 1
    var rto: TimeAmount
    /// The next retransmission, or, after the last one, when the transaction times out.
    var nextEventAt: NIODeadline
}

/// The selected pair and its consent state (RFC 7675).
struct Selection: Sendable {
    var pair: IceCandidatePair
    /// The checklist pair behind it; nil after an ICE restart flushed the checklist.
    var pairID: Int?
    /// False while the pair is only the best valid one (controlled role, before nomination):
    /// checks go on and the state cannot be `completed`.
    var nominated: Bool = true
    /// Credentials for consent checks on it (kept across a restart until a new pair is selected).
    var remoteCredentials: IceCredentials
    var localCredentials: IceCredentials
    var lastResponseAt: NIODeadline
    var nextConsentAt: NIODeadline
}
