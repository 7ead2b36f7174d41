import Foundation
import ICEAgent
import Testing

@testable import SecureMedia

@Suite("JSEP offers and accepting answers (RFC 8829 §5.2.1, §5.10)")
struct SDPOfferTests {
    @Test("Our offer has sendonly H.264 with RTX, sendonly Opus and the data channel, BUNDLEd with actpass")
    func offerStructure() throws {
        let offer = SDPNegotiation.offer(local: try SDPFixtures.local())
        #expect(try SDPSessionDescription.parse(offer.text) == offer)
        #expect(offer.bundleGroup?.mids == ["0", "1", "2"])
        #expect(offer.media.map(\.kind) == [.video, .audio, .application])
        let video = offer.media[0]
        #expect(video.proto == "UDP/TLS/RTP/SAVPF" && video.formats == ["102", "103"])
        #expect(video.direction == .sendonly && video.setup == .actpass && video.rtcpMux && video.rtcpReducedSize)
        #expect(video.iceOptions == ["trickle"])
        #expect(video.formatParameters(for: 102)?["profile-level-id"] == "42e01f")
        #expect(video.formatParameters(for: 102)?["packetization-mode"] == "1")
        #expect(video.formatParameters(for: 103)?["apt"] == "102")
        #expect(video.rtcpFeedback(for: 102).map(\.kind) == ["nack", "nack pli", "ccm fir", "goog-remb", "transport-cc"])
        #expect(video.extensionMaps.map(\.id) == [1, 2, 3])
        #expect(video.retransmissionPairs.map(\.rtx) == [2222])
        let audio = offer.media[1]
        #expect(audio.rtpMap(for: 111) == SDPRTPMap(payloadType: 111, encodingName: "opus", clockRate: 48_000, encodingParameters: "2"))
        #expect(audio.formatParameters(for: 111)?.value == "111 minptime=10;useinbandfec=1")
        #expect(audio.direction == .sendonly)
        #expect(offer.media[2].sctpPort == 5000 && offer.media[2].setup == .actpass)
    }

    @Test("Leaving sections out renumbers the mids from 0")
    func partialOffer() throws {
        let offer = SDPNegotiation.offer(local: try SDPFixtures.local(), includeVideo: false, includeAudio: true, includeApplication: true)
        #expect(offer.media.map(\.kind) == [.audio, .application])
        #expect(offer.media.map(\.mid) == ["0", "1"])
        #expect(offer.bundleGroup?.mids == ["0", "1"])
    }

    /// Our offer answered by our own answerer with different parameters stands in for a
    /// peer that receives; the answer's sendonly sections make us inactive there.
    @Test("Our answerer's answer to our offer is accepted with matching payload types and roles")
    func acceptOwnAnswer() throws {
        let ours = try SDPFixtures.local()
        let offer = SDPNegotiation.offer(local: ours)
        var peer = try SDPFixtures.local()
        peer.iceCredentials = try IceCredentials(usernameFragment: "Peer", password: "peerpasswordpeerpassword")
        let (answer, answerSide) = try SDPNegotiation.answer(offer: offer, local: peer)
        #expect(answerSide.video?.direction == .inactive)  // our offer is sendonly; the peer sends nothing
        let session = try SDPNegotiation.accept(answer: answer, to: offer, local: ours)
        #expect(session.remoteIceCredentials.usernameFragment == "Peer")
        #expect(session.remoteSetup == .active && session.localSetup == .passive && session.localDTLSRole == .server)
        #expect(session.video?.payloadType == 102 && session.video?.rtxPayloadType == 103)
        #expect(session.audio?.payloadType == 111)
        #expect(session.application?.remoteSCTPPort == 5000)
        #expect(session.bundleMids == ["0", "1", "2"])
    }

