public import NIOCore

/// A reception report block (RFC 3550 §6.4.1), 24 bytes, carried by SR and RR.
public struct RTCPReportBlock: Sendable, Hashable {
    public static let size = 24

    /// The source this block reports on.
    public var ssrc: UInt32
    /// Fraction of packets lost since the previous report, as a fixed point number with the
    /// binary point at the left edge (lost / expected × 256).
    public var fractionLost: UInt8
    /// Cumulative packets lost: a 24-bit signed count (duplicates can make it negative).
    public var cumulativeLost: Int32
    /// Extended highest sequence number received (cycles in the high 16 bits).
    public var extendedHighestSequence: UInt32
    /// Interarrival jitter in timestamp units (RFC 3550 §6.4.1, A.8).
    public var jitter: UInt32
    /// The middle 32 bits of the NTP timestamp of the last SR received from this source, 0 if
    /// none yet.
    public var lastSenderReport: UInt32
    /// Delay since that SR was received, in units of 1/65536 s.
    public var delaySinceLastSenderReport: UInt32

    public init(
        ssrc: UInt32, fractionLost: UInt8 = 0, cumulativeLost: Int32 = 0, extendedHighestSequence: UInt32 = 0,
        jitter: UInt32 = 0, lastSenderReport: UInt32 = 0, delaySinceLastSenderReport: UInt32 = 0
    ) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.cumulativeLost = cumulativeLost
        self.extendedHighestSequence = extendedHighestSequence
        self.jitter = jitter
        self.lastSenderReport = lastSenderReport
        self.delaySinceLastSenderReport = delaySinceLastSenderReport
    }

    static func decode(_ body: RTCPBody, at: Int) -> RTCPReportBlock {
        let lostWord = body.u32(at + 4)
        // Sign-extend the 24-bit cumulative count.
        let lost = Int32(bitPattern: lostWord << 8) >> 8
        return RTCPReportBlock(
            ssrc: body.u32(at), fractionLost: UInt8(lostWord >> 24), cumulativeLost: lost,
            extendedHighestSequence: body.u32(at + 8), jitter: body.u32(at + 12),
            lastSenderReport: body.u32(at + 16), delaySinceLastSenderReport: body.u32(at + 20))
    }

    public func encode(into buffer: inout ByteBuffer) {
        let clamped = min(max(cumulativeLost, -0x80_0000), 0x7F_FFFF)
        buffer.writeInteger(ssrc)
        buffer.writeInteger(UInt32(fractionLost) << 24 | UInt32(bitPattern: clamped) & 0xFF_FFFF)
        buffer.writeInteger(extendedHighestSequence)
        buffer.writeInteger(jitter)
        buffer.writeInteger(lastSenderReport)
        buffer.writeInteger(delaySinceLastSenderReport)
    }
}
