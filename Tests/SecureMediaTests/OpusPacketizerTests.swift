import NIOCore
import Testing

@testable import SecureMedia

@Suite("Opus packetization (RFC 7587)")
struct OpusPacketizerTests {
    static let durations: [([UInt8], UInt32)] = [
        ([0x78], 960),  // config 15: Hybrid FB 20 ms, code 0
        ([0xF8], 960),  // config 31: CELT FB 20 ms
        ([0xF9], 1920),  // code 1: two frames
        ([0xFA], 1920),  // code 2: two frames
        ([0xFB, 0x03], 2880),  // code 3, three frames
        ([0x08], 960),  // config 1: SILK NB 20 ms
        ([0x18], 2880),  // config 3: SILK NB 60 ms
        ([0xE0], 120),  // config 28: CELT 2.5 ms
    ]

    @Test("Packet duration follows the TOC configuration and frame count (RFC 6716 §3.1)", arguments: durations)
    func duration(bytes: [UInt8], samples: UInt32) {
        #expect(OpusPacketDuration.samples(of: ByteBuffer(bytes: bytes)) == samples)
    }

    @Test("Impossible durations are nil: empty, missing frame count, zero frames, over 120 ms")
    func impossibleDurations() {
        #expect(OpusPacketDuration.samples(of: ByteBuffer()) == nil)
        #expect(OpusPacketDuration.samples(of: ByteBuffer(bytes: [0xFB])) == nil)
        #expect(OpusPacketDuration.samples(of: ByteBuffer(bytes: [0xFB, 0x00])) == nil)
        #expect(OpusPacketDuration.samples(of: ByteBuffer(bytes: [0x1B, 0x03])) == nil)  // 3 × 60 ms
    }

    @Test("The marker goes on the first packet and the first after a gap (talkspurt), not in between")
    func talkspurtMarker() {
        var packetizer = OpusPacketizer()
        let frame = ByteBuffer(bytes: [0xF8, 1, 2, 3])
        #expect(packetizer.marker(for: frame, rtpTimestamp: 1000) == true)
        #expect(packetizer.marker(for: frame, rtpTimestamp: 1960) == false)
        #expect(packetizer.marker(for: frame, rtpTimestamp: 2920) == false)
        // DTX: 200 ms of silence not sent.
        #expect(packetizer.marker(for: frame, rtpTimestamp: 2920 + 960 + 9600) == true)
        #expect(packetizer.marker(for: frame, rtpTimestamp: 2920 + 960 + 9600 + 960) == false)
        var unmarked = OpusPacketizer(marksTalkspurts: false)
        #expect(unmarked.marker(for: frame, rtpTimestamp: 0) == false)
    }

    @Test("Empty and oversized Opus packets are dropped and counted")
    func rejects() {
        var packetizer = OpusPacketizer(maxPayloadSize: 10)
        #expect(packetizer.marker(for: ByteBuffer(), rtpTimestamp: 0) == nil)
        #expect(packetizer.marker(for: ByteBuffer(bytes: Array(repeating: 0xF8, count: 11)), rtpTimestamp: 0) == nil)
        #expect(packetizer.rejectedFrames == 2)
    }

    @Test("The Opus packet is the whole RTP payload; an empty payload is an error")
    func depacketize() throws {
        let header = RTPHeader(payloadType: 111, sequenceNumber: 1, timestamp: 2, ssrc: 3)
        let packet = RTPPacket(header: header, payload: ByteBuffer(bytes: [0xF8, 9]))
        #expect(try OpusPacketizer.opusPacket(from: packet) == ByteBuffer(bytes: [0xF8, 9]))
        #expect(throws: RTPParseError(.emptyPayload, field: "payload", offset: 0)) {
            try OpusPacketizer.opusPacket(from: RTPPacket(header: header, payload: ByteBuffer()))
        }
    }
}