    /// A hand-written answer such as a browser gives to our offer.
    static func browserAnswer(video: String = "a=recvonly", setup: String = "a=setup:active", extra: String = "") -> String {
        let fingerprint = "a=fingerprint:sha-256 " + (0..<32).map { _ in "0A" }.joined(separator: ":")
        return """
            v=0
            o=- 77 2 IN IP4 127.0.0.1
            s=-
            t=0 0
            a=group:BUNDLE 0 1 2
            m=video 9 UDP/TLS/RTP/SAVPF 102 103
            c=IN IP4 0.0.0.0
            a=ice-ufrag:brws
            a=ice-pwd:browserpasswordbrowserpw
            \(fingerprint)
            \(setup)
            a=mid:0
            a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
            \(video)
            a=rtcp-mux
            a=rtpmap:102 H264/90000
            a=rtcp-fb:102 nack
            a=rtcp-fb:102 nack pli
            a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f
            a=rtpmap:103 rtx/90000
            a=fmtp:103 apt=102
            m=audio 0 UDP/TLS/RTP/SAVPF 111
            c=IN IP4 0.0.0.0
            a=mid:1
            m=application 9 UDP/DTLS/SCTP webrtc-datachannel
            c=IN IP4 0.0.0.0
            a=mid:2
            a=sctp-port:5001
            \(extra)
            """
    }

    @Test("A browser-style answer: video accepted recvonly with RTX, audio rejected, data channel accepted")
    func acceptBrowserAnswer() throws {
        let local = try SDPFixtures.local()
        let offer = SDPNegotiation.offer(local: local)
        let answer = try SDPSessionDescription.parse(Self.browserAnswer(extra: "a=max-message-size:1024"))
        let session = try SDPNegotiation.accept(answer: answer, to: offer, local: local)
        #expect(session.video?.sending == true && session.video?.localSSRC == 1111 && session.video?.localRTXSSRC == 2222)
        #expect(session.video?.nack == true && session.video?.pli == true && session.video?.fir == false)
        #expect(session.video?.extensionIDs == [SDPExtensionMap.transportWideCC: 3])
        #expect(session.audio == nil)
        #expect(session.rejected.map(\.mid) == ["1"])
        #expect(session.application?.remoteSCTPPort == 5001 && session.application?.remoteMaxMessageSize == 1024)
        #expect(session.localDTLSRole == .server)
    }

    @Test("An answer that says actpass, names another mid or has too few sections is refused")
    func refusedAnswers() throws {
        let local = try SDPFixtures.local()
        let offer = SDPNegotiation.offer(local: local)
        func code(_ text: String) -> SDPNegotiationError.Code? {
            do {
                _ = try SDPNegotiation.accept(answer: SDPSessionDescription.parse(text), to: offer, local: local)
                return nil
            } catch let error as SDPNegotiationError {
                return error.code
            } catch {
                return nil
            }
        }
        #expect(code(Self.browserAnswer(setup: "a=setup:actpass")) == .invalidSetup)
        #expect(code(Self.browserAnswer(setup: "a=x-no-setup")) == .missingSetup)
        #expect(code(Self.browserAnswer().replacingOccurrences(of: "a=mid:0", with: "a=mid:9")) == .answerMismatch)
        #expect(code(Self.browserAnswer().replacingOccurrences(of: "a=rtcp-mux\n", with: "")) == .missingRTCPMux)
        #expect(code(Self.browserAnswer().replacingOccurrences(of: "m=video 9 UDP/TLS/RTP/SAVPF 102 103", with: "m=video 9 UDP/TLS/RTP/SAVPF 96")
            .replacingOccurrences(of: "a=rtpmap:102 H264/90000\n", with: "").replacingOccurrences(of: "a=rtcp-fb:102 nack\na=rtcp-fb:102 nack pli\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\na=rtpmap:103 rtx/90000\na=fmtp:103 apt=102\n", with: "")) == .answerMismatch)
        let twoSections = Self.browserAnswer().components(separatedBy: "m=application")[0]
        #expect(code(twoSections) == .answerMismatch)
    }

    @Test("An answer whose video section is inactive leaves us not sending video")
    func inactiveAnswer() throws {
        let local = try SDPFixtures.local()
        let session = try SDPNegotiation.accept(
            answer: SDPSessionDescription.parse(Self.browserAnswer(video: "a=inactive")), to: SDPNegotiation.offer(local: local),
            local: local)
        #expect(session.video?.direction == .inactive && session.video?.localSSRC == nil)
    }
}
