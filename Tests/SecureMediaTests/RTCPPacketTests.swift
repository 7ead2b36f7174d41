import NIOCore
import Testing

@testable import SecureMedia

@Suite("RTCP packets (RFC 3550 §6, RFC 4585, RFC 5104, REMB, transport-wide feedback)")
struct RTCPPacketTests {
    // Built by aiortc 1.16 (aiortc.rtp RtcpSrPacket, RtcpSdesPacket, ...).
    static let aiortcSRSDES = rtpHex(
        "81c8000caabbccdde1e2e3e4f1f2f3f40001e2400000000a00002ee0112233440cfffffb0001abcd0000004d1234567800010000"
            + "81ca0005aabbccdd010b7b6162632d636e616d657d000000")
    static let aiortcRR = rtpHex("81c9000701020304112233440cfffffb0001abcd0000004d1234567800010000")
    static let aiortcBYE = rtpHex("82cb0002aabbccdd55667788")
    static let aiortcNACK = rtpHex("81cd000501020304aabbccdd006480110075000000c80000")
    static let aiortcPLI = rtpHex("81ce000201020304aabbccdd")
    static let aiortcREMB = rtpHex("8fce0006010203040000000052454d42020edc6caabbccdd55667788")

    static let block = RTCPReportBlock(
        ssrc: 0x1122_3344, fractionLost: 12, cumulativeLost: -5, extendedHighestSequence: 0x0001_ABCD, jitter: 77,
        lastSenderReport: 0x1234_5678, delaySinceLastSenderReport: 0x0001_0000)

    static func decode(_ bytes: [UInt8]) throws -> [RTCPPacket] {
        try RTCPPacket.decodeCompound(rtpBuffer(bytes))
    }

    static func encode(_ packets: [RTCPPacket]) -> [UInt8] {
        Array(RTCPPacket.encodeCompound(packets).readableBytesView)
    }

