public import NIOCore

/// REMB: receiver estimated maximum bitrate (draft-alvestrand-rmcat-remb-03 §2.2), an
/// application layer feedback message (PSFB FMT 15) whose FCI starts with `REMB`.
public struct RTCPReceiverEstimatedMaxBitrate: Sendable, Hashable {
    public static let packetType: UInt8 = 206
    public static let format: UInt8 = 15
    static let identifier: UInt32 = 0x5245_4D42  // "REMB"

    public var senderSSRC: UInt32
    /// Bits per second (mantissa × 2^exponent; encoding rounds down to 18 significant bits).
    public var bitrate: UInt64
    /// The media sources the estimate applies to.
    public var ssrcs: [UInt32]

    public init(senderSSRC: UInt32, bitrate: UInt64, ssrcs: [UInt32]) {
        self.senderSSRC = senderSSRC
        self.bitrate = bitrate
        self.ssrcs = ssrcs
    }

    /// Whether a PSFB FMT 15 body is REMB rather than another application message.
    static func matches(_ body: RTCPBody) -> Bool {
        body.size >= 12 && body.u32(8) == identifier
    }

    static func decode(_ body: RTCPBody) throws(RTCPParseError) -> RTCPReceiverEstimatedMaxBitrate {
        try body.require(16, "fci")
        let count = Int(body.u8(12))
        let word = body.u32(12)
        let exponent = (word >> 18) & 0x3F
        let mantissa = UInt64(word & 0x3_FFFF)
        guard body.size >= 16 + 4 * count else { throw body.fail(.badItem, "numSSRC", at: 12) }
        // Large exponents overflow 64 bits: saturate.
        let bitrate = mantissa.leadingZeroBitCount < Int(exponent) ? UInt64.max : mantissa << exponent
        return RTCPReceiverEstimatedMaxBitrate(
            senderSSRC: body.u32(0), bitrate: bitrate, ssrcs: (0..<count).map { body.u32(16 + 4 * $0) })
    }

    public func encode(into buffer: inout ByteBuffer) {
        precondition(ssrcs.count <= 255)
        let header = RTCPHeaderWriter(count: Self.format, packetType: Self.packetType, into: &buffer)
        buffer.writeInteger(senderSSRC)
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(Self.identifier)
        var mantissa = bitrate
        var exponent: UInt32 = 0
        while mantissa > 0x3_FFFF {
            mantissa >>= 1
            exponent += 1
        }
        buffer.writeInteger(UInt32(ssrcs.count) << 24 | exponent << 18 | UInt32(mantissa))
        for ssrc in ssrcs { buffer.writeInteger(ssrc) }
        header.finish(into: &buffer)
    }
}
