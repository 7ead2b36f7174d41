import NIOCore
import SignalingMQTT
import Testing

/// The remaining length and its Variable Byte Integer (MQTT 5.0 §1.5.5, §2.1.4): every boundary
/// where the encoding grows a byte, the 268,435,455 maximum and the rejection of a 5th byte.
@Suite("MQTT codec remaining length")
struct CodecVariableByteIntegerTests {
    /// MQTT 5.0 §1.5.5 Table 1-1.
    static let boundaries: [(value: Int, bytes: [UInt8])] = [
        (0, [0x00]), (127, [0x7F]),
        (128, [0x80, 0x01]), (16_383, [0xFF, 0x7F]),
        (16_384, [0x80, 0x80, 0x01]), (2_097_151, [0xFF, 0xFF, 0x7F]),
        (2_097_152, [0x80, 0x80, 0x80, 0x01]), (268_435_455, [0xFF, 0xFF, 0xFF, 0x7F]),
    ]

    @Test("a boundary value encodes to the bytes of Table 1-1 and back", arguments: boundaries.indices)
    func boundary(index: Int) throws {
        let (value, bytes) = Self.boundaries[index]
        var buffer = ByteBuffer()
        try MQTTVariableByteInteger.write(value, to: &buffer)
        #expect(Array(buffer.readableBytesView) == bytes)
        #expect(MQTTVariableByteInteger.encodedLength(of: value) == bytes.count)
        #expect(MQTTVariableByteInteger.peek(in: buffer, at: 0) == .value(value, length: bytes.count))
        // Any prefix is "need more bytes".
        for cut in 0..<bytes.count {
            #expect(MQTTVariableByteInteger.peek(in: ByteBuffer(bytes: bytes.prefix(cut)), at: 0) == .needMoreBytes)
        }
    }

    @Test("a PUBLISH header with a boundary remaining length is read exactly", arguments: boundaries.indices)
    func headerOnly(index: Int) throws {
        let (value, bytes) = Self.boundaries[index]
        let header = [0x30] + bytes
        let total = header.count + value
        // With the header alone the decoder waits, leaving the buffer as it was.
        var roomy = MQTTPacketDecoder(version: .v5, maximumPacketSize: total)
        var buffer = ByteBuffer(bytes: header)
        if value > 0 { #expect(try roomy.decode(buffer: &buffer) == nil) }
        #expect(buffer.readerIndex == 0 && buffer.readableBytes == header.count)
        // One byte less room and it refuses at once, from the header alone.
        var tight = MQTTPacketDecoder(version: .v5, maximumPacketSize: total - 1)
        let error = #expect(throws: MQTTDecodingError.self) { try tight.decode(buffer: &buffer) }
        #expect(error?.code == .packetTooLarge)
        #expect(error?.reasonCode == .packetTooLarge)
        #expect(error?.offset == 1)
    }

    /// Real packets up to the 4-byte boundary (2 MiB); the 268 MB one is checked header-only above.
    @Test(
        "a packet with a boundary remaining length round-trips",
        arguments: [0, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152])
    func wholePacket(remainingLength: Int) throws {
        let packet: MQTTPacket
        if remainingLength == 0 {
            packet = .pingReq
        } else {
            // Topic "t" (3 bytes) plus the payload, in MQTT 3.1.1 (no properties).
            packet = .publish(MQTTPublish(topic: "t", payload: ByteBuffer(repeating: 0xA5, count: remainingLength - 3)))
        }
        let bytes = try CodecFixtures.encode(packet, .v3_1_1)
        let lengthBytes = Self.boundaries.first { $0.value == remainingLength }!.bytes
        #expect(Array(bytes[1...lengthBytes.count]) == lengthBytes)
        #expect(bytes.count == 1 + lengthBytes.count + remainingLength)
        #expect(try CodecFixtures.decode(bytes, .v3_1_1) == packet)
    }

    @Test func theSpecMaximumIsTheDefaultMaximumPacketSize() {
        #expect(MQTTPacketDecoder().maximumPacketSize == 268_435_460)
        #expect(MQTTPacketDecoder.specMaximumPacketSize == 268_435_460)
        #expect(MQTTVariableByteInteger.maximum == 268_435_455)
    }

    @Test(
        "a 4th byte with its continuation bit set is malformed without waiting for a 5th",
        arguments: [
            [0xFF, 0xFF, 0xFF, 0xFF], [0x80, 0x80, 0x80, 0x80], [0x80, 0x80, 0x80, 0x80, 0x01],
            [0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
        ] as [[UInt8]])
    func fifthByte(bytes: [UInt8]) {
        #expect(MQTTVariableByteInteger.peek(in: ByteBuffer(bytes: bytes), at: 0) == .malformed)
        var decoder = MQTTPacketDecoder(version: .v3_1_1)
        var buffer = ByteBuffer(bytes: [0x30] + bytes)
        let error = #expect(throws: MQTTDecodingError.self) { try decoder.decode(buffer: &buffer) }
        #expect(error?.code == .malformedVariableByteInteger)
        #expect(error?.reasonCode == .malformedPacket)
        #expect(error?.field == "fixedHeader.remainingLength")
    }

    @Test(
        "an integer in a longer form than needed is malformed",
        arguments: [[0x80, 0x00], [0xFF, 0x80, 0x00], [0x80, 0x80, 0x80, 0x00]] as [[UInt8]])
    func notShortest(bytes: [UInt8]) {
        #expect(MQTTVariableByteInteger.peek(in: ByteBuffer(bytes: bytes), at: 0) == .malformed)
        #expect(CodecFixtures.decodingError([0xC0] + bytes, .v5)?.code == .malformedVariableByteInteger)
    }

    @Test("a value outside 0...268,435,455 cannot be encoded", arguments: [-1, 268_435_456, Int.max])
    func outOfRange(value: Int) {
        var buffer = ByteBuffer()
        #expect(MQTTVariableByteInteger.encodedLength(of: value) == nil)
        let error = #expect(throws: MQTTEncodingError.self) { try MQTTVariableByteInteger.write(value, to: &buffer) }
        #expect(error?.code == .packetTooLarge)
        #expect(buffer.readableBytes == 0)
    }

    @Test func peekReadsAtAnIndexAndStopsAtAnEnd() {
        let buffer = ByteBuffer(bytes: [0xAA, 0x80, 0x01, 0x05])
        #expect(MQTTVariableByteInteger.peek(in: buffer, at: 1) == .value(128, length: 2))
        #expect(MQTTVariableByteInteger.peek(in: buffer, at: 1, upTo: 2) == .needMoreBytes)
        #expect(MQTTVariableByteInteger.peek(in: buffer, at: 3) == .value(5, length: 1))
        #expect(MQTTVariableByteInteger.peek(in: buffer, at: 4) == .needMoreBytes)
    }
}
