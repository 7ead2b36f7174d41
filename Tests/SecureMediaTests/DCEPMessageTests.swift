import NIOCore
import Testing

@testable import SecureMedia

@Suite("DCEP messages (RFC 8832 §5)")
struct DCEPMessageTests {
    @Test("A DATA_CHANNEL_OPEN is laid out as RFC 8832 §5.1 draws it")
    func openLayout() {
        let open = DCEPOpenMessage(
            reliability: .init(ordered: false, limit: .maxRetransmits(0x0102_0304)), priority: 0x0200,
            label: "chat", protocol: "v1")
        let bytes = Array(DCEPMessage.open(open).encoded.readableBytesView)
        #expect(bytes == [
            0x03, 0x81, 0x02, 0x00, 0x01, 0x02, 0x03, 0x04, 0x00, 0x04, 0x00, 0x02,
            0x63, 0x68, 0x61, 0x74, 0x76, 0x31,
        ])
    }

    @Test("The OPEN for a default channel labelled \"chat\" decodes")
    func defaultOpen() throws {
        // Written out from RFC 8832 §5.1 for createDataChannel("chat"): reliable, priority 256.
        let bytes: [UInt8] = [0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0x00, 0x04, 0x00, 0x00] + Array("chat".utf8)
        let message = try DCEPMessage.decode(from: ByteBuffer(bytes: bytes))
        #expect(message == .open(DCEPOpenMessage(reliability: .reliable, priority: 256, label: "chat", protocol: "")))
    }

    @Test(
        "Every channel type round-trips with its reliability parameter",
        arguments: [
            DataChannelReliability(ordered: true, limit: .none),
            DataChannelReliability(ordered: false, limit: .none),
            DataChannelReliability(ordered: true, limit: .maxRetransmits(0)),
            DataChannelReliability(ordered: false, limit: .maxRetransmits(7)),
            DataChannelReliability(ordered: true, limit: .maxPacketLifeTime(milliseconds: 1500)),
            DataChannelReliability(ordered: false, limit: .maxPacketLifeTime(milliseconds: UInt32.max)),
        ])
    func roundTrip(reliability: DataChannelReliability) throws {
        let open = DCEPOpenMessage(reliability: reliability, priority: 128, label: "l ✓", protocol: "pod-arcade-input-v1")
        let decoded = try DCEPMessage.decode(from: DCEPMessage.open(open).encoded)
        #expect(decoded == .open(open))
        let types: [UInt8] = [0x00, 0x80, 0x01, 0x81, 0x02, 0x82]
        #expect(types.contains(reliability.channelType))
    }

    @Test("A reliable channel type ignores a non-zero reliability parameter")
    func reliableIgnoresParameter() throws {
        let bytes: [UInt8] = [0x03, 0x80, 0x01, 0x00, 0, 0, 0, 9, 0, 0, 0, 0]
        #expect(try DCEPMessage.decode(from: ByteBuffer(bytes: bytes)) == .open(DCEPOpenMessage(
            reliability: .init(ordered: false, limit: .none), priority: 256, label: "", protocol: "")))
    }

    @Test("DATA_CHANNEL_ACK is the single byte 0x02")
    func ack() throws {
        #expect(Array(DCEPMessage.ack.encoded.readableBytesView) == [0x02])
        #expect(try DCEPMessage.decode(from: ByteBuffer(bytes: [0x02])) == .ack)
    }

    @Test(
        "Malformed DCEP fails with the field and offset",
        arguments: [
            ([], DCEPDecodingError.Code.empty, 0),
            ([0x04], .unknownMessageType, 0),
            ([0x02, 0x00], .lengthMismatch, 1),
            ([0x03, 0x00, 0x01], .truncated, 3),
            ([0x03, 0x03, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0], .unknownChannelType, 1),
            ([0x03, 0x7F, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0], .unknownChannelType, 1),
            ([0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0, 5, 0, 0, 0x61], .truncated, 8),
            ([0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0, 1, 0, 5, 0x61, 0x62], .truncated, 10),
            ([0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF], .truncated, 8),
            ([0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0, 1, 0, 0, 0x61, 0x62], .lengthMismatch, 13),
            ([0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0, 1, 0, 0, 0xFF], .invalidUTF8, 12),
            ([0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0x61, 0xC3], .invalidUTF8, 13),
        ] as [([UInt8], DCEPDecodingError.Code, Int)])
    func malformed(bytes: [UInt8], code: DCEPDecodingError.Code, offset: Int) {
        #expect {
            try DCEPMessage.decode(from: ByteBuffer(bytes: bytes))
        } throws: { error in
            guard let error = error as? DCEPDecodingError else { return false }
            return error.code == code && error.offset == offset
        }
    }

    @Test("Every truncation of a valid OPEN is refused, never misread")
    func everyTruncation() throws {
        let open = DCEPOpenMessage(reliability: .init(ordered: false, limit: .maxRetransmits(2)), label: "input", protocol: "p")
        let bytes = Array(DCEPMessage.open(open).encoded.readableBytesView)
        for length in 0..<bytes.count {
            #expect(throws: DCEPDecodingError.self) { try DCEPMessage.decode(from: ByteBuffer(bytes: bytes[0..<length])) }
        }
        #expect(try DCEPMessage.decode(from: ByteBuffer(bytes: bytes)) == .open(open))
    }

    @Test("Random bytes decode or fail, never crash")
    func fuzz() {
        var rng = SplitMix64(seed: 5)
        var decoded = 0
        for _ in 0..<20_000 {
            let count = Int.random(in: 0..<40, using: &rng)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if count > 0, Bool.random(using: &rng) { bytes[0] = 0x03 }
            if count > 11, Bool.random(using: &rng) {
                bytes[8] = 0
                bytes[9] = UInt8(count - 12)
                bytes[10] = 0
                bytes[11] = 0
                bytes[1] = 0
            }
            if (try? DCEPMessage.decode(from: ByteBuffer(bytes: bytes))) != nil { decoded += 1 }
        }
        #expect(decoded > 0, "some random inputs with consistent lengths decode")
    }
}

