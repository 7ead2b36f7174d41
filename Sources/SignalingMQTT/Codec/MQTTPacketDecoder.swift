public import NIOCore

/// Stream decoder for one direction of a connection (MQTT 5.0 §2.1, §4.2).
///
/// It never trusts a length: a remaining length that makes the packet larger than
/// ``maximumPacketSize`` throws `packetTooLarge` as soon as the fixed header is read, before the
/// body is buffered; a Variable Byte Integer longer than 4 bytes throws
/// `malformedVariableByteInteger` at its 4th byte; a bad packet type or flags throw at the first
/// byte. Short input returns nil and leaves the reader index alone. Every error is final: the
/// stream cannot be resynchronised, close the connection (see ``MQTTDecodingError/reasonCode``).
///
/// Use it directly, or in `ByteToMessageHandler` / `NIOSingleStepByteToMessageProcessor`.
public struct MQTTPacketDecoder: NIOSingleStepByteToMessageDecoder, Sendable {
    public typealias InboundOut = MQTTPacket

    /// 268,435,460: a 268,435,455-byte remaining length plus the 5-byte fixed header (MQTT 5.0 §2.1.4).
    public static let specMaximumPacketSize = 1 + 4 + MQTTVariableByteInteger.maximum

    /// The connection's version; nil until known. While nil only CONNECT is accepted, and the
    /// first CONNECT decoded sets it (a server-side decoder). A client sets it before reading.
    public var version: MQTTProtocolVersion?
    /// The largest packet accepted, fixed header included (MQTT 5.0 §3.1.2.11.4 counts the same way).
    public var maximumPacketSize: Int

    public init(version: MQTTProtocolVersion? = nil, maximumPacketSize: Int = 268_435_460) {
        self.version = version
        self.maximumPacketSize = maximumPacketSize
    }

    /// Decodes the next packet, or returns nil when `buffer` does not hold all of it yet (the
    /// reader index is then unchanged). On success the reader index moves past the packet.
    public mutating func decode(buffer: inout ByteBuffer) throws(MQTTDecodingError) -> MQTTPacket? {
        let start = buffer.readerIndex
        guard let first = buffer.getInteger(at: start, as: UInt8.self) else { return nil }
        let kind = try MQTTPacket.Kind.validate(firstByte: first, version: version)
        // §2.1.4 Remaining Length.
        let remainingLength: Int
        let headerLength: Int
        switch MQTTVariableByteInteger.peek(in: buffer, at: start + 1) {
        case .needMoreBytes: return nil
        case .malformed:
            throw MQTTDecodingError(.malformedVariableByteInteger, field: "fixedHeader.remainingLength", offset: 1)
        case .value(let value, let length):
            remainingLength = value
            headerLength = 1 + length
        }
        let total = headerLength + remainingLength
        guard total <= maximumPacketSize else {
            throw MQTTDecodingError(.packetTooLarge, field: "fixedHeader.remainingLength", offset: 1)
        }
        guard let packet = buffer.getSlice(at: start, length: total) else { return nil }
        let decoded = try MQTTPacket.decodeBody(packet: packet, bodyStart: headerLength, kind: kind, version: version)
        buffer.moveReaderIndex(forwardBy: total)
        if version == nil, case .connect(let connect) = decoded { version = connect.version }
        return decoded
    }

    /// Like ``decode(buffer:)``; at EOF, bytes that do not make a whole packet throw `truncated`.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws(MQTTDecodingError) -> MQTTPacket? {
        if let packet = try decode(buffer: &buffer) { return packet }
        if seenEOF && buffer.readableBytes > 0 {
            throw MQTTDecodingError(.truncated, field: "stream", offset: buffer.readableBytes)
        }
        return nil
    }
}
