public import NIOCore

/// Settings of one data-channel association. The defaults suit a LAN or loopback path between
/// a browser and the desktop; every value is documented with the reason for it.
public struct SCTPAssociationConfiguration: Sendable, Hashable {
    /// Our SCTP port, `a=sctp-port` in our SDP (RFC 8841 §5; WebRTC uses 5000).
    public var localPort: UInt16 = 5000
    /// The peer's SCTP port from its SDP.
    public var remotePort: UInt16 = 5000
    /// The largest message we accept, announced as `a=max-message-size` (RFC 8841 §6).
    /// Larger incoming messages are dropped and reported. 256 KiB, as Chromium announces.
    public var localMaxMessageSize: Int = 262_144
    /// The peer's `a=max-message-size`; 0 means "any size" (RFC 8841 §6.1). When the peer's
    /// SDP has none, RFC 8841 §6.1 says to assume 64 KiB, which is the default here.
    public var remoteMaxMessageSize: Int = 65_536
    /// Streams offered in INIT each way (OS and MIS, RFC 4960 §3.3.2). Stream ids are channel
    /// ids (RFC 8832 §6), so this bounds the channels; 1024 is plenty for Pod Arcade.
    public var outboundStreams: UInt16 = 1024
    public var inboundStreams: UInt16 = 1024
    /// RTO.Initial (RFC 4960 §15 says 3 s for the Internet). 200 ms: the first INIT and the
    /// first data go over a path ICE just proved, usually a LAN.
    public var rtoInitial: TimeAmount = .milliseconds(200)
    /// RTO.Min (RFC 4960: 1 s). 50 ms: RTO = SRTT + 4·RTTVAR (§6.3.1) stays above the real RTT
    /// on slower paths anyway; the floor only matters on a LAN, where a lost input event must
    /// not wait a second. Sparse input traffic rarely triggers fast retransmit, so the RTO is
    /// what recovers a lost keypress.
    public var rtoMin: TimeAmount = .milliseconds(50)
    /// RTO.Max (RFC 4960: 60 s). 3 s: after that the game is unplayable anyway, and the
    /// association fails sooner (``maxRetransmissions``) when the peer vanished.
    public var rtoMax: TimeAmount = .milliseconds(3000)
    /// Association.Max.Retrans and Path.Max.Retrans (RFC 4960 §8.1, §8.2; defaults 10 and 5):
    /// consecutive retransmission timeouts before the peer is declared unreachable and the
    /// association aborts — about 15 s of silence with the RTOs above. Both are set to this
    /// one value: with a single path (RFC 8831 §6.1), a path limit below the association's
    /// marks the path inactive while the association lives on, and usrsctp then sends no data
    /// until a heartbeat, 30 s later, revives the path (the note at the end of RFC 4960 §8.2).
    /// A peer that was only busy for a second or two (a slow receiver under load) must not
    /// stall the channel for half a minute.
    public var maxRetransmissions: UInt16 = 10
    /// The SCTP packet size. Packets travel in DTLS records inside UDP (RFC 8261 §5); 1200
    /// leaves room for DTLS (up to ~80 bytes), UDP, IPv6 and TURN headers under a 1280-byte
    /// minimum IPv6 MTU. Path MTU discovery is off.
    public var pathMTU: UInt32 = 1200
    /// Delayed SACK time (RFC 4960 §6.2, default 200 ms). 20 ms frees the peer's send buffer
    /// and grows its congestion window sooner; every second packet is acknowledged at once.
    public var delayedAck: TimeAmount = .milliseconds(20)
    /// usrsctp's send buffer. A message must fit whole (sends are atomic, not explicit-EOR), so
    /// this is at least four maximum-size messages; beyond it messages wait in the channel's
    /// queue and count in `bufferedAmount`.
    public var sendBufferSize: Int = 1_048_576
    /// usrsctp's receive buffer (the receiver window announced to the peer). Raised to at least
    /// 2 × `localMaxMessageSize` + 64 KiB: usrsctp hands over messages in pieces above half
    /// of it, and other messages of the same stream can come between those pieces.
    public var receiveBufferSize: Int = 1_048_576
    /// How often the owner should call `handleTimeout(now:)`: usrsctp has no "next timer"
    /// query, so its timer wheel is ticked at this period (the threaded usrsctp ticks every
    /// 10 ms too).
    public var timerInterval: TimeAmount = .milliseconds(10)

    public init() {}
}
