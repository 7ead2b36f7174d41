import NIOCore
import STUNCore
import Testing

@Suite("Stream framing of STUN and ChannelData")
struct StreamFramerTests {
    static let channelFrames = [
        ChannelData(channel: 0x4000, data: [1, 2, 3, 4, 5]),
        ChannelData(channel: 0x4FFF, data: []),
        ChannelData(channel: 0x4001, data: [9, 9, 9, 9]),
        ChannelData(channel: 0x4ABC, data: [7, 7, 7]),
    ]

    /// STUN messages and padded ChannelData, interleaved, as a TCP peer would send them.
    static let frames: [StunStreamFrame] = [
        .stun(Vectors.request.bytes), .channelData(channelFrames[0]), .stun(Vectors.ipv4Response.bytes),
        .channelData(channelFrames[1]), .channelData(channelFrames[2]), .stun(Vectors.ipv6Response.bytes),
        .channelData(channelFrames[3]), .stun(Vectors.sha256Request.bytes), .stun(Vectors.longTermRequest.bytes),
    ]

    static let stream: [UInt8] = frames.flatMap { frame -> [UInt8] in
        switch frame {
        case .stun(let bytes): bytes
        case .channelData(let message): message.encoded(padded: true)
        }
    }

    /// Feeds `chunks` through NIO's single-step processor and returns what it yields.
    static func process(_ chunks: [[UInt8]], seenEOF: Bool = true) throws -> [StunStreamFrame] {
        let processor = NIOSingleStepByteToMessageProcessor(StunStreamFramer())
        var out: [StunStreamFrame] = []
        for chunk in chunks {
            try processor.process(buffer: ByteBuffer(bytes: chunk)) { out.append($0) }
        }
        try processor.finishProcessing(seenEOF: seenEOF) { out.append($0) }
        return out
    }

    @Test func aStreamFedOneByteAtATimeYieldsExactlyItsFrames() throws {
        #expect(try Self.process(Self.stream.map { [$0] }) == Self.frames)
    }

    @Test func decodeCalledAfterEveryByteYieldsEachFrameOnItsLastByte() throws {
        var framer = StunStreamFramer()
        var buffer = ByteBuffer()
        var out: [StunStreamFrame] = []
        var frameEnds: [Int] = []
        for (index, byte) in Self.stream.enumerated() {
            buffer.writeInteger(byte)
            while let frame = try framer.decode(buffer: &buffer) {
                out.append(frame)
                frameEnds.append(index + 1)
            }
        }
        #expect(out == Self.frames)
        #expect(buffer.readableBytes == 0)
        var end = 0
        let expectedEnds = Self.frames.map { frame -> Int in
            switch frame {
            case .stun(let bytes): end += bytes.count
            case .channelData(let message): end += message.encoded(padded: true).count
            }
            return end
        }
        #expect(frameEnds == expectedEnds)
    }

    @Test("random chunk sizes yield the same frames", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func randomChunks(seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        var chunks: [[UInt8]] = []
        var rest = Self.stream[...]
        while !rest.isEmpty {
            let size = Int.random(in: 1...97, using: &generator)
            chunks.append(Array(rest.prefix(size)))
            rest = rest.dropFirst(size)
        }
        #expect(try Self.process(chunks) == Self.frames)
    }

    @Test func theWholeStreamInOneChunkYieldsTheSameFrames() throws {
        #expect(try Self.process([Self.stream]) == Self.frames)
    }

    @Test func everyFrameDecodes() throws {
        for frame in Self.frames {
            if case .stun(let bytes) = frame { _ = try StunMessage(decoding: bytes) }
        }
    }

    @Test("a first byte that is neither STUN nor ChannelData stops the stream", arguments: [0x50, 0x80, 0xBF, 0xC0, 0xFF] as [UInt8])
    func invalidFirstByte(first: UInt8) {
        let bytes = [first] + Array(Vectors.request.bytes.dropFirst())
        let error = #expect(throws: StunDecodingError.self) { _ = try Self.process([bytes]) }
        #expect(error?.code == .notChannelData)
        #expect(error?.offset == 0)
    }

    @Test func aDTLSRecordHasTheSTUNTopBitsButNoCookie() {
        // DTLS 1.2 application data (content type 23, RFC 7983 range 20-63).
        let record = hex("17 fefd 0001 000000000001 0010") + [UInt8](repeating: 0xAB, count: 16)
        let error = #expect(throws: StunDecodingError.self) { _ = try Self.process([record]) }
        #expect(error?.code == .badMagicCookie)
    }

    @Test func aBadCookieStopsTheStreamOnceEightBytesArrived() throws {
        var bytes = Vectors.request.bytes
        bytes[5] ^= 0xFF
        var framer = StunStreamFramer()
        var buffer = ByteBuffer(bytes: bytes.prefix(7))
        #expect(try framer.decode(buffer: &buffer) == nil)
        buffer.writeBytes(bytes[7...])
        let error = #expect(throws: StunDecodingError.self) { _ = try framer.decode(buffer: &buffer) }
        #expect(error?.code == .badMagicCookie)
        #expect(error?.offset == 4)
    }

    @Test func aStunLengthNotAMultipleOfFourStopsTheStream() {
        let bytes = withLength(Vectors.request.bytes, 0x57)
        let error = #expect(throws: StunDecodingError.self) { _ = try Self.process([bytes]) }
        #expect(error?.code == .badLength)
    }

    @Test("end of stream inside a frame is a truncated frame", arguments: [1, 3, 4, 19, 20, 50, Vectors.request.bytes.count - 1])
    func eofMidStunFrame(cut: Int) {
        let bytes = Vectors.ipv4Response.bytes + Vectors.request.bytes.prefix(cut)
        let error = #expect(throws: StunDecodingError.self) { _ = try Self.process([bytes]) }
        #expect(error?.code == .truncatedFrame)
        #expect(error?.offset == cut)
    }

    @Test("end of stream inside padded ChannelData is a truncated frame", arguments: 1..<12)
    func eofMidChannelData(cut: Int) {
        let bytes = ChannelData(channel: 0x4000, data: [1, 2, 3, 4, 5]).encoded(padded: true)
        #expect(bytes.count == 12)
        let error = #expect(throws: StunDecodingError.self) { _ = try Self.process([Array(bytes.prefix(cut))]) }
        #expect(error?.code == .truncatedFrame)
    }

    @Test func endOfStreamBetweenFramesIsClean() throws {
        #expect(try Self.process([Vectors.request.bytes]) == [.stun(Vectors.request.bytes)])
        #expect(try Self.process([]) == [])
    }

    @Test func withoutEndOfStreamAPartialFrameIsKept() throws {
        #expect(try Self.process([Array(Vectors.request.bytes.prefix(30))], seenEOF: false) == [])
    }
}
