public import NIOCore

/// A packet type or feedback format we do not decode, kept verbatim.
public struct RTCPRawPacket: Sendable, Hashable {
    public var packetType: UInt8
    /// The 5-bit count / FMT field.
    public var count: UInt8
    /// The body after the 4-byte common header, without padding.
    public var body: [UInt8]

    public init(packetType: UInt8, count: UInt8, body: [UInt8]) {
        self.packetType = packetType
        self.count = count
        self.body = body
    }

    public func encode(into buffer: inout ByteBuffer) {
        let header = RTCPHeaderWriter(count: count, packetType: packetType, into: &buffer)
        buffer.writeBytes(body)
        header.padToWord(into: &buffer)
        header.finish(into: &buffer)
    }
}

/// One packet of an RTCP compound packet (RFC 3550 §6.1).
public enum RTCPPacket: Sendable, Hashable {
    case senderReport(RTCPSenderReport)
    case receiverReport(RTCPReceiverReport)
    case sourceDescription(RTCPSourceDescription)
    case goodbye(RTCPGoodbye)
    case genericNACK(RTCPGenericNACK)
    case transportFeedback(RTCPTransportFeedback)
    case pictureLossIndication(RTCPPictureLossIndication)
    case fullIntraRequest(RTCPFullIntraRequest)
    case receiverEstimatedMaxBitrate(RTCPReceiverEstimatedMaxBitrate)
    case unknown(RTCPRawPacket)

    /// Decodes every packet of the compound packet in the readable bytes of `buffer` (one
    /// datagram, already unprotected).
    ///
    /// Each packet's length field (RFC 3550 §6.4.1: 32-bit words minus one) is checked against
    /// the bytes that remain, the P bit's padding count against the packet, and every count
    /// (report blocks, chunks, SSRCs, FCI entries, status counts) against the length.
    /// - Throws: `RTCPParseError` naming the first field that does not add up; a compound
    ///   packet is accepted whole or not at all.
    public static func decodeCompound(_ buffer: ByteBuffer) throws(RTCPParseError) -> [RTCPPacket] {
        guard buffer.readableBytes > 0 else { throw RTCPParseError(.empty, field: "compound", offset: 0) }
        var packets: [RTCPPacket] = []
        var offset = 0
        let base = buffer.readerIndex
        while offset < buffer.readableBytes {
            let index = packets.count
            guard buffer.readableBytes - offset >= 4 else {
                throw RTCPParseError(.truncatedHeader, field: "packet[\(index)].header", offset: offset)
            }
            let first = buffer.getInteger(at: base + offset, as: UInt8.self)!
            let packetType = buffer.getInteger(at: base + offset + 1, as: UInt8.self)!
            let words = Int(buffer.getInteger(at: base + offset + 2, as: UInt16.self)!)
            guard first >> 6 == 2 else {
                throw RTCPParseError(.badVersion, field: "packet[\(index)].version", offset: offset)
            }
            let length = 4 * (words + 1)
            guard length <= buffer.readableBytes - offset else {
                throw RTCPParseError(.lengthPastEnd, field: "packet[\(index)].length", offset: offset + 2)
            }
            var bodyLength = length - 4
            if first & 0x20 != 0 {
                let count = Int(buffer.getInteger(at: base + offset + length - 1, as: UInt8.self)!)
                guard count > 0, count <= bodyLength else {
                    throw RTCPParseError(.badPadding, field: "packet[\(index)].padding", offset: offset + length - 1)
                }
                bodyLength -= count
            }
            let body = RTCPBody(
                bytes: buffer.getSlice(at: base + offset + 4, length: bodyLength)!, offset: offset + 4,
                count: first & 0x1F, name: "packet[\(index)]")
            packets.append(try decodeOne(packetType: packetType, body: body))
            offset += length
        }
        return packets
    }

    private static func decodeOne(packetType: UInt8, body: RTCPBody) throws(RTCPParseError) -> RTCPPacket {
        switch (packetType, body.count) {
        case (RTCPSenderReport.packetType, _): return .senderReport(try .decode(body))
        case (RTCPReceiverReport.packetType, _): return .receiverReport(try .decode(body))
        case (RTCPSourceDescription.packetType, _): return .sourceDescription(try .decode(body))
        case (RTCPGoodbye.packetType, _): return .goodbye(try .decode(body))
        case (RTCPGenericNACK.packetType, RTCPGenericNACK.format): return .genericNACK(try .decode(body))
        case (RTCPTransportFeedback.packetType, RTCPTransportFeedback.format):
            return .transportFeedback(try .decode(body))
        case (RTCPPictureLossIndication.packetType, RTCPPictureLossIndication.format):
            return .pictureLossIndication(try .decode(body))
        case (RTCPFullIntraRequest.packetType, RTCPFullIntraRequest.format): return .fullIntraRequest(try .decode(body))
        case (RTCPReceiverEstimatedMaxBitrate.packetType, RTCPReceiverEstimatedMaxBitrate.format)
        where RTCPReceiverEstimatedMaxBitrate.matches(body):
            return .receiverEstimatedMaxBitrate(try .decode(body))
        default:
            return .unknown(RTCPRawPacket(packetType: packetType, count: body.count, body: body.array(0, body.size)))
        }
    }

    /// Appends this packet to a compound packet being built.
    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .senderReport(let p): p.encode(into: &buffer)
        case .receiverReport(let p): p.encode(into: &buffer)
        case .sourceDescription(let p): p.encode(into: &buffer)
        case .goodbye(let p): p.encode(into: &buffer)
        case .genericNACK(let p): p.encode(into: &buffer)
        case .transportFeedback(let p): p.encode(into: &buffer)
        case .pictureLossIndication(let p): p.encode(into: &buffer)
        case .fullIntraRequest(let p): p.encode(into: &buffer)
        case .receiverEstimatedMaxBitrate(let p): p.encode(into: &buffer)
        case .unknown(let p): p.encode(into: &buffer)
        }
    }

    /// Encodes `packets` as one compound packet.
    public static func encodeCompound(_ packets: [RTCPPacket], allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256)
        for packet in packets { packet.encode(into: &buffer) }
        return buffer
    }
}