    @Test("aiortc's SR + SDES decodes, and we build the same bytes")
    func senderReportAndSDES() throws {
        let packets = try Self.decode(Self.aiortcSRSDES)
        let sr = RTCPSenderReport(
            ssrc: 0xAABB_CCDD, ntpTimestamp: 0xE1E2_E3E4_F1F2_F3F4, rtpTimestamp: 123_456, packetCount: 10,
            octetCount: 12000, reportBlocks: [Self.block])
        let sdes = RTCPSourceDescription(chunks: [.init(ssrc: 0xAABB_CCDD, items: [.cname("{abc-cname}")])])
        #expect(packets == [.senderReport(sr), .sourceDescription(sdes)])
        #expect(sr.compactNTP == 0xE3E4_F1F2)
        if case .sourceDescription(let decoded) = packets[1] { #expect(decoded.chunks[0].cname == "{abc-cname}") }
        #expect(Self.encode(packets) == Self.aiortcSRSDES)
    }

    @Test("aiortc's RR, BYE, NACK, PLI and REMB decode, and we build the same bytes")
    func feedbackFromAiortc() throws {
        let expected: [([UInt8], RTCPPacket)] = [
            (Self.aiortcRR, .receiverReport(RTCPReceiverReport(ssrc: 0x0102_0304, reportBlocks: [Self.block]))),
            (Self.aiortcBYE, .goodbye(RTCPGoodbye(ssrcs: [0xAABB_CCDD, 0x5566_7788]))),
            (
                Self.aiortcNACK,
                .genericNACK(RTCPGenericNACK(senderSSRC: 0x0102_0304, mediaSSRC: 0xAABB_CCDD, lost: [100, 101, 105, 116, 117, 200]))
            ),
            (Self.aiortcPLI, .pictureLossIndication(RTCPPictureLossIndication(senderSSRC: 0x0102_0304, mediaSSRC: 0xAABB_CCDD))),
            (
                Self.aiortcREMB,
                .receiverEstimatedMaxBitrate(
                    RTCPReceiverEstimatedMaxBitrate(senderSSRC: 0x0102_0304, bitrate: 1_500_000, ssrcs: [0xAABB_CCDD, 0x5566_7788]))
            ),
        ]
        for (bytes, packet) in expected {
            #expect(try Self.decode(bytes) == [packet])
            #expect(Self.encode([packet]) == bytes)
        }
    }

    @Test("A NACK expands PID and BLP into the sequence numbers, across the wrap")
    func nackExpansion() throws {
        guard case .genericNACK(let nack) = try Self.decode(Self.aiortcNACK)[0] else {
            Issue.record("not a NACK")
            return
        }
        #expect(nack.sequenceNumbers == [100, 101, 105, 116, 117, 200])
        let wrapped = RTCPGenericNACK(senderSSRC: 1, mediaSSRC: 2, lost: [65534, 65535, 0, 3])
        #expect(wrapped.entries == [.init(packetID: 65534, lostBitmask: 0b1_0011)])
        #expect(wrapped.sequenceNumbers == [65534, 65535, 0, 3])
    }

    static let roundTrips: [RTCPPacket] = [
        .senderReport(RTCPSenderReport(ssrc: 1, ntpTimestamp: 2, rtpTimestamp: 3, packetCount: 4, octetCount: 5)),
        .senderReport(
            RTCPSenderReport(
                ssrc: 1, ntpTimestamp: .max, rtpTimestamp: 3, packetCount: 4, octetCount: 5,
                reportBlocks: [block, RTCPReportBlock(ssrc: 9, cumulativeLost: 0x7F_FFFF)], profileExtension: [1, 2, 3, 4])),
        .receiverReport(RTCPReceiverReport(ssrc: 7)),
        .receiverReport(RTCPReceiverReport(ssrc: 7, reportBlocks: [RTCPReportBlock(ssrc: 1, cumulativeLost: -0x80_0000)])),
        .sourceDescription(RTCPSourceDescription(chunks: [])),
        .sourceDescription(
            RTCPSourceDescription(chunks: [
                .init(ssrc: 1, items: [.cname("ab")]), .init(ssrc: 2, items: [.cname("abc"), .init(type: 6, value: [])]),
                .init(ssrc: 3, items: []),
            ])),
        .goodbye(RTCPGoodbye(ssrcs: [])),
        .goodbye(RTCPGoodbye(ssrcs: [1], reason: Array("closing".utf8))),
        .goodbye(RTCPGoodbye(ssrcs: [1, 2], reason: [])),
        .genericNACK(RTCPGenericNACK(senderSSRC: 1, mediaSSRC: 2, entries: [.init(packetID: 9, lostBitmask: 0xFFFF)])),
        .pictureLossIndication(RTCPPictureLossIndication(senderSSRC: 1, mediaSSRC: 2)),
        .fullIntraRequest(RTCPFullIntraRequest(senderSSRC: 1, entries: [.init(ssrc: 2, sequenceNumber: 7), .init(ssrc: 3, sequenceNumber: 255)])),
        .receiverEstimatedMaxBitrate(RTCPReceiverEstimatedMaxBitrate(senderSSRC: 1, bitrate: 0x3_FFFF, ssrcs: [])),
        .receiverEstimatedMaxBitrate(RTCPReceiverEstimatedMaxBitrate(senderSSRC: 1, bitrate: 0x3_FFFF << 20, ssrcs: [5])),
        .transportFeedback(
            RTCPTransportFeedback(
                senderSSRC: 1, mediaSSRC: 2, baseSequenceNumber: 65530, referenceTime: -5, feedbackPacketCount: 9,
                packets: RTCPPacketTests.twccStatuses(base: 65530))),
        .transportFeedback(
            RTCPTransportFeedback(
                senderSSRC: 1, mediaSSRC: 2, baseSequenceNumber: 0, referenceTime: 0x7F_FFFF, feedbackPacketCount: 0, packets: [])),
        .unknown(RTCPRawPacket(packetType: 204, count: 3, body: [0, 0, 0, 1, 65, 66, 67, 68, 9, 9, 9, 9])),
        .unknown(RTCPRawPacket(packetType: 206, count: 15, body: [0, 0, 0, 1, 0, 0, 0, 0, 65, 66, 67, 68])),
    ]

    /// A mix that needs every chunk kind: a long run, one-bit and two-bit vectors, large and
    /// negative deltas.
    static func twccStatuses(base: UInt16) -> [RTCPTransportFeedback.PacketStatus] {
        var kinds: [(RTCPTransportFeedback.Status, Int16?)] = []
        kinds += Array(repeating: (.smallDelta, 4), count: 20)
        kinds += [(.notReceived, nil), (.smallDelta, 255), (.notReceived, nil)]
        kinds += Array(repeating: (.notReceived, nil), count: 9000)
        kinds += [(.largeOrNegativeDelta, -300), (.smallDelta, 0), (.largeOrNegativeDelta, 1000)]
        kinds += (0..<14).map { $0 % 3 == 0 ? (.notReceived, nil) : (.smallDelta, Int16($0)) }
        return kinds.enumerated().map {
            .init(sequenceNumber: base &+ UInt16($0.offset), status: $0.element.0, delta: $0.element.1)
        }
    }

    @Test("Every packet kind round trips, alone and in one compound packet")
    func roundTrip() throws {
        for packet in Self.roundTrips {
            let bytes = Self.encode([packet])
            #expect(bytes.count % 4 == 0)
            #expect(try Self.decode(bytes) == [packet])
        }
        #expect(try Self.decode(Self.encode(Self.roundTrips)) == Self.roundTrips)
    }

    @Test("Transport-wide feedback decodes a hand-built packet with each chunk type")
    func transportFeedbackVector() throws {
        // base 10, 5 statuses: run-length chunk "2 × small delta", 2-bit vector [large, not
        // received, small], deltas 1, 2 (small), -4 (large, 2 bytes), 3 (small).
        let bytes = rtpHex(
            "8fcd0007 00000001 00000002 000a0005 00001401 2002 e100 01 02 fffc 03 000000")
        guard case .transportFeedback(let fb) = try Self.decode(bytes)[0] else {
            Issue.record("not transport feedback")
            return
        }
        #expect(fb.baseSequenceNumber == 10)
        #expect(fb.referenceTime == 0x14)
        #expect(fb.feedbackPacketCount == 1)
        #expect(fb.packets.map(\.status) == [.smallDelta, .smallDelta, .largeOrNegativeDelta, .notReceived, .smallDelta])
        #expect(fb.packets.map(\.delta) == [1, 2, -4, nil, 3])
        #expect(fb.packets.map(\.sequenceNumber) == [10, 11, 12, 13, 14])
    }

    @Test("A transport-wide feedback from Chrome, with its padding, decodes as Wireshark reads it")
    func chromeTransportFeedback() throws {
        // Sender 1, media 0xdd586eb6, base 1, 9 statuses, reference time 6197520, one
        // run-length chunk (9 × small delta), deltas 7, 3, 11, 14, 0, 1, 0, 2, 6 ms, P bit
        // with one padding byte.
        let bytes = rtpHex("afcd0007 00000001 dd586eb6 00010009 5e911000 2009 1c0c2c38 00040008 18 01")
        guard case .transportFeedback(let fb) = try Self.decode(bytes)[0] else {
            Issue.record("not transport feedback")
            return
        }
        #expect(fb.mediaSSRC == 0xDD58_6EB6)
        #expect(fb.baseSequenceNumber == 1)
        #expect(fb.referenceTime == 6_197_520)
        #expect(fb.feedbackPacketCount == 0)
        #expect(fb.packets.map(\.sequenceNumber) == Array(1...9))
        #expect(fb.packets.allSatisfy { $0.status == .smallDelta })
        #expect(fb.packets.map { Int($0.delta!) * 250 } == [7000, 3000, 11000, 14000, 0, 1000, 0, 2000, 6000])
    }

    @Test("The P bit's padding is removed from the last packet")
    func padding() throws {
        // A PLI with 4 bytes of padding: length 3 words after the header.
        let bytes = rtpHex("a1ce0003 01020304 aabbccdd 00000004")
        #expect(try Self.decode(bytes) == [.pictureLossIndication(RTCPPictureLossIndication(senderSSRC: 0x0102_0304, mediaSSRC: 0xAABB_CCDD))])
    }

    static func expectError(_ bytes: [UInt8], _ code: RTCPParseError.Code, offset: Int? = nil, _ comment: Comment? = nil) {
        do {
            _ = try decode(bytes)
            Issue.record("decoded: \(String(describing: comment))")
        } catch let error as RTCPParseError {
            #expect(error.code == code, comment)
            if let offset { #expect(error.offset == offset, comment) }
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("Structural errors: empty, truncated header, bad version, padding beyond the packet")
    func structuralErrors() {
        Self.expectError([], .empty, offset: 0)
        Self.expectError([0x81, 0xC9, 0], .truncatedHeader, offset: 0)
        Self.expectError(Self.aiortcPLI + [0x81], .truncatedHeader, offset: 12)
        Self.expectError([0x41] + Self.aiortcPLI.dropFirst(), .badVersion, offset: 0)
        Self.expectError(Self.aiortcPLI + [0xC1] + Self.aiortcPLI.dropFirst(), .badVersion, offset: 12)
        Self.expectError(rtpHex("a1ce0002 01020304 aabbcc00"), .badPadding, offset: 11)
        Self.expectError(rtpHex("a1ce0002 01020304 aabbcc09"), .badPadding, offset: 11)
        // Padding that eats into the fixed fields leaves the PLI too short.
        Self.expectError(rtpHex("a1ce0002 01020304 aabbcc04"), .bodyTooShort)
    }

    @Test("Every length field, told one word more or fewer, is caught (lying lengths)")
    func lyingLengths() {
        let fixtures = [
            Self.aiortcSRSDES, Self.aiortcRR, Self.aiortcBYE, Self.aiortcNACK, Self.aiortcPLI, Self.aiortcREMB,
            Self.encode(Self.roundTrips),
        ]
        for fixture in fixtures {
            // Find each packet's length field by walking the honest compound packet.
            var offsets: [Int] = []
            var at = 0
            while at < fixture.count {
                offsets.append(at + 2)
                at += 4 * (Int(fixture[at + 2]) << 8 + Int(fixture[at + 3]) + 1)
            }
            for lengthAt in offsets {
                let honest = Int(fixture[lengthAt]) << 8 | Int(fixture[lengthAt + 1])
                for lie in [honest + 1, honest + 1000, 65535, honest - 1, 0] where lie >= 0 && lie != honest {
                    var bytes = fixture
                    bytes[lengthAt] = UInt8(lie >> 8)
                    bytes[lengthAt + 1] = UInt8(lie & 0xFF)
                    // A lie may still parse when the shorter packet is itself valid and the
                    // rest happens to parse too; it must never crash, and a longer lie on the
                    // last packet must be caught.
                    let result = Result { try Self.decode(bytes) }
                    if lengthAt == offsets.last!, lie > honest {
                        if case .success = result { Issue.record("length \(lie) for \(honest) accepted") }
                    }
                    if lie >= honest + 1000 {
                        #expect(throws: RTCPParseError(.lengthPastEnd, field: "packet[\(offsets.firstIndex(of: lengthAt)!)].length", offset: lengthAt)) {
                            try result.get()
                        }
                    }
                }
            }
        }
    }

    @Test("Counts that promise more than the length holds are rejected with the field named")
    func countsBeyondLength() {
        // RR claiming 2 report blocks with room for 1.
        var sr = Self.aiortcRR
        sr[0] = 0x82
        Self.expectError(sr, .bodyTooShort, offset: 32)
        // SDES item length past the chunk.
        Self.expectError(rtpHex("81ca0002 aabbccdd 01 09 6162"), .badItem, offset: 9)
        // SDES chunk with no terminating null octet.
        Self.expectError(rtpHex("81ca0002 aabbccdd 01 02 6162"), .badItem, offset: 12)
        // BYE reason past the end.
        Self.expectError(rtpHex("81cb0002 aabbccdd 09616263"), .badItem, offset: 8)
        // NACK without an FCI entry.
        Self.expectError(rtpHex("81cd0002 01020304 aabbccdd"), .bodyTooShort)
        // REMB with numSSRC 3 and one SSRC.
        Self.expectError(rtpHex("8fce0005 01020304 00000000 52454d42 030edc6c aabbccdd"), .badItem, offset: 16)
        // Transport feedback whose status count needs more chunks than present.
        Self.expectError(rtpHex("8fcd0004 00000001 00000002 000a0064 00001401"), .badItem, offset: 20)
        // Transport feedback whose deltas are missing.
        Self.expectError(rtpHex("8fcd0005 00000001 00000002 000a0004 00001401 20040000"), .badItem, offset: 24)
        // Reserved status symbol 3 in a run-length chunk.
        Self.expectError(rtpHex("8fcd0005 00000001 00000002 000a0002 00001401 60020000"), .badItem, offset: 20)
    }

    @Test("Every truncation of a valid compound packet is rejected or decodes a prefix, never crashes")
    func truncations() {
        let full = Self.encode(Self.roundTrips)
        for cut in 0..<full.count {
            if let decoded = try? Self.decode(Array(full.prefix(cut))) {
                #expect(decoded.count < Self.roundTrips.count)
            }
        }
    }

    @Test("Random bytes never crash the decoder (bounded loop)")
    func randomBytes() {
        var random = RTPTestRandom(state: 7)
        let seeds = Self.roundTrips.map { Self.encode([$0]) }
        for i in 0..<20_000 {
            var bytes: [UInt8]
            if i % 2 == 0 {
                // Mutate a valid packet: a few random bytes changed.
                bytes = seeds[i / 2 % seeds.count]
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
            } else {
                bytes = (0..<Int.random(in: 0..<80, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                if !bytes.isEmpty { bytes[0] = 0x80 | (bytes[0] & 0x3F) }
            }
            _ = try? Self.decode(bytes)
        }
    }
}
