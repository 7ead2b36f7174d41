public import NIOCore

/// Something a ``DTLSEndpoint`` reports to its owner.
public enum DTLSEvent: Sendable, Hashable {
    /// The handshake finished, the peer's certificate matched the SDP fingerprint, and SRTP
    /// keys were exported (RFC 5764 §4.2).
    case connected(SRTPKeyingMaterial)
    /// One decrypted application-data record (SCTP packets for data channels, RFC 8261).
    case applicationData(ByteBuffer)
    /// The peer sent close_notify (RFC 5246 §7.2.1).
    case closed
    /// The association failed; the endpoint accepts nothing more.
    case failed(DTLSError)
}

/// What one call into a ``DTLSEndpoint`` produced: datagrams to send, in order, then events,
/// and the deadline at which to call ``DTLSEndpoint/handleTimeout(now:)``.
public struct DTLSOutput: Sendable {
    /// Each element is one UDP datagram of at most the endpoint's MTU.
    public var datagrams: [ByteBuffer]
    public var events: [DTLSEvent]
    /// Nil when no timer is running.
    public var nextTimeout: NIODeadline?

    public init(datagrams: [ByteBuffer] = [], events: [DTLSEvent] = [], nextTimeout: NIODeadline? = nil) {
        self.datagrams = datagrams
        self.events = events
        self.nextTimeout = nextTimeout
    }
}
