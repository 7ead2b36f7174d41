/// Delivery of a data channel: ordering and partial reliability, as DCEP's channel type and
/// reliability parameter carry it (RFC 8832 §5.1) and as the W3C API exposes it.
public struct DataChannelReliability: Sendable, Hashable {
    /// Partial reliability (RFC 8831 §6.4); at most one limit, as the W3C API requires.
    public enum Limit: Sendable, Hashable {
        case none
        /// Abandon a message after this many retransmissions.
        case maxRetransmits(UInt32)
        /// Abandon a message this many milliseconds after it was first sent.
        case maxPacketLifeTime(milliseconds: UInt32)
    }

    public var ordered: Bool
    public var limit: Limit

    public init(ordered: Bool = true, limit: Limit = .none) {
        self.ordered = ordered
        self.limit = limit
    }

    /// Ordered and reliable, the default channel.
    public static let reliable = DataChannelReliability()

    /// RFC 8832 §5.1 channel type byte: 0x00/0x80 reliable, 0x01/0x81 limited retransmits,
    /// 0x02/0x82 timed; the high bit means unordered.
    public var channelType: UInt8 {
        let base: UInt8 =
            switch limit {
            case .none: 0x00
            case .maxRetransmits: 0x01
            case .maxPacketLifeTime: 0x02
            }
        return ordered ? base : base | 0x80
    }

    /// The reliability parameter: retransmissions, lifetime in ms, or 0 for reliable channels.
    public var reliabilityParameter: UInt32 {
        switch limit {
        case .none: 0
        case .maxRetransmits(let count): count
        case .maxPacketLifeTime(let milliseconds): milliseconds
        }
    }

    /// From a DCEP channel type and parameter; nil for an unknown channel type. RFC 8832 §5.1
    /// says the parameter is ignored for reliable channels.
    public init?(channelType: UInt8, reliabilityParameter: UInt32) {
        let ordered = channelType & 0x80 == 0
        switch channelType & 0x7F {
        case 0x00: self.init(ordered: ordered, limit: .none)
        case 0x01: self.init(ordered: ordered, limit: .maxRetransmits(reliabilityParameter))
        case 0x02: self.init(ordered: ordered, limit: .maxPacketLifeTime(milliseconds: reliabilityParameter))
        default: return nil
        }
    }

    /// The SCTP send parameters for a message on such a channel.
    var sctpReliability: SCTPReliability {
        switch limit {
        case .none: .reliable
        case .maxRetransmits(let count): .maxRetransmits(count)
        case .maxPacketLifeTime(let milliseconds): .maxLifetime(milliseconds: milliseconds)
        }
    }
}
