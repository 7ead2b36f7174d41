import NIOCore
import Testing

@testable import SecureMedia

/// Hex string to bytes (test fixtures).
func rtpHex(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = Array(hex.filter { !$0.isWhitespace })
    if chars.count % 2 == 1 { chars.append("0") }
    for i in stride(from: 0, to: chars.count, by: 2) { out.append(UInt8(String(chars[i...i + 1]), radix: 16)!) }
    return out
}

func rtpBuffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

/// A deterministic generator for the fuzz loops.
struct RTPTestRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("RTP packets (RFC 3550 §5.1, RFC 8285)")
struct RTPPacketTests {
    /// Built by aiortc 1.16 `RtpPacket.serialize` with mid "0" (id 1), abs-send-time 0x123456
    /// (id 2), transport-wide seq 0x0BCD (id 3), one CSRC and 4 bytes of (random) padding.
    static let aiortcPacket = rtpHex(
        "b1e010e101020304aabbccdd0a0b0c0dbede0003103022123456310bcd0000006568656c6c6f310c2704")

    @Test("A packet built by aiortc decodes field by field")
    func decodesAiortcPacket() throws {
        let packet = try RTPPacket.decode(from: rtpBuffer(Self.aiortcPacket))
        #expect(packet.header.marker)
        #expect(packet.header.payloadType == 96)
        #expect(packet.header.sequenceNumber == 4321)
        #expect(packet.header.timestamp == 0x0102_0304)
        #expect(packet.header.ssrc == 0xAABB_CCDD)
        #expect(packet.header.csrcs == [0x0A0B_0C0D])
        let ext = try #require(packet.header.extensions)
        #expect(ext.isOneByte)
        #expect(ext.mid(id: 1) == "0")
        #expect(ext.absSendTime(id: 2) == 0x123456)
        #expect(ext.transportSequenceNumber(id: 3) == 0x0BCD)
        #expect(Array(packet.payload.readableBytesView) == Array("\u{65}hello".utf8))
        #expect(packet.paddingLength == 4)
    }

    @Test("Encoding the decoded aiortc packet gives its bytes back, padding content aside")
    func reencodesAiortcPacket() throws {
        let packet = try RTPPacket.decode(from: rtpBuffer(Self.aiortcPacket))
        var out = ByteBuffer()
        packet.encode(into: &out)
        let bytes = Array(out.readableBytesView)
        #expect(bytes.count == Self.aiortcPacket.count)
        #expect(bytes.prefix(bytes.count - 4) == Self.aiortcPacket.prefix(bytes.count - 4))
        #expect(bytes.last == 4)
    }

    @Test("Our header with the three extensions we send matches aiortc's bytes")
    func ourExtensionsMatchAiortc() {
        var out = ByteBuffer()
        var block = RTPExtensionBlockWriter(twoByte: false, into: &out)
        block.append(id: 1, into: &out) { $0.writeString("0") }
        block.append(id: 2, into: &out) { RTPAbsSendTime.write(0x123456, into: &$0) }
        block.append(id: 3, into: &out) { $0.writeInteger(UInt16(0x0BCD)) }
        block.finish(into: &out)
        #expect(Array(out.readableBytesView) == Array(Self.aiortcPacket[16..<32]))
    }

    @Test(
        "Headers round trip through encode and decode",
        arguments: [
            RTPHeader(payloadType: 111, sequenceNumber: 0, timestamp: 0, ssrc: 1),
            RTPHeader(marker: true, payloadType: 127, sequenceNumber: 65535, timestamp: .max, ssrc: .max, csrcs: [1, 2, 3]),
            RTPHeader(
                payloadType: 96, sequenceNumber: 7, timestamp: 9, ssrc: 5,
                extensions: RTPHeaderExtensions(elements: [
                    .init(id: 1, data: [1]), .init(id: 14, data: Array(repeating: 7, count: 16)),
                ])),
            RTPHeader(
                payloadType: 96, sequenceNumber: 7, timestamp: 9, ssrc: 5,
                extensions: RTPHeaderExtensions(
                    profile: RTPHeaderExtensions.twoByteProfile,
                    elements: [.init(id: 200, data: Array(repeating: 9, count: 40)), .init(id: 3, data: [])])),
            RTPHeader(
                payloadType: 96, sequenceNumber: 7, timestamp: 9, ssrc: 5,
                extensions: RTPHeaderExtensions(profile: 0x1234, opaqueData: [1, 2, 3, 4, 5, 6, 7, 8])),
        ])
    func headerRoundTrip(header: RTPHeader) throws {
        for padding in [0, 1, 7] {
            var out = ByteBuffer()
            let packet = RTPPacket(header: header, payload: ByteBuffer(bytes: [9, 8, 7]), paddingLength: padding)
            packet.encode(into: &out)
            let decoded = try RTPPacket.decode(from: out)
            #expect(decoded == packet)
            #expect(try RTPHeader.length(of: out) == out.readableBytes - 3 - padding)
        }
    }

