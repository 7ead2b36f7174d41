public import STUNCore

/// What a ``TurnClient`` reports through ``TurnClient/pollEvent()``.
public enum TurnEvent: Hashable, Sendable {
    /// The Allocate succeeded (RFC 8656 §7.3): the relayed address (a relayed candidate), the
    /// client's address as the server saw it (a server-reflexive candidate, if the server sent
    /// XOR-MAPPED-ADDRESS) and the granted lifetime in seconds.
    case allocated(relayed: TransportAddress, mapped: TransportAddress?, lifetime: UInt32)
    /// A Refresh succeeded (RFC 8656 §8); the allocation now lasts `lifetime` seconds more.
    case refreshed(lifetime: UInt32)
    /// A permission for the peer's IP is installed (first time only, not on each refresh; RFC 8656 §9).
    case permissionCreated(IPAddress)
    /// A CreatePermission (or its refresh) failed; data to and from that IP is no longer relayed.
    case permissionFailed(IPAddress, TurnError)
    /// A channel is bound to the peer (first time only, RFC 8656 §12); sends to it now use ChannelData.
    case channelBound(peer: TransportAddress, channel: UInt16)
    /// A ChannelBind (or its refresh) failed; sends to the peer fall back to Send indications.
    case channelBindFailed(peer: TransportAddress, TurnError)
    /// Bytes a permitted peer sent to the relayed address (Data indication §11.4 or ChannelData §12.6).
    case data(from: TransportAddress, bytes: [UInt8])
    /// The allocation could not be made or was lost; the client is finished.
    case failed(TurnError)
    /// ``TurnClient/close(now:)`` completed: the allocation was deleted (or never existed).
    case closed
}

/// Counters a ``TurnClient`` keeps; none of them ever decreases.
public struct TurnStatistics: Hashable, Sendable {
    /// Requests started, not counting retransmissions or retries after 401/438.
    public var requestsStarted = 0
    /// Datagrams or frames handed out by ``TurnClient/pollTransmit()``.
    public var messagesSent = 0
    /// Retransmissions of requests over UDP (RFC 8489 §6.2.1).
    public var retransmissions = 0
    /// Requests repeated with a new nonce after 438 Stale Nonce (RFC 8489 §9.2.5).
    public var staleNonceRetries = 0
    /// Successful Refresh transactions (RFC 8656 §8).
    public var allocationRefreshes = 0
    /// Successful CreatePermission refreshes (not the first installation).
    public var permissionRefreshes = 0
    /// Successful ChannelBind refreshes (not the first binding).
    public var channelRefreshes = 0
    /// Send indications sent (RFC 8656 §11.1).
    public var sendIndicationsSent = 0
    /// ChannelData messages sent (RFC 8656 §12.5).
    public var channelDataSent = 0
    /// Application bytes sent towards peers, either way.
    public var bytesSent = 0
    /// Data indications accepted (RFC 8656 §11.4).
    public var dataIndicationsReceived = 0
    /// ChannelData messages accepted (RFC 8656 §12.6).
    public var channelDataReceived = 0
    /// Application bytes received from peers, either way.
    public var bytesReceived = 0
    /// Input that decoded as neither STUN nor ChannelData.
    public var malformedDropped = 0
    /// Responses whose integrity did not verify, dropped (RFC 8489 §9.2.5).
    public var unauthenticatedDropped = 0
    /// Responses that matched no outstanding request (late retransmissions, strays).
    public var unmatchedDropped = 0
    /// Data from a peer IP without a permission (RFC 8656 §9), or on a channel not bound.
    public var unpermittedDropped = 0
    /// STUN messages that are not responses or Data indications.
    public var unexpectedDropped = 0
    /// Outgoing data dropped: no allocation, the permission failed or its queue was full.
    public var sendsDropped = 0

    public init() {}
}
