public import NIOCore

/// SR: sender report (RFC 3550 §6.4.1), packet type 200.
public struct RTCPSenderReport: Sendable, Hashable {
    public static let packetType: UInt8 = 200

    public var ssrc: UInt32
    /// 64-bit NTP timestamp (seconds since 1900 in the high word, fraction in the low word).
    public var ntpTimestamp: UInt64
    /// The same instant in the RTP clock of this source.
    public var rtpTimestamp: UInt32
    public var packetCount: UInt32
    /// Payload octets sent (headers and padding excluded).
    public var octetCount: UInt32
    public var reportBlocks: [RTCPReportBlock]
    /// Profile-specific extension bytes after the report blocks (kept verbatim).
    public var profileExtension: [UInt8]

    public init(
        ssrc: UInt32, ntpTimestamp: UInt64, rtpTimestamp: UInt32, packetCount: UInt32, octetCount: UInt32,
        reportBlocks: [RTCPReportBlock] = [], profileExtension: [UInt8] = []
    ) {
        self.ssrc = ssrc
        self.ntpTimestamp = ntpTimestamp
        self.rtpTimestamp = rtpTimestamp
        self.packetCount = packetCount
        self.octetCount = octetCount
        self.reportBlocks = reportBlocks
        self.profileExtension = profileExtension
    }

    /// The middle 32 bits of the NTP timestamp, as echoed in LSR (RFC 3550 §6.4.1).
    public var compactNTP: UInt32 { UInt32(truncatingIfNeeded: ntpTimestamp >> 16) }

    static func decode(_ body: RTCPBody) throws(RTCPParseError) -> RTCPSenderReport {
        let blocksEnd = 24 + RTCPReportBlock.size * Int(body.count)
        try body.require(blocksEnd, "reportBlocks")
        return RTCPSenderReport(
            ssrc: body.u32(0), ntpTimestamp: body.u64(4), rtpTimestamp: body.u32(12), packetCount: body.u32(16),
            octetCount: body.u32(20),
            reportBlocks: (0..<Int(body.count)).map { RTCPReportBlock.decode(body, at: 24 + RTCPReportBlock.size * $0) },
            profileExtension: body.array(blocksEnd, body.size - blocksEnd))
    }

    public func encode(into buffer: inout ByteBuffer) {
        precondition(reportBlocks.count <= 31 && profileExtension.count % 4 == 0)
        let header = RTCPHeaderWriter(count: UInt8(reportBlocks.count), packetType: Self.packetType, into: &buffer)
        buffer.writeInteger(ssrc)
        buffer.writeInteger(ntpTimestamp)
        buffer.writeInteger(rtpTimestamp)
        buffer.writeInteger(packetCount)
        buffer.writeInteger(octetCount)
        for block in reportBlocks { block.encode(into: &buffer) }
        buffer.writeBytes(profileExtension)
        header.finish(into: &buffer)
    }
}