    @Test("abs-send-time is seconds in 6.18 fixed point, wrapping at 64 s")
    func absSendTime() {
        #expect(RTPAbsSendTime.value(nanoseconds: 0) == 0)
        #expect(RTPAbsSendTime.value(nanoseconds: 1_000_000_000) == 1 << 18)
        #expect(RTPAbsSendTime.value(nanoseconds: 500_000_000) == 1 << 17)
        #expect(RTPAbsSendTime.value(nanoseconds: 64_000_000_000) == 0)
        #expect(RTPAbsSendTime.value(nanoseconds: 63_999_999_999) == 0xFF_FFFF)
        #expect(RTPAbsSendTime.value(.uptimeNanoseconds(65_250_000_000)) == 1 << 18 | 1 << 16)
    }

    @Test("Sequence number comparison survives the wrap")
    func sequenceComparison() {
        #expect(RTPSequence.isNewer(1, than: 0))
        #expect(RTPSequence.isNewer(0, than: 65535))
        #expect(!RTPSequence.isNewer(65535, than: 0))
        #expect(!RTPSequence.isNewer(5, than: 5))
    }

    static let badPackets: [(String, [UInt8], RTPParseError.Code, Int)] = [
        ("empty", [], .truncatedHeader, 0),
        ("11 bytes", Array(repeating: 0x80, count: 11), .truncatedHeader, 0),
        ("version 1", [0x40] + Array(repeating: 0, count: 11), .badVersion, 0),
        ("version 3", [0xC0] + Array(repeating: 0, count: 11), .badVersion, 0),
        ("CSRC count 2, one present", [0x82] + Array(repeating: 0, count: 15), .truncatedCSRCList, 12),
        ("X without extension header", [0x90] + Array(repeating: 0, count: 13), .truncatedExtension, 12),
        ("extension length past end", [0x90] + Array(repeating: 0, count: 11) + [0xBE, 0xDE, 0, 2, 0x10, 1, 0, 0], .truncatedExtension, 14),
        ("one-byte element past block", [0x90] + Array(repeating: 0, count: 11) + [0xBE, 0xDE, 0, 1, 0x13, 1, 2, 3], .badExtensionElement, 16),
        ("two-byte element past block", [0x90] + Array(repeating: 0, count: 11) + [0x10, 0x00, 0, 1, 1, 3, 2, 3], .badExtensionElement, 17),
        ("two-byte header cut", [0x90] + Array(repeating: 0, count: 11) + [0x10, 0x00, 0, 1, 0, 0, 0, 5], .badExtensionElement, 19),
        ("padding count zero", [0xA0] + Array(repeating: 0, count: 11) + [1, 0], .badPadding, 13),
        ("padding longer than payload", [0xA0] + Array(repeating: 0, count: 11) + [1, 3], .badPadding, 13),
        ("padding bit, no payload", [0xA0] + Array(repeating: 0, count: 11), .badPadding, 11),
    ]

    @Test("Malformed packets are rejected with the code and offset of the failing field")
    func malformed() {
        for (name, bytes, code, offset) in Self.badPackets {
            do {
                _ = try RTPPacket.decode(from: rtpBuffer(bytes))
                Issue.record("\(name) decoded")
            } catch {
                #expect(error.code == code, "\(name)")
                #expect(error.offset == offset, "\(name)")
            }
        }
    }

    @Test("One-byte id 15 ends the extension block without an error (RFC 8285 §4.2)")
    func id15StopsParsing() throws {
        let bytes: [UInt8] = [0x90] + Array(repeating: 0, count: 11) + [0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0xFF, 0x33]
        let packet = try RTPPacket.decode(from: rtpBuffer(bytes))
        #expect(packet.header.extensions?.elements == [RTPHeaderExtensionElement(id: 1, data: [0xAA])])
    }

    @Test("Every truncation of a valid packet is rejected or decodes to a shorter payload, never crashes")
    func truncations() throws {
        for cut in 0..<Self.aiortcPacket.count {
            let bytes = Array(Self.aiortcPacket.prefix(cut))
            if let packet = try? RTPPacket.decode(from: rtpBuffer(bytes)) {
                #expect(packet.payload.readableBytes < 6)
            }
        }
    }

    @Test("Random bytes never crash the decoder (bounded loop)")
    func randomBytes() {
        var random = RTPTestRandom(state: 42)
        var accepted = 0
        for _ in 0..<20_000 {
            let count = Int.random(in: 0..<64, using: &random)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
            if !bytes.isEmpty { bytes[0] = 0x80 | (bytes[0] & 0x3F) }  // mostly version 2
            if let packet = try? RTPPacket.decode(from: rtpBuffer(bytes)) {
                accepted += 1
                #expect(packet.payload.readableBytes + packet.paddingLength <= count - 12)
            }
        }
        #expect(accepted > 0)
    }
}
