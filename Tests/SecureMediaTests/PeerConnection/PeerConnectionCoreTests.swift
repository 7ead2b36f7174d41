import Foundation
import NIOCore
import Testing

@testable import SecureMedia

/// Our media half answering a browser-like offer, with the browser's DTLS played by a bare
/// `DTLSEndpoint` in memory and its SRTP by an `SRTPSession` on the keys it exported.
final class InMemoryBrowser {
    let ours: PeerConnectionCore
    let local: SDPLocalParameters
    let dtls: DTLSEndpoint
    var srtp: SRTPSession?
    var events: [PeerConnectionCoreEvent] = []
    var browserEvents: [DTLSEvent] = []
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)

    init(
        profiles: [SRTPProtectionProfile] = [.aeadAES128GCM, .aes128CMHMACSHA1_80],
        browserExpects fingerprint: DTLSFingerprint? = nil
    ) throws {
        let browserCertificate = try DTLSCertificate.generate(commonName: "browser")
        let ourCertificate = try DTLSCertificate.shared()
        let offer = try SDPSessionDescription.parse(Self.offer(fingerprint: browserCertificate.fingerprint))
        local = SDPLocalParameters(fingerprint: ourCertificate.fingerprint)
        let session = try SDPNegotiation.answer(offer: offer, local: local).session
        var random = SystemRandomNumberGenerator()
        ours = try PeerConnectionCore(session: session, local: local, certificate: ourCertificate, random: &random)
        dtls = try DTLSEndpoint(
            role: .server, certificate: browserCertificate,
            remoteFingerprints: [fingerprint ?? ourCertificate.fingerprint], srtpProfiles: profiles)
    }

    /// Runs the handshake: our output to the browser and back until nothing moves.
    func handshake() {
        var toBrowser = take(ours.start(now: now))
        for _ in 0..<20 where !toBrowser.isEmpty {
            var toUs: [ByteBuffer] = []
            for datagram in toBrowser { toUs += browserReceive(datagram) }
            toBrowser = []
            for datagram in toUs { toBrowser += take(ours.receive(datagram, now: now)) }
        }
    }

    func take(_ output: PeerConnectionOutput) -> [ByteBuffer] {
        events += output.events
        return output.datagrams
    }

    func browserReceive(_ datagram: ByteBuffer) -> [ByteBuffer] {
        let output = dtls.receive(datagram, now: now)
        for event in output.events {
            browserEvents.append(event)
            if case .connected(let keys) = event { srtp = try? SRTPSession(keyingMaterial: keys) }
        }
        return output.datagrams
    }

    /// RTCP from the browser, protected with its keys.
    func rtcp(_ packets: [any RTCPEncodable]) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        for packet in packets { packet.encode(into: &buffer) }
        buffer.reserveCapacity(buffer.readableBytes + 160)
        try #require(srtp).protectRTCP(&buffer)
        return buffer
    }

    /// Decrypts and decodes one of our media packets.
    func rtp(_ datagram: ByteBuffer) throws -> RTPPacket {
        var packet = datagram
        try #require(srtp).unprotectRTP(&packet)
        return try RTPPacket.decode(from: packet)
    }

    static func offer(fingerprint: DTLSFingerprint) -> String {
        """
        v=0\r
        o=- 1 2 IN IP4 127.0.0.1\r
        s=-\r
        t=0 0\r
        a=group:BUNDLE 0 1\r
        a=fingerprint:\(fingerprint.sdpValue)\r
        a=setup:actpass\r
        a=ice-ufrag:brws\r
        a=ice-pwd:browserpasswordbrowserpass\r
        m=video 9 UDP/TLS/RTP/SAVPF 102 103\r
        c=IN IP4 0.0.0.0\r
        a=mid:0\r
        a=recvonly\r
        a=rtcp-mux\r
        a=rtpmap:102 H264/90000\r
        a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r
        a=rtcp-fb:102 nack\r
        a=rtcp-fb:102 nack pli\r
        a=rtcp-fb:102 ccm fir\r
        a=rtpmap:103 rtx/90000\r
        a=fmtp:103 apt=102\r
        a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r
        a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r
        a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r
        c=IN IP4 0.0.0.0\r
        a=mid:1\r
        a=recvonly\r
        a=rtcp-mux\r
        a=rtpmap:111 opus/48000/2\r
        a=fmtp:111 minptime=10;useinbandfec=1\r

        """
    }

    /// A small Annex B access unit: SPS, PPS and an IDR slice of `size` bytes.
    static func keyframe(size: Int = 3000) -> ByteBuffer {
        var bytes: [UInt8] = [0, 0, 0, 1, 0x67, 0x42, 0xC0, 0x1F, 0xDA, 0, 0, 0, 1, 0x68, 0xCE, 0x3C, 0x80, 0, 0, 0, 1, 0x65]
        bytes += (0..<size).map { UInt8(truncatingIfNeeded: $0 * 7 + 1) | 1 }
        return ByteBuffer(bytes: bytes)
    }
}

