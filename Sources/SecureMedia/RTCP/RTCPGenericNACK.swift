public import NIOCore

/// Generic NACK (RFC 4585 §6.2.1): transport layer feedback (packet type 205) with FMT 1.
/// Each FCI entry names a lost packet (PID) and a bitmask of the 16 following ones (BLP).
public struct RTCPGenericNACK: Sendable, Hashable {
    public static let packetType: UInt8 = 205
    public static let format: UInt8 = 1

    /// One FCI entry.
    public struct Entry: Sendable, Hashable {
        public var packetID: UInt16
        /// Bit i set: packet `packetID + i + 1` is lost too.
        public var lostBitmask: UInt16

        public init(packetID: UInt16, lostBitmask: UInt16) {
            self.packetID = packetID
            self.lostBitmask = lostBitmask
        }
    }

    public var senderSSRC: UInt32
    public var mediaSSRC: UInt32
    public var entries: [Entry]

    public init(senderSSRC: UInt32, mediaSSRC: UInt32, entries: [Entry]) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.entries = entries
    }

    /// Builds the fewest entries covering `lost`, taken in order (each sequence number starts a
    /// new entry unless it falls in the 16 after the current entry's PID).
    public init(senderSSRC: UInt32, mediaSSRC: UInt32, lost: [UInt16]) {
        var entries: [Entry] = []
        for seq in lost {
            if var last = entries.last {
                let distance = seq &- last.packetID
                if distance >= 1 && distance <= 16 {
                    last.lostBitmask |= 1 << (distance - 1)
                    entries[entries.count - 1] = last
                    continue
                }
                if distance == 0 { continue }
            }
            entries.append(Entry(packetID: seq, lostBitmask: 0))
        }
        self.init(senderSSRC: senderSSRC, mediaSSRC: mediaSSRC, entries: entries)
    }

    /// The sequence numbers the entries name, in order (PID, then BLP bits from least
    /// significant), duplicates kept.
    public var sequenceNumbers: [UInt16] {
        var result: [UInt16] = []
        result.reserveCapacity(entries.count * 2)
        forEachSequenceNumber { result.append($0) }
        return result
    }

    /// Calls `body` for each sequence number named, without building an array.
    public func forEachSequenceNumber(_ body: (UInt16) -> Void) {
        for entry in entries {
            body(entry.packetID)
            var mask = entry.lostBitmask
            while mask != 0 {
                let bit = UInt16(mask.trailingZeroBitCount)
                body(entry.packetID &+ bit &+ 1)
                mask &= mask - 1
            }
        }
    }

    static func decode(_ body: RTCPBody) throws(RTCPParseError) -> RTCPGenericNACK {
        try body.require(12, "fci")
        let count = (body.size - 8) / 4
        return RTCPGenericNACK(
            senderSSRC: body.u32(0), mediaSSRC: body.u32(4),
            entries: (0..<count).map { Entry(packetID: body.u16(8 + 4 * $0), lostBitmask: body.u16(10 + 4 * $0)) })
    }

    public func encode(into buffer: inout ByteBuffer) {
        let header = RTCPHeaderWriter(count: Self.format, packetType: Self.packetType, into: &buffer)
        buffer.writeInteger(senderSSRC)
        buffer.writeInteger(mediaSSRC)
        for entry in entries {
            buffer.writeInteger(entry.packetID)
            buffer.writeInteger(entry.lostBitmask)
        }
        header.finish(into: &buffer)
    }
}
