public import NIOCore

/// Retransmission and give-up times for the DTLS handshake.
///
/// RFC 6347 §4.2.4.1: an initial timer of 1 second that at least doubles on every
/// retransmission, up to 60 seconds. The handshake gives up after ``handshakeTimeout`` in
/// total (default 30 s: retransmissions at 1, 3, 7 and 15 s, with the last wait running to 30 s),
/// which also bounds how long a server waits for the first ClientHello.
public struct DTLSTimers: Sendable, Hashable {
    /// The wait before the first retransmission of a flight.
    public var initialRetransmit: TimeAmount
    /// The longest wait between retransmissions.
    public var maximumRetransmit: TimeAmount
    /// From ``DTLSEndpoint/start(now:)`` to `.failed(.handshakeTimeout)`.
    public var handshakeTimeout: TimeAmount

    public init(
        initialRetransmit: TimeAmount = .seconds(1),
        maximumRetransmit: TimeAmount = .seconds(60),
        handshakeTimeout: TimeAmount = .seconds(30)
    ) {
        self.initialRetransmit = initialRetransmit
        self.maximumRetransmit = maximumRetransmit
        self.handshakeTimeout = handshakeTimeout
    }
}
