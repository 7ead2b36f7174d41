/// What a datagram on the shared ICE 5-tuple carries, told apart by its first bytes.
///
/// RFC 7983 §7 (updating RFC 5764 §5.1.2) assigns ranges of the first byte:
/// 0–3 STUN, 16–19 ZRTP, 20–63 DTLS, 64–79 TURN ChannelData, 128–191 RTP/RTCP.
/// RTP and RTCP share the range when rtcp-mux is in use; RFC 5761 §4 separates them by the
/// second byte (the RTCP packet type, or the RTP marker bit and payload type): 192–223 is RTCP.
public enum MediaPacketKind: Sendable, Hashable {
    case stun
    case zrtp
    case dtls
    case turnChannel
    case rtp
    case rtcp
    /// Empty, or a first byte in none of the ranges above: dropped and counted by the caller.
    case unknown

    /// Classifies `datagram` without copying it. A pure function: the same bytes always give
    /// the same answer.
    public static func classify<Bytes: Collection<UInt8>>(_ datagram: Bytes) -> MediaPacketKind {
        var iterator = datagram.makeIterator()
        guard let first = iterator.next() else { return .unknown }
        switch first {
        case 0...3: return .stun
        case 16...19: return .zrtp
        case 20...63: return .dtls
        case 64...79: return .turnChannel
        case 128...191:
            // RFC 5761 §4: RTCP packet types 192–223 (FIR 192 … XR 207, and the reserved
            // rest) collide with RTP payload types 64–95 once the marker bit is set, which is
            // why those payload types must not be used with rtcp-mux.
            guard let second = iterator.next() else { return .unknown }
            return (192...223).contains(second) ? .rtcp : .rtp
        default: return .unknown
        }
    }
}
