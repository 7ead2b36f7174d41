public import NIOCore

/// Opus over RTP (RFC 7587): one Opus packet per RTP payload, 48 kHz timestamps whatever the
/// encoder's internal rate (§4.1), and the marker bit on the first packet of a talkspurt
/// (RFC 3551 §4.1) when DTX leaves gaps.
public struct OpusPacketizer: Sendable {
    /// RFC 7587 §4.1: the RTP clock rate is always 48000.
    public static let clockRate: UInt32 = 48_000

    /// Whether to set the marker on the first packet after a gap in timestamps (silence
    /// suppressed by DTX) and on the very first packet.
    public var marksTalkspurts: Bool
    /// Opus packets rejected (empty, or longer than `maxPayloadSize`).
    public private(set) var rejectedFrames = 0
    /// The largest payload accepted.
    public var maxPayloadSize: Int

    private var expectedTimestamp: UInt32?

    public init(marksTalkspurts: Bool = true, maxPayloadSize: Int = 1200) {
        self.marksTalkspurts = marksTalkspurts
        self.maxPayloadSize = maxPayloadSize
    }

    /// Whether the packet for an Opus packet at `rtpTimestamp` gets the marker bit, given the
    /// previous one; remembers where the next packet is expected.
    /// - Returns: nil if the Opus packet is empty or too large (counted and dropped).
    public mutating func marker(for opus: ByteBuffer, rtpTimestamp: UInt32) -> Bool? {
        guard opus.readableBytes > 0, opus.readableBytes <= maxPayloadSize else {
            rejectedFrames += 1
            return nil
        }
        let marker = marksTalkspurts && expectedTimestamp != rtpTimestamp
        if let samples = OpusPacketDuration.samples(of: opus) {
            expectedTimestamp = rtpTimestamp &+ samples
        } else {
            expectedTimestamp = nil
        }
        return marker
    }

    /// The Opus packet carried by an RTP payload (the whole payload, RFC 7587 §4.2).
    /// - Throws: `RTPParseError.Code.emptyPayload` for an empty payload.
    public static func opusPacket(from packet: RTPPacket) throws(RTPParseError) -> ByteBuffer {
        guard packet.payload.readableBytes > 0 else {
            throw RTPParseError(.emptyPayload, field: "payload", offset: 0)
        }
        return packet.payload
    }
}

/// The duration of an Opus packet from its TOC byte and frame count (RFC 6716 §3.1, §3.2).
public enum OpusPacketDuration {
    /// Frame size in 48 kHz samples for each of the 32 TOC configurations (RFC 6716 §3.1
    /// Table 2): SILK 10/20/40/60 ms, Hybrid 10/20 ms, CELT 2.5/5/10/20 ms.
    private static let frameSamples: [UInt32] = [
        480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880,
        480, 960, 480, 960,
        120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960,
    ]

    /// Samples at 48 kHz in `opus`, or nil if the packet is empty, a code 3 packet lacks its
    /// frame count byte, or the total exceeds the 120 ms RFC 6716 allows.
    public static func samples(of opus: ByteBuffer) -> UInt32? {
        guard let toc = opus.getInteger(at: opus.readerIndex, as: UInt8.self) else { return nil }
        let perFrame = frameSamples[Int(toc >> 3)]
        let frames: UInt32
        switch toc & 0x3 {
        case 0: frames = 1
        case 1, 2: frames = 2
        default:
            guard let count = opus.getInteger(at: opus.readerIndex + 1, as: UInt8.self) else { return nil }
            frames = UInt32(count & 0x3F)
        }
        let total = perFrame * frames
        return total == 0 || total > 5760 ? nil : total
    }
}