protocol RTCPEncodable { func encode(into buffer: inout ByteBuffer) }
extension RTCPGenericNACK: RTCPEncodable {}
extension RTCPPictureLossIndication: RTCPEncodable {}
extension RTCPReceiverReport: RTCPEncodable {}

@Suite("PeerConnectionCore: DTLS-SRTP and media against an in-memory browser")
struct PeerConnectionCoreTests {
    @Test("DTLS connects, AES-GCM is chosen, and the browser decrypts our H.264 packets")
    func connectsAndSends() throws {
        let pair = try InMemoryBrowser()
        pair.handshake()
        #expect(pair.ours.isConnected)
        #expect(pair.events.contains(.connected(.aeadAES128GCM)))
        let output = pair.ours.sendVideo(annexB: InMemoryBrowser.keyframe(), timestamp: 0, now: pair.now)
        #expect(output.datagrams.count >= 3)  // STAP-A, then FU-A fragments of the IDR
        var depacketizer = H264Depacketizer()
        var received: [H264AccessUnit] = []
        for datagram in output.datagrams {
            #expect(datagram.readableBytes <= 1200)
            let packet = try pair.rtp(datagram)
            #expect(packet.header.payloadType == 102)
            #expect(packet.header.ssrc == pair.local.videoSSRC)
            received += try depacketizer.push(packet)
        }
        #expect(received.count == 1)
    }

