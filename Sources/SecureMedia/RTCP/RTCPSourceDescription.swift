public import NIOCore

/// SDES: source description (RFC 3550 §6.5), packet type 202.
public struct RTCPSourceDescription: Sendable, Hashable {
    public static let packetType: UInt8 = 202

    /// One SDES item: type (RFC 3550 §6.5.1–§6.5.8) and up to 255 bytes of text.
    public struct Item: Sendable, Hashable {
        public static let cnameType: UInt8 = 1

        public var type: UInt8
        public var value: [UInt8]

        public init(type: UInt8, value: [UInt8]) {
            self.type = type
            self.value = value
        }

        /// A CNAME item (RFC 3550 §6.5.1; RFC 7022 for how WebRTC chooses it).
        public static func cname(_ name: String) -> Item { Item(type: cnameType, value: Array(name.utf8)) }
    }

    /// The items describing one source.
    public struct Chunk: Sendable, Hashable {
        public var ssrc: UInt32
        public var items: [Item]

        public init(ssrc: UInt32, items: [Item]) {
            self.ssrc = ssrc
            self.items = items
        }

        /// The CNAME text, if the chunk has a valid UTF-8 one.
        public var cname: String? {
            items.first(where: { $0.type == Item.cnameType }).flatMap { String(validating: $0.value, as: UTF8.self) }
        }
    }

    public var chunks: [Chunk]

    public init(chunks: [Chunk]) { self.chunks = chunks }

    static func decode(_ body: RTCPBody) throws(RTCPParseError) -> RTCPSourceDescription {
        var chunks: [Chunk] = []
        var at = 0
        for index in 0..<Int(body.count) {
            try body.require(at + 4, "chunk[\(index)].ssrc")
            let ssrc = body.u32(at)
            at += 4
            var items: [Item] = []
            // RFC 3550 §6.5: items end with a null octet (item type 0), then null octets up to
            // the next 32-bit boundary.
            while true {
                guard at < body.size else { throw body.fail(.badItem, "chunk[\(index)].terminator", at: at) }
                let type = body.u8(at)
                if type == 0 { break }
                guard at + 2 <= body.size else { throw body.fail(.badItem, "chunk[\(index)].item.length", at: at) }
                let length = Int(body.u8(at + 1))
                guard at + 2 + length <= body.size else {
                    throw body.fail(.badItem, "chunk[\(index)].item.length", at: at + 1)
                }
                items.append(Item(type: type, value: body.array(at + 2, length)))
                at += 2 + length
            }
            at = (at + 4) & ~3
            chunks.append(Chunk(ssrc: ssrc, items: items))
        }
        return RTCPSourceDescription(chunks: chunks)
    }

    public func encode(into buffer: inout ByteBuffer) {
        precondition(chunks.count <= 31)
        let header = RTCPHeaderWriter(count: UInt8(chunks.count), packetType: Self.packetType, into: &buffer)
        for chunk in chunks {
            let start = buffer.writerIndex
            buffer.writeInteger(chunk.ssrc)
            for item in chunk.items {
                precondition(item.type != 0 && item.value.count <= 255)
                buffer.writeInteger(item.type)
                buffer.writeInteger(UInt8(item.value.count))
                buffer.writeBytes(item.value)
            }
            // At least one null octet, then up to the boundary.
            let written = buffer.writerIndex - start + 1
            buffer.writeRepeatingByte(0, count: 1 + (4 - written % 4) % 4)
        }
        header.finish(into: &buffer)
    }
}
