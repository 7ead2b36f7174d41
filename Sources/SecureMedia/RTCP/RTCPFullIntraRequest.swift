public import NIOCore

/// FIR: full intra request (RFC 5104 §4.3.1), payload-specific feedback with FMT 4. The media
/// source field is unused (0); each FCI entry names a target SSRC and a command sequence
/// number that a repeated request keeps and a new request increments.
public struct RTCPFullIntraRequest: Sendable, Hashable {
    public static let packetType: UInt8 = 206
    public static let format: UInt8 = 4

    public struct Entry: Sendable, Hashable {
        public var ssrc: UInt32
        public var sequenceNumber: UInt8

        public init(ssrc: UInt32, sequenceNumber: UInt8) {
            self.ssrc = ssrc
            self.sequenceNumber = sequenceNumber
        }
    }

    public var senderSSRC: UInt32
    public var entries: [Entry]

    public init(senderSSRC: UInt32, entries: [Entry]) {
        self.senderSSRC = senderSSRC
        self.entries = entries
    }

    static func decode(_ body: RTCPBody) throws(RTCPParseError) -> RTCPFullIntraRequest {
        try body.require(16, "fci")
        let count = (body.size - 8) / 8
        return RTCPFullIntraRequest(
            senderSSRC: body.u32(0),
            entries: (0..<count).map { Entry(ssrc: body.u32(8 + 8 * $0), sequenceNumber: body.u8(12 + 8 * $0)) })
    }

    public func encode(into buffer: inout ByteBuffer) {
        let header = RTCPHeaderWriter(count: Self.format, packetType: Self.packetType, into: &buffer)
        buffer.writeInteger(senderSSRC)
        buffer.writeInteger(UInt32(0))
        for entry in entries {
            buffer.writeInteger(entry.ssrc)
            buffer.writeInteger(UInt32(entry.sequenceNumber) << 24)
        }
        header.finish(into: &buffer)
    }
}