    @Test("The other profile is used when the browser accepts only AES-CM with HMAC-SHA1-80")
    func otherProfile() throws {
        let pair = try InMemoryBrowser(profiles: [.aes128CMHMACSHA1_80])
        pair.handshake()
        #expect(pair.events.contains(.connected(.aes128CMHMACSHA1_80)))
        let output = pair.ours.sendAudio(opus: ByteBuffer(bytes: [0xFC, 1, 2, 3]), timestamp: 960, now: pair.now)
        let packet = try pair.rtp(try #require(output.datagrams.first))
        #expect(packet.header.payloadType == 111)
        #expect(Array(packet.payload.readableBytesView) == [0xFC, 1, 2, 3])
    }

    @Test("A NACK is answered over RTX and a PLI becomes a keyframe request")
    func feedback() throws {
        let pair = try InMemoryBrowser()
        pair.handshake()
        let sent = pair.ours.sendVideo(annexB: InMemoryBrowser.keyframe(), timestamp: 0, now: pair.now)
        let first = try pair.rtp(try #require(sent.datagrams.dropFirst().first))
        let videoSSRC = pair.local.videoSSRC
        pair.now = pair.now + .milliseconds(30)
        let nack = try pair.rtcp([RTCPGenericNACK(senderSSRC: 1, mediaSSRC: videoSSRC, lost: [first.header.sequenceNumber])])
        let resent = pair.ours.receive(nack, now: pair.now)
        #expect(resent.datagrams.count == 1)
        let rtx = try pair.rtp(try #require(resent.datagrams.first))
        #expect(rtx.header.payloadType == 103)
        #expect(rtx.header.ssrc == pair.local.videoRTXSSRC)
        #expect(rtx.payload.getInteger(at: rtx.payload.readerIndex, as: UInt16.self) == first.header.sequenceNumber)

        let pli = try pair.rtcp([RTCPPictureLossIndication(senderSSRC: 1, mediaSSRC: videoSSRC)])
        let output = pair.ours.receive(pli, now: pair.now)
        #expect(output.events == [.keyframeRequested(.pli)])
        #expect(pair.ours.statistics.keyframeRequests == 1)
    }

    @Test("A certificate that does not match the fingerprint fails the session and sends no media")
    func fingerprintMismatch() throws {
        let stranger = try DTLSCertificate.generate(commonName: "stranger")
        let pair = try InMemoryBrowser(browserExpects: stranger.fingerprint)
        pair.handshake()
        let browserFailed = pair.browserEvents.contains { if case .failed = $0 { true } else { false } }
        #expect(browserFailed)
        #expect(pair.srtp == nil)
        // Our side never gets keys either: the browser aborted.
        #expect(!pair.ours.isConnected)
        let output = pair.ours.sendVideo(annexB: InMemoryBrowser.keyframe(), timestamp: 0, now: pair.now)
        #expect(output.datagrams.isEmpty)
        #expect(pair.ours.statistics.framesBeforeConnected == 1)
    }

    @Test("Garbage, forged SRTCP and media from the browser are dropped and counted; the session goes on")
    func hostileInput() throws {
        let pair = try InMemoryBrowser()
        pair.handshake()
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let count = Int.random(in: 0..<200, using: &rng)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if !bytes.isEmpty, Bool.random(using: &rng) { bytes[0] = 0x80 | (bytes[0] & 0x3F) }  // RTP/RTCP range
            _ = pair.ours.receive(ByteBuffer(bytes: bytes), now: pair.now)
        }
        var forged = try pair.rtcp([RTCPPictureLossIndication(senderSSRC: 1, mediaSSRC: pair.local.videoSSRC)])
        forged.setInteger(forged.getInteger(at: 9, as: UInt8.self)! ^ 0x01, at: 9)
        #expect(pair.ours.receive(forged, now: pair.now).events.isEmpty)
        let stats = pair.ours.statistics
        #expect(stats.srtcpRejected >= 1)
        #expect(stats.unknownDropped + stats.srtcpRejected + stats.rtcpMalformed + stats.rtpReceivedIgnored
            + stats.dtlsDatagramsReceived >= 500)
        let output = pair.ours.sendVideo(annexB: InMemoryBrowser.keyframe(), timestamp: 0, now: pair.now)
        #expect(try pair.rtp(try #require(output.datagrams.first)).header.payloadType == 102)
    }

    @Test("Close sends RTCP BYE for our streams and close_notify")
    func close() throws {
        let pair = try InMemoryBrowser()
        pair.handshake()
        _ = pair.ours.sendVideo(annexB: InMemoryBrowser.keyframe(), timestamp: 0, now: pair.now)
        let output = pair.ours.close(now: pair.now)
        var sawBye = false
        for datagram in output.datagrams {
            switch MediaPacketKind.classify(datagram.readableBytesView) {
            case .rtcp:
                var packet = datagram
                try #require(pair.srtp).unprotectRTCP(&packet)
                let packets = try RTCPPacket.decodeCompound(packet)
                sawBye = sawBye || packets.contains { if case .goodbye = $0 { true } else { false } }
            case .dtls:
                _ = pair.browserReceive(datagram)
            default:
                Issue.record("unexpected datagram on close")
            }
        }
        #expect(sawBye)
        #expect(pair.browserEvents.contains(.closed))
        #expect(pair.ours.sendVideo(annexB: InMemoryBrowser.keyframe(), timestamp: 0, now: pair.now).datagrams.isEmpty)
    }
}
