import NIOCore

/// Writers for the MQTT data representations (MQTT 5.0 §1.5). Each checks what the decoder
/// would reject, so that whatever encodes decodes again.
extension ByteBuffer {
    /// A UTF-8 Encoded String: Two Byte Integer length, then the bytes (MQTT 5.0 §1.5.4).
    mutating func writeMQTTString(_ string: String, field: @autoclosure () -> String) throws(MQTTEncodingError) {
        let utf8 = string.utf8
        guard utf8.count <= 0xFFFF else { throw MQTTEncodingError(.stringTooLong, field: field()) }
        guard !utf8.contains(0) else { throw MQTTEncodingError(.invalidString, field: field()) }
        writeInteger(UInt16(utf8.count))
        writeBytes(utf8)
    }

    /// Binary Data: Two Byte Integer length, then the bytes (MQTT 5.0 §1.5.6).
    mutating func writeMQTTBinary(_ bytes: [UInt8], field: @autoclosure () -> String) throws(MQTTEncodingError) {
        guard bytes.count <= 0xFFFF else { throw MQTTEncodingError(.stringTooLong, field: field()) }
        writeInteger(UInt16(bytes.count))
        writeBytes(bytes)
    }

    /// Binary Data from a buffer's readable bytes.
    mutating func writeMQTTBinary(_ bytes: ByteBuffer, field: @autoclosure () -> String) throws(MQTTEncodingError) {
        guard bytes.readableBytes <= 0xFFFF else { throw MQTTEncodingError(.stringTooLong, field: field()) }
        writeInteger(UInt16(bytes.readableBytes))
        writeImmutableBuffer(bytes)
    }

    /// Writes what `body` writes, preceded by its length as a Variable Byte Integer, without a
    /// second buffer: 4 bytes are reserved for the length and the body is moved back over the
    /// unused ones. Returns the body length.
    @discardableResult
    mutating func writeMQTTLengthPrefixed(
        field: @autoclosure () -> String, _ body: (inout ByteBuffer) throws(MQTTEncodingError) -> Void
    ) throws(MQTTEncodingError) -> Int {
        let lengthIndex = writerIndex
        writeRepeatingByte(0, count: 4)
        let bodyIndex = writerIndex
        try body(&self)
        let length = writerIndex - bodyIndex
        guard let lengthSize = MQTTVariableByteInteger.encodedLength(of: length) else {
            throw MQTTEncodingError(.packetTooLarge, field: field())
        }
        var rest = length
        for index in 0..<lengthSize {
            var byte = UInt8(rest & 0x7F)
            rest >>= 7
            if index < lengthSize - 1 { byte |= 0x80 }
            setInteger(byte, at: lengthIndex + index)
        }
        if lengthSize < 4 && length > 0 {
            // Overlapping moves are fine: ByteBuffer.copyBytes copies like memmove.
            _ = try! copyBytes(at: bodyIndex, to: lengthIndex + lengthSize, length: length)
        }
        moveWriterIndex(to: lengthIndex + lengthSize + length)
        return length
    }
}
