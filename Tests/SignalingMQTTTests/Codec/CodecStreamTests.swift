import NIOCore
import SignalingMQTT
import Testing

/// The stream decoder over a TCP-like byte stream: whole sessions one byte at a time, in random
/// chunks, through NIO's processor, and the early rejection of oversized packets.
@Suite("MQTT codec stream decoding")
struct CodecStreamTests {
    /// A client-to-server session: CONNECT first, then everything else of that version.
    static func session(_ version: MQTTProtocolVersion) -> (packets: [MQTTPacket], bytes: [UInt8]) {
        let samples = version == .v5 ? CodecRoundTripTests.v5 : CodecRoundTripTests.v3
        let connect = samples.first { $0.packet.kind == .connect }!.packet
        let packets = [connect] + samples.map(\.packet).filter { $0.kind != .connect }
        let bytes = packets.flatMap { try! CodecFixtures.encode($0, version) }
        return (packets, bytes)
    }

    /// Feeds `chunks` to one decoder, calling decode until it returns nil after each.
    static func decode(_ chunks: [[UInt8]], version: MQTTProtocolVersion? = nil) throws -> [MQTTPacket] {
        var decoder = MQTTPacketDecoder(version: version)
        var buffer = ByteBuffer()
        var out: [MQTTPacket] = []
        for chunk in chunks {
            buffer.writeBytes(chunk)
            while let packet = try decoder.decode(buffer: &buffer) { out.append(packet) }
        }
        while let packet = try decoder.decodeLast(buffer: &buffer, seenEOF: true) { out.append(packet) }
        #expect(buffer.readableBytes == 0)
        return out
    }

    static func process(_ chunks: [[UInt8]], version: MQTTProtocolVersion? = nil) throws -> [MQTTPacket] {
        let processor = NIOSingleStepByteToMessageProcessor(MQTTPacketDecoder(version: version))
        var out: [MQTTPacket] = []
        for chunk in chunks {
            try processor.process(buffer: ByteBuffer(bytes: chunk)) { out.append($0) }
        }
        try processor.finishProcessing(seenEOF: true) { out.append($0) }
        return out
    }

    static func randomChunks(_ bytes: [UInt8], seed: UInt64, maximum: Int) -> [[UInt8]] {
        var generator = CodecSeededGenerator(seed: seed)
        var chunks: [[UInt8]] = []
        var index = 0
        while index < bytes.count {
            let size = min(Int.random(in: 0...maximum, using: &generator), bytes.count - index)
            chunks.append(Array(bytes[index..<index + size]))
            index += size
        }
        return chunks
    }

    static let versions: [MQTTProtocolVersion] = [.v3_1_1, .v5]

    @Test("a session fed one byte at a time yields exactly its packets", arguments: versions)
    func byteAtATime(version: MQTTProtocolVersion) throws {
        let (packets, bytes) = Self.session(version)
        #expect(try Self.decode(bytes.map { [$0] }) == packets)
    }

