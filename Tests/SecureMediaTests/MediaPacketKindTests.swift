import Testing

@testable import SecureMedia

@Suite("RFC 7983 demultiplexing")
struct MediaPacketKindTests {
    @Test("Every first byte falls in the range RFC 7983 gives it")
    func firstByteRanges() {
        for first in 0...255 {
            let kind = MediaPacketKind.classify([UInt8(first), 96])
            switch first {
            case 0...3: #expect(kind == .stun)
            case 16...19: #expect(kind == .zrtp)
            case 20...63: #expect(kind == .dtls)
            case 64...79: #expect(kind == .turnChannel)
            case 128...191: #expect(kind == .rtp)
            default: #expect(kind == .unknown, "first byte \(first)")
            }
        }
    }

    @Test("RTCP is told from RTP by packet types 192 to 223 in the second byte")
    func rtcpVersusRTP() {
        #expect(MediaPacketKind.classify([0x80, 200, 0, 6]) == .rtcp)  // SR
        #expect(MediaPacketKind.classify([0x81, 205, 0, 3]) == .rtcp)  // RTPFB (NACK)
        #expect(MediaPacketKind.classify([0x81, 206, 0, 2]) == .rtcp)  // PSFB (PLI)
        #expect(MediaPacketKind.classify([0x80, 96, 0, 1]) == .rtp)
        #expect(MediaPacketKind.classify([0x80, 0xE0, 0, 1]) == .rtp)  // marker + PT 96
        #expect(MediaPacketKind.classify([0x80]) == .unknown)
        #expect(MediaPacketKind.classify([UInt8]()) == .unknown)
    }
}
