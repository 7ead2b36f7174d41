public import NIOCore

/// Transport-wide congestion control feedback
/// (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1): RTPFB FMT 15.
///
/// ```
/// |      base sequence number     |      packet status count      |
/// |                 reference time                | fb pkt. count |
/// |          packet chunk         |         packet chunk          |
/// |         recv delta            |  recv delta   | zero padding  |
/// ```
/// Chunks are run length (T=0: 2-bit symbol, 13-bit run) or status vectors (T=1, S=0: 14
/// one-bit symbols; S=1: 7 two-bit symbols). Received packets carry a delta in 250 µs units:
/// one unsigned byte for "small delta", two signed bytes for "large or negative delta".
public struct RTCPTransportFeedback: Sendable, Hashable {
    public static let packetType: UInt8 = 205
    public static let format: UInt8 = 15

    /// A packet status symbol (§3.1.1).
    public enum Status: UInt8, Sendable, Hashable {
        case notReceived = 0
        case smallDelta = 1
        case largeOrNegativeDelta = 2
    }

    /// The fate of one transport-wide sequence number.
    public struct PacketStatus: Sendable, Hashable {
        public var sequenceNumber: UInt16
        public var status: Status
        /// Receive time delta to the previous received packet (or to the reference time), in
        /// 250 µs units; nil when not received.
        public var delta: Int16?

        public init(sequenceNumber: UInt16, status: Status, delta: Int16?) {
            self.sequenceNumber = sequenceNumber
            self.status = status
            self.delta = delta
        }
    }

    public var senderSSRC: UInt32
    public var mediaSSRC: UInt32
    public var baseSequenceNumber: UInt16
    /// Signed 24-bit reference time in multiples of 64 ms.
    public var referenceTime: Int32
    public var feedbackPacketCount: UInt8
    /// One entry per sequence number from the base, `packet status count` of them.
    public var packets: [PacketStatus]

    public init(
        senderSSRC: UInt32, mediaSSRC: UInt32, baseSequenceNumber: UInt16, referenceTime: Int32,
        feedbackPacketCount: UInt8, packets: [PacketStatus]
    ) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.baseSequenceNumber = baseSequenceNumber
        self.referenceTime = referenceTime
        self.feedbackPacketCount = feedbackPacketCount
        self.packets = packets
    }

    static func decode(_ body: RTCPBody) throws(RTCPParseError) -> RTCPTransportFeedback {
        try body.require(16, "header")
        let base = body.u16(8)
        let statusCount = Int(body.u16(10))
        let referenceWord = body.u32(12)
        let reference = Int32(bitPattern: referenceWord) >> 8
        var statuses: [Status] = []
        statuses.reserveCapacity(statusCount)
        var at = 16
        while statuses.count < statusCount {
            guard at + 2 <= body.size else { throw body.fail(.badItem, "packetChunk", at: at) }
            let chunk = body.u16(at)
            if chunk & 0x8000 == 0 {
                // Run length chunk (§3.1.3).
                let symbol = UInt8((chunk >> 13) & 0x3)
                guard let status = Status(rawValue: symbol) else { throw body.fail(.badItem, "packetChunk.symbol", at: at) }
                let run = Int(chunk & 0x1FFF)
                guard run > 0 else { throw body.fail(.badItem, "packetChunk.runLength", at: at) }
                for _ in 0..<min(run, statusCount - statuses.count) { statuses.append(status) }
            } else if chunk & 0x4000 == 0 {
                // Status vector chunk, 14 one-bit symbols (§3.1.4).
                for i in 0..<14 where statuses.count < statusCount {
                    statuses.append((chunk >> (13 - i)) & 1 == 1 ? .smallDelta : .notReceived)
                }
            } else {
                // Status vector chunk, 7 two-bit symbols.
                for i in 0..<7 where statuses.count < statusCount {
                    let symbol = UInt8((chunk >> (12 - 2 * i)) & 0x3)
                    guard let status = Status(rawValue: symbol) else {
                        throw body.fail(.badItem, "packetChunk.symbol", at: at)
                    }
                    statuses.append(status)
                }
            }
            at += 2
        }
        var packets: [PacketStatus] = []
        packets.reserveCapacity(statusCount)
        for (i, status) in statuses.enumerated() {
            var delta: Int16?
            switch status {
            case .notReceived: break
            case .smallDelta:
                guard at + 1 <= body.size else { throw body.fail(.badItem, "recvDelta", at: at) }
                delta = Int16(body.u8(at))
                at += 1
            case .largeOrNegativeDelta:
                guard at + 2 <= body.size else { throw body.fail(.badItem, "recvDelta", at: at) }
                delta = Int16(bitPattern: body.u16(at))
                at += 2
            }
            packets.append(PacketStatus(sequenceNumber: base &+ UInt16(truncatingIfNeeded: i), status: status, delta: delta))
        }
        return RTCPTransportFeedback(
            senderSSRC: body.u32(0), mediaSSRC: body.u32(4), baseSequenceNumber: base, referenceTime: reference,
            feedbackPacketCount: UInt8(referenceWord & 0xFF), packets: packets)
    }

    /// Writes the feedback with run length chunks for runs of 7 or more equal symbols and
    /// two-bit status vectors otherwise (one-bit vectors when 14 symbols need no large delta).
    public func encode(into buffer: inout ByteBuffer) {
        precondition(packets.count <= 0xFFFF)
        let header = RTCPHeaderWriter(count: Self.format, packetType: Self.packetType, into: &buffer)
        buffer.writeInteger(senderSSRC)
        buffer.writeInteger(mediaSSRC)
        buffer.writeInteger(baseSequenceNumber)
        buffer.writeInteger(UInt16(packets.count))
        buffer.writeInteger(UInt32(bitPattern: referenceTime << 8) | UInt32(feedbackPacketCount))
        var i = 0
        while i < packets.count {
            var run = 1
            while i + run < packets.count, packets[i + run].status == packets[i].status, run < 0x1FFF { run += 1 }
            if run >= 7 {
                buffer.writeInteger(UInt16(packets[i].status.rawValue) << 13 | UInt16(run))
                i += run
                continue
            }
            let window = packets[i..<min(i + 14, packets.count)]
            if window.count == 14, window.allSatisfy({ $0.status != .largeOrNegativeDelta }) {
                var chunk: UInt16 = 0x8000
                for (k, packet) in window.enumerated() where packet.status == .smallDelta { chunk |= 1 << (13 - k) }
                buffer.writeInteger(chunk)
                i += 14
                continue
            }
            var chunk: UInt16 = 0xC000
            for (k, packet) in packets[i..<min(i + 7, packets.count)].enumerated() {
                chunk |= UInt16(packet.status.rawValue) << (12 - 2 * k)
            }
            buffer.writeInteger(chunk)
            i += 7
        }
        for packet in packets {
            switch packet.status {
            case .notReceived: break
            case .smallDelta: buffer.writeInteger(UInt8(clamping: packet.delta ?? 0))
            case .largeOrNegativeDelta: buffer.writeInteger(packet.delta ?? 0)
            }
        }
        header.padToWord(into: &buffer)
        header.finish(into: &buffer)
    }
}
