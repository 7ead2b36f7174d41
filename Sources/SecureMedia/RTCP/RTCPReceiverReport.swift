public import NIOCore

/// RR: receiver report (RFC 3550 §6.4.2), packet type 201.
public struct RTCPReceiverReport: Sendable, Hashable {
    public static let packetType: UInt8 = 201

    public var ssrc: UInt32
    public var reportBlocks: [RTCPReportBlock]
    public var profileExtension: [UInt8]

    public init(ssrc: UInt32, reportBlocks: [RTCPReportBlock] = [], profileExtension: [UInt8] = []) {
        self.ssrc = ssrc
        self.reportBlocks = reportBlocks
        self.profileExtension = profileExtension
    }

    static func decode(_ body: RTCPBody) throws(RTCPParseError) -> RTCPReceiverReport {
        let blocksEnd = 4 + RTCPReportBlock.size * Int(body.count)
        try body.require(blocksEnd, "reportBlocks")
        return RTCPReceiverReport(
            ssrc: body.u32(0),
            reportBlocks: (0..<Int(body.count)).map { RTCPReportBlock.decode(body, at: 4 + RTCPReportBlock.size * $0) },
            profileExtension: body.array(blocksEnd, body.size - blocksEnd))
    }

    public func encode(into buffer: inout ByteBuffer) {
        precondition(reportBlocks.count <= 31 && profileExtension.count % 4 == 0)
        let header = RTCPHeaderWriter(count: UInt8(reportBlocks.count), packetType: Self.packetType, into: &buffer)
        buffer.writeInteger(ssrc)
        for block in reportBlocks { block.encode(into: &buffer) }
        buffer.writeBytes(profileExtension)
        header.finish(into: &buffer)
    }
}
