import STUNCore
import Testing

@Suite("TURN ChannelData")
struct ChannelDataTests {
    @Test("ChannelData round trips, padded or not", arguments: [0, 1, 2, 3, 4, 5, 100, 65_535])
    func roundTrips(size: Int) throws {
        let message = ChannelData(channel: 0x4001, data: (0..<size).map { UInt8(truncatingIfNeeded: $0) })
        let plain = message.encoded()
        #expect(plain.count == 4 + size)
        #expect(Array(plain[0..<4]) == [0x40, 0x01, UInt8(size >> 8), UInt8(size & 0xFF)])
        #expect(try ChannelData(decoding: plain) == message)

        let padded = message.encoded(padded: true)
        #expect(padded.count % 4 == 0)
        #expect(padded.count - plain.count == (4 - size % 4) % 4)
        #expect(padded[plain.count...].allSatisfy { $0 == 0 })
        #expect(try ChannelData(decoding: padded) == message)
    }

    @Test("the channel range ends are valid", arguments: [0x4000, 0x4FFF] as [UInt16])
    func validChannels(channel: UInt16) throws {
        #expect(try ChannelData(decoding: [UInt8(channel >> 8), UInt8(channel & 0xFF), 0, 0]).channel == channel)
    }

    @Test("channels outside 0x4000-0x4FFF are rejected", arguments: [0x0000, 0x3FFF, 0x5000, 0xFFFF] as [UInt16])
    func invalidChannels(channel: UInt16) {
        let error = #expect(throws: StunDecodingError.self) {
            try ChannelData(decoding: [UInt8(channel >> 8), UInt8(channel & 0xFF), 0, 1, 0xAA])
        }
        #expect(error?.code == .invalidChannelNumber)
        #expect(error?.offset == 0)
    }

    @Test("a header under 4 bytes is a truncated frame", arguments: 0..<4)
    func truncatedHeader(size: Int) {
        let error = #expect(throws: StunDecodingError.self) { try ChannelData(decoding: Array([0x40, 0x00, 0x00].prefix(size))) }
        #expect(error?.code == .truncatedFrame)
        #expect(error?.offset == size)
    }

    @Test func dataShorterThanTheLengthIsATruncatedFrame() {
        let bytes = Array(ChannelData(channel: 0x4000, data: [1, 2, 3, 4, 5]).encoded().dropLast())
        let error = #expect(throws: StunDecodingError.self) { try ChannelData(decoding: bytes) }
        #expect(error?.code == .truncatedFrame)
        #expect(error?.offset == 2)
    }

    @Test func moreThanThreeBytesAfterTheDataAreALengthMismatch() throws {
        let bytes = ChannelData(channel: 0x4000, data: [1]).encoded()
        #expect(try ChannelData(decoding: bytes + [0, 0, 0]).data == [1])
        let error = #expect(throws: StunDecodingError.self) { try ChannelData(decoding: bytes + [0, 0, 0, 0]) }
        #expect(error?.code == .lengthMismatch)
    }

    @Test func theFirstByteRangeIsSixtyFourToSeventyNine() {
        for byte in UInt8.min...UInt8.max {
            #expect(ChannelData.looksLikeChannelData(firstByte: byte) == (64...79).contains(byte), "\(byte)")
        }
    }
}
