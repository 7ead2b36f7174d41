public import NIOCore

/// PLI: picture loss indication (RFC 4585 §6.3.1), payload-specific feedback (packet type
/// 206) with FMT 1 and no FCI.
public struct RTCPPictureLossIndication: Sendable, Hashable {
    public static let packetType: UInt8 = 206
    public static let format: UInt8 = 1

    public var senderSSRC: UInt32
    public var mediaSSRC: UInt32

    public init(senderSSRC: UInt32, mediaSSRC: UInt32) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
    }

    static func decode(_ body: RTCPBody) throws(RTCPParseError) -> RTCPPictureLossIndication {
        try body.require(8, "ssrcs")
        return RTCPPictureLossIndication(senderSSRC: body.u32(0), mediaSSRC: body.u32(4))
    }

    public func encode(into buffer: inout ByteBuffer) {
        let header = RTCPHeaderWriter(count: Self.format, packetType: Self.packetType, into: &buffer)
        buffer.writeInteger(senderSSRC)
        buffer.writeInteger(mediaSSRC)
        header.finish(into: &buffer)
    }
}
