import NIOCore

/// Reads the fields of one whole packet, checking every length against the end of the packet (or
/// of the property block being read) and reporting failures with the field name and the offset
/// from the first byte of the packet. Nothing here trusts a length it has read.
struct MQTTCodecReader {
    /// The whole packet, fixed header included; index 0 is its first byte.
    private var buffer: ByteBuffer
    /// One past the last byte the current scope may read.
    private(set) var end: Int

    /// - Parameters:
    ///   - packet: the packet, starting at reader index 0.
    ///   - bodyStart: the offset of the variable header (just past the remaining length).
    init(packet: ByteBuffer, bodyStart: Int) {
        precondition(packet.readerIndex == 0, "a packet reader starts at the fixed header")
        buffer = packet
        buffer.moveReaderIndex(to: bodyStart)
        end = packet.writerIndex
    }

    /// The offset of the next byte from the start of the packet.
    var offset: Int { buffer.readerIndex }
    /// Bytes left in the current scope.
    var remaining: Int { end - buffer.readerIndex }
    var isAtEnd: Bool { remaining == 0 }

    private func need(_ count: Int, _ field: @autoclosure () -> String, at start: Int) throws(MQTTDecodingError) {
        if count > remaining { throw MQTTDecodingError(.truncated, field: field(), offset: start) }
    }

    mutating func readByte(_ field: @autoclosure () -> String) throws(MQTTDecodingError) -> UInt8 {
        try need(1, field(), at: offset)
        return buffer.readInteger(as: UInt8.self)!
    }

    mutating func readUInt16(_ field: @autoclosure () -> String) throws(MQTTDecodingError) -> UInt16 {
        try need(2, field(), at: offset)
        return buffer.readInteger(as: UInt16.self)!
    }

    mutating func readUInt32(_ field: @autoclosure () -> String) throws(MQTTDecodingError) -> UInt32 {
        try need(4, field(), at: offset)
        return buffer.readInteger(as: UInt32.self)!
    }

    /// A Two Byte Integer packet identifier that must not be 0 (MQTT 5.0 §2.2.1).
    mutating func readPacketIdentifier(_ field: @autoclosure () -> String) throws(MQTTDecodingError) -> UInt16 {
        let start = offset
        let id = try readUInt16(field())
        guard id != 0 else { throw MQTTDecodingError(.zeroPacketIdentifier, field: field(), offset: start) }
        return id
    }

    /// A Variable Byte Integer (MQTT 5.0 §1.5.5).
    mutating func readVariableByteInteger(_ field: @autoclosure () -> String) throws(MQTTDecodingError) -> Int {
        switch MQTTVariableByteInteger.peek(in: buffer, at: offset, upTo: end) {
        case .value(let value, let length):
            buffer.moveReaderIndex(forwardBy: length)
            return value
        case .needMoreBytes: throw MQTTDecodingError(.truncated, field: field(), offset: offset)
        case .malformed: throw MQTTDecodingError(.malformedVariableByteInteger, field: field(), offset: offset)
        }
    }

    /// A UTF-8 Encoded String: well-formed UTF-8 without U+0000 (MQTT 5.0 §1.5.4; 3.1.1 §1.5.3).
    mutating func readString(_ field: @autoclosure () -> String) throws(MQTTDecodingError) -> String {
        let start = offset
        let length = Int(try readUInt16(field()))
        try need(length, field(), at: start)
        enum Outcome {
            case ok(String)
            case invalid, null
        }
        let outcome = buffer.withUnsafeReadableBytes { raw -> Outcome in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[0..<length])
            if bytes.contains(0) { return .null }
            guard let string = String(validating: bytes, as: UTF8.self) else { return .invalid }
            return .ok(string)
        }
        switch outcome {
        case .ok(let string):
            buffer.moveReaderIndex(forwardBy: length)
            return string
        case .invalid: throw MQTTDecodingError(.invalidUTF8, field: field(), offset: start)
        case .null: throw MQTTDecodingError(.nullCharacter, field: field(), offset: start)
        }
    }

    /// Binary Data: a Two Byte Integer length and that many bytes (MQTT 5.0 §1.5.6).
    mutating func readBinary(_ field: @autoclosure () -> String) throws(MQTTDecodingError) -> [UInt8] {
        let start = offset
        let length = Int(try readUInt16(field()))
        try need(length, field(), at: start)
        return buffer.readBytes(length: length)!
    }

    /// Binary Data as a slice of the packet.
    mutating func readBinaryBuffer(_ field: @autoclosure () -> String) throws(MQTTDecodingError) -> ByteBuffer {
        let start = offset
        let length = Int(try readUInt16(field()))
        try need(length, field(), at: start)
        return buffer.readSlice(length: length)!
    }

    /// Everything left in the current scope, e.g. a PUBLISH payload.
    mutating func readRest() -> ByteBuffer {
        buffer.readSlice(length: remaining)!
    }

    /// Runs `body` with the scope narrowed to the next `length` bytes, then restores it. Reads past
    /// the narrowed end are `truncated`; `body` must consume the scope (it is not checked here).
    mutating func withScope<T>(
        length: Int, field: @autoclosure () -> String, at start: Int,
        _ body: (inout MQTTCodecReader) throws(MQTTDecodingError) -> T
    ) throws(MQTTDecodingError) -> T {
        try need(length, field(), at: start)
        let outer = end
        end = offset + length
        defer { end = outer }
        return try body(&self)
    }

    /// Throws `trailingBytes` unless the current scope is used up.
    func expectEnd(_ field: @autoclosure () -> String) throws(MQTTDecodingError) {
        if remaining > 0 { throw MQTTDecodingError(.trailingBytes, field: field(), offset: offset) }
    }
}
