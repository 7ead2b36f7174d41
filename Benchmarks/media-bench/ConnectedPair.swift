import NIOCore
import SecureMedia

/// Our `PeerConnectionCore` answering a browser-like offer, with DTLS completed in memory
/// against a bare DTLS endpoint that plays the browser. Forced to one SRTP profile.
final class ConnectedPair {
    let ours: PeerConnectionCore
    let browser: DTLSEndpoint
    var sequence: UInt16 = 0

    init(profile: SRTPProtectionProfile) throws {
        let browserCertificate = try DTLSCertificate.generate(commonName: "browser")
        let ourCertificate = try DTLSCertificate.shared()
        let offer = try SDPSessionDescription.parse(Self.offer(fingerprint: browserCertificate.fingerprint))
        let local = SDPLocalParameters(fingerprint: ourCertificate.fingerprint)
        let session = try SDPNegotiation.answer(offer: offer, local: local).session
        var random = SystemRandomNumberGenerator()
        ours = try PeerConnectionCore(session: session, local: local, certificate: ourCertificate, random: &random)
        browser = try DTLSEndpoint(
            role: .server, certificate: browserCertificate, remoteFingerprints: [ourCertificate.fingerprint],
            srtpProfiles: [profile])
        var toBrowser = ours.start(now: .now()).datagrams
        var rounds = 0
        while !ours.isConnected {
            rounds += 1
            precondition(rounds < 20, "DTLS did not connect in memory")
            var toUs: [ByteBuffer] = []
            for datagram in toBrowser { toUs += browser.receive(datagram, now: .now()).datagrams }
            toBrowser = []
            for datagram in toUs { toBrowser += ours.receive(datagram, now: .now()).datagrams }
        }
    }

    /// A minimal browser offer: recvonly H.264 (with RTX) and Opus, BUNDLE, rtcp-mux.
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
}
