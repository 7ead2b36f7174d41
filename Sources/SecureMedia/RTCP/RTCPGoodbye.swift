public import NIOCore

/// BYE: goodbye (RFC 3550 §6.6), packet type 203.
public struct RTCPGoodbye: Sendable, Hashable {
    public static let packetType: UInt8 = 203

    public var ssrcs: [UInt32]
    /// Optional reason for leaving, at most 255 bytes.
    public var reason: [UInt8]?

    public init(ssrcs: [UInt32], reason: [UInt8]? = nil) {
        self.ssrcs = ssrcs
        self.reason = reason
    }

    static func decode(_ body: RTCPBody) throws(RTCPParseError) -> RTCPGoodbye {
        let listEnd = 4 * Int(body.count)
        try body.require(listEnd, "ssrcs")
        let ssrcs = (0..<Int(body.count)).map { body.u32(4 * $0) }
        var reason: [UInt8]?
        if body.size > listEnd {
            let length = Int(body.u8(listEnd))
            guard listEnd + 1 + length <= body.size else { throw body.fail(.badItem, "reason.length", at: listEnd) }
            reason = body.array(listEnd + 1, length)
        }
        return RTCPGoodbye(ssrcs: ssrcs, reason: reason)
    }

    public func encode(into buffer: inout ByteBuffer) {
        precondition(ssrcs.count <= 31)
        let header = RTCPHeaderWriter(count: UInt8(ssrcs.count), packetType: Self.packetType, into: &buffer)
        for ssrc in ssrcs { buffer.writeInteger(ssrc) }
        if let reason {
            precondition(reason.count <= 255)
            buffer.writeInteger(UInt8(reason.count))
            buffer.writeBytes(reason)
            buffer.writeRepeatingByte(0, count: (4 - (1 + reason.count) % 4) % 4)
        }
        header.finish(into: &buffer)
    }
}