    @Test("each packet comes out on its last byte and not before", arguments: versions)
    func packetEnds(version: MQTTProtocolVersion) throws {
        let (packets, bytes) = Self.session(version)
        var decoder = MQTTPacketDecoder()
        var buffer = ByteBuffer()
        var ends: [Int] = []
        for (index, byte) in bytes.enumerated() {
            buffer.writeInteger(byte)
            let before = buffer.readerIndex
            if let packet = try decoder.decode(buffer: &buffer) {
                ends.append(index + 1)
                #expect(packet == packets[ends.count - 1])
                #expect(try decoder.decode(buffer: &buffer) == nil)
            } else {
                #expect(buffer.readerIndex == before, "a partial packet leaves the reader index alone")
            }
        }
        var end = 0
        #expect(
            ends
                == packets.map {
                    end += try! CodecFixtures.encode($0, version).count
                    return end
                })
    }

    @Test("a session in random chunks yields exactly its packets", arguments: versions, 1...20 as ClosedRange<UInt64>)
    func randomChunks(version: MQTTProtocolVersion, seed: UInt64) throws {
        let (packets, bytes) = Self.session(version)
        let chunks = Self.randomChunks(bytes, seed: seed, maximum: [3, 17, 200, 5000][Int(seed % 4)])
        #expect(try Self.decode(chunks) == packets)
        #expect(try Self.process(chunks) == packets)
    }

    @Test("NIO's single-step processor yields the packets from single bytes and from one buffer", arguments: versions)
    func processor(version: MQTTProtocolVersion) throws {
        let (packets, bytes) = Self.session(version)
        #expect(try Self.process(bytes.map { [$0] }) == packets)
        #expect(try Self.process([bytes]) == packets)
    }

    @Test func aServerBoundStreamMustStartWithCONNECT() {
        let pingFirst = CodecFixtures.bytes("c0 00")
        let error = #expect(throws: MQTTDecodingError.self) { try Self.decode([pingFirst]) }
        #expect(error?.code == .connectExpected)
        #expect(error?.reasonCode == .protocolError)
    }

    @Test func aPacketLargerThanTheMaximumIsRefusedBeforeItsBodyArrives() throws {
        // A 1 MiB broker limit, and a PUBLISH announcing 2 MiB: only its 4-byte header is sent.
        var decoder = MQTTPacketDecoder(version: .v5, maximumPacketSize: 1 << 20)
        var buffer = ByteBuffer(bytes: [0x30] + CodecFixtures.vbi(2 << 20).dropLast())
        #expect(try decoder.decode(buffer: &buffer) == nil, "the length is not complete yet")
        buffer.writeBytes(CodecFixtures.vbi(2 << 20).suffix(1))
        let error = #expect(throws: MQTTDecodingError.self) { try decoder.decode(buffer: &buffer) }
        #expect(error?.code == .packetTooLarge)
        #expect(error?.reasonCode == .packetTooLarge)
        #expect(error?.offset == 1)
        #expect(buffer.readableBytes == 5)
    }

    @Test func aPacketOfExactlyTheMaximumIsAccepted() throws {
        let packet = MQTTPacket.publish(MQTTPublish(topic: "t", payload: ByteBuffer(repeating: 1, count: 100)))
        let bytes = try CodecFixtures.encode(packet, .v5)
        var exact = MQTTPacketDecoder(version: .v5, maximumPacketSize: bytes.count)
        var buffer = ByteBuffer(bytes: bytes)
        #expect(try exact.decode(buffer: &buffer) == packet)
        var smaller = MQTTPacketDecoder(version: .v5, maximumPacketSize: bytes.count - 1)
        buffer = ByteBuffer(bytes: bytes)
        #expect(throws: MQTTDecodingError.self) { try smaller.decode(buffer: &buffer) }
    }

    @Test func theMaximumAppliesBeforeCONNECTToo() {
        var decoder = MQTTPacketDecoder(maximumPacketSize: 64)
        var buffer = ByteBuffer(bytes: [0x10, 0xC0, 0x01])
        let error = #expect(throws: MQTTDecodingError.self) { try decoder.decode(buffer: &buffer) }
        #expect(error?.code == .packetTooLarge)
    }

    @Test func aStreamThatEndsInsideAPacketIsTruncatedAtEOF() throws {
        var decoder = MQTTPacketDecoder(version: .v3_1_1)
        var buffer = ByteBuffer(bytes: CodecFixtures.bytes("c0 00 40 02 00"))
        #expect(try decoder.decodeLast(buffer: &buffer, seenEOF: false) == .pingReq)
        #expect(try decoder.decodeLast(buffer: &buffer, seenEOF: false) == nil)
        let error = #expect(throws: MQTTDecodingError.self) { try decoder.decodeLast(buffer: &buffer, seenEOF: true) }
        #expect(error?.code == .truncated)
        var empty = ByteBuffer()
        #expect(try decoder.decodeLast(buffer: &empty, seenEOF: true) == nil)
    }

    @Test func theOneShotInitializerWantsExactlyOnePacket() throws {
        #expect(try MQTTPacket(decoding: ByteBuffer(bytes: [0xC0, 0x00]), version: .v5) == .pingReq)
        let short = #expect(throws: MQTTDecodingError.self) {
            try MQTTPacket(decoding: ByteBuffer(bytes: [0x40, 0x02, 0x00]), version: .v5)
        }
        #expect(short?.code == .truncated)
        let long = #expect(throws: MQTTDecodingError.self) {
            try MQTTPacket(decoding: ByteBuffer(bytes: [0xC0, 0x00, 0xC0]), version: .v5)
        }
        #expect(long?.code == .trailingBytes)
        #expect(long?.offset == 2)
    }

    @Test func aDecoderStartsAtTheReaderIndexAndOffsetsCountFromThePacket() throws {
        var buffer = ByteBuffer(bytes: [0xEE, 0xEE, 0x40, 0x02, 0x00, 0x00])
        buffer.moveReaderIndex(forwardBy: 2)
        var decoder = MQTTPacketDecoder(version: .v5)
        let error = #expect(throws: MQTTDecodingError.self) { try decoder.decode(buffer: &buffer) }
        #expect(error?.code == .zeroPacketIdentifier)
        #expect(error?.offset == 2)
    }
}