@Suite("Data-channel payloads and PPIDs (RFC 8831 §6.6, §8)")
struct DataChannelMessageTests {
    @Test("Empty messages go out as one zero byte with PPID 56 or 57")
    func emptyWireForms() {
        let emptyString = DataChannelMessage.string("").wireForm
        #expect(emptyString.ppid == 56)
        #expect(Array(emptyString.payload.readableBytesView) == [0])
        let emptyBinary = DataChannelMessage.binary(ByteBuffer()).wireForm
        #expect(emptyBinary.ppid == 57)
        #expect(Array(emptyBinary.payload.readableBytesView) == [0])
        #expect(DataChannelMessage.string("a").wireForm.ppid == 51)
        #expect(DataChannelMessage.binary(ByteBuffer(bytes: [1])).wireForm.ppid == 53)
    }

    @Test(
        "Received PPIDs map to messages; partial, DCEP and unknown PPIDs are not whole user messages",
        arguments: [
            (51, .string("ab")),
            (52, nil),
            (53, .binary(ByteBuffer(bytes: [0x61, 0x62]))),
            (54, nil),
            (56, .string("")),
            (57, .binary(ByteBuffer())),
            (50, nil),
            (0, nil),
            (55, nil),
            (1000, nil),
        ] as [(UInt32, DataChannelMessage?)])
    func decodePPID(ppid: UInt32, expected: DataChannelMessage?) {
        #expect(DataChannelMessage.decode(ppid: ppid, payload: ByteBuffer(bytes: [0x61, 0x62])) == expected)
    }

    @Test("byteCount counts UTF-8 bytes of strings")
    func byteCount() {
        #expect(DataChannelMessage.string("é✓").byteCount == 5)
        #expect(DataChannelMessage.binary(ByteBuffer(bytes: [1, 2, 3])).byteCount == 3)
    }
}
