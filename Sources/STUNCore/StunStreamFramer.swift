public import NIOCore

/// One frame cut from a TCP or TLS byte stream carrying STUN and TURN ChannelData.
public enum StunStreamFrame: Hashable, Sendable {
    /// The bytes of one whole STUN message, ready for ``StunMessage/init(decoding:requireMagicCookie:)-swift.init``.
    case stun([UInt8])
    case channelData(ChannelData)
}

/// Cuts STUN messages and ChannelData out of a stream (RFC 8489 §6.2.2; RFC 8656 §12.5).
///
/// STUN messages delimit themselves by their header length; ChannelData is padded to a multiple
/// of 4 over streams. A first byte that is neither (0x00–0x3F with the magic cookie, 0x40–0x4F)
/// means the stream is unusable and the framer throws. It never buffers more than one frame
/// (at most 20 + 65535 bytes).
public struct StunStreamFramer: NIOSingleStepByteToMessageDecoder, Sendable {
    public typealias InboundOut = StunStreamFrame

    public init() {}

    public mutating func decode(buffer: inout ByteBuffer) throws -> StunStreamFrame? {
        guard buffer.readableBytes >= 4, let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
            let length = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self)
        else { return nil }
        if ChannelData.looksLikeChannelData(firstByte: first) {
            let frameLength = 4 + ((Int(length) + 3) & ~3)
            guard buffer.readableBytes >= frameLength, var frame = buffer.readSlice(length: frameLength) else { return nil }
            let channel = frame.readInteger(as: UInt16.self)!
            frame.moveReaderIndex(forwardBy: 2)
            return .channelData(ChannelData(channel: channel, data: frame.readBytes(length: Int(length))!))
        }
        guard first & 0xC0 == 0 else {
            throw StunDecodingError(.notChannelData, field: "stream.firstByte", offset: 0)
        }
        guard length % 4 == 0 else { throw StunDecodingError(.badLength, field: "header.length", offset: 2) }
        guard buffer.readableBytes >= 8 else { return nil }
        guard buffer.getInteger(at: buffer.readerIndex + 4, as: UInt32.self) == stunMagicCookie else {
            throw StunDecodingError(.badMagicCookie, field: "header.cookie", offset: 4)
        }
        let frameLength = 20 + Int(length)
        guard buffer.readableBytes >= frameLength else { return nil }
        return .stun(buffer.readBytes(length: frameLength)!)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> StunStreamFrame? {
        if let frame = try decode(buffer: &buffer) { return frame }
        if seenEOF && buffer.readableBytes > 0 {
            throw StunDecodingError(.truncatedFrame, field: "stream", offset: buffer.readableBytes)
        }
        return nil
    }
}
