import Foundation
import ICEAgent
import Testing

@testable import SecureMedia

@Suite("JSEP answers to browser offers (RFC 8829 §5.3.1)")
struct SDPAnswerTests {
    @Test("Chromium's offer is answered with H.264 42e01f, Opus and the data channel, all BUNDLEd")
    func answersChromium() throws {
        let offer = try SDPFixtures.parsed(SDPFixtures.chromiumOffer)
        let (answer, session) = try SDPNegotiation.answer(offer: offer, local: SDPFixtures.local())
        #expect(try SDPSessionDescription.parse(answer.text) == answer)
        #expect(answer.bundleGroup?.mids == ["0", "1", "2"])
        #expect(answer.origin.sessionID == 4_000_000_000 && answer.origin.sessionVersion == 2)
        #expect(answer.media.map(\.kind) == [.video, .audio, .application])
        #expect(answer.media.map(\.mid) == ["0", "1", "2"])
        #expect(answer.media.map(\.port) == [9, 9, 9])

        let video = answer.media[0]
        #expect(video.formats == ["108", "109"])
        #expect(video.direction == .sendonly)
        #expect(video.setup == .active)
        #expect(video.rtcpMux && video.rtcpReducedSize)
        #expect(video.iceUsernameFragment == "LocL" && video.icePassword == "localpasswordlocalpassword")
        #expect(video.iceOptions == ["trickle"])
        #expect(video.fingerprints.first?.bytes == Array(0..<32))
        #expect(video.rtpMap(for: 108)?.encodingName == "H264")
        #expect(video.formatParameters(for: 108)?.value == "108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f")
        #expect(video.rtpMap(for: 109)?.encodingName == "rtx")
        #expect(video.formatParameters(for: 109)?["apt"] == "108")
        #expect(Set(video.rtcpFeedback(for: 108).map(\.kind)) == ["goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"])
        #expect(video.extensionMaps.map(\.uri) == [SDPExtensionMap.absSendTime, SDPExtensionMap.transportWideCC, SDPExtensionMap.mid])
        #expect(video.extensionMaps.map(\.id) == [2, 4, 9])
        #expect(video.sourceGroups == [SDPSourceGroup(semantics: "FID", ssrcs: [1111, 2222])])
        #expect(video.sources.filter { $0.attribute == "cname" }.map(\.ssrc) == [1111, 2222])
        #expect(video.sources.allSatisfy { $0.attribute != "cname" || $0.value == "cname0123456789ab" })
        #expect(video.mediaStreamIDs == [SDPMediaStreamID(streamID: "stream0", trackID: "video0")])
        #expect(video.candidates.isEmpty && !video.endOfCandidates)

        let audio = answer.media[1]
        #expect(audio.formats == ["111"])
        #expect(audio.direction == .sendonly)
        #expect(audio.formatParameters(for: 111)?.value == "111 minptime=10;useinbandfec=1")
        #expect(audio.rtcpFeedback(for: 111).map(\.kind) == ["transport-cc"])
        #expect(audio.sources.map(\.ssrc) == [3333, 3333])
        #expect(audio.mediaStreamIDs.first?.trackID == "audio0")

        let application = answer.media[2]
        #expect(application.proto == "UDP/DTLS/SCTP" && application.formats == ["webrtc-datachannel"])
        #expect(application.sctpPort == 5000 && application.maxMessageSize == 262_144)
        #expect(application.setup == .active)

        #expect(session.bundleMids == ["0", "1", "2"])
        #expect(session.transportMid == "0" && session.transportMediaIndex == 0)
        #expect(session.remoteIceCredentials.usernameFragment == "X47p")
        #expect(session.remoteIceCredentials.password == "ZwPGT347n5/WCNVecoJe1/RN")
        #expect(session.remoteTrickle && !session.remoteIceLite)
        #expect(session.remoteCandidates.map(\.port) == [47256, 9])
        #expect(!session.remoteEndOfCandidates)
        #expect(session.remoteFingerprints.map(\.algorithm) == ["sha-256"])
        #expect(session.remoteSetup == .actpass && session.localSetup == .active && session.localDTLSRole == .client)
        #expect(session.rejected.isEmpty)

        let negotiatedVideo = try #require(session.video)
        #expect(negotiatedVideo.mid == "0" && negotiatedVideo.mediaIndex == 0 && negotiatedVideo.sending)
        #expect(negotiatedVideo.payloadType == 108 && negotiatedVideo.rtxPayloadType == 109)
        #expect(negotiatedVideo.codec == "H264" && negotiatedVideo.clockRate == 90_000)
        #expect(negotiatedVideo.formatParameters["profile-level-id"] == "42e01f")
        #expect(negotiatedVideo.nack && negotiatedVideo.pli && negotiatedVideo.fir && negotiatedVideo.remb && negotiatedVideo.transportCC)
        #expect(negotiatedVideo.rtcpReducedSize)
        #expect(negotiatedVideo.extensionIDs == [SDPExtensionMap.absSendTime: 2, SDPExtensionMap.transportWideCC: 4, SDPExtensionMap.mid: 9])
        #expect(negotiatedVideo.localSSRC == 1111 && negotiatedVideo.localRTXSSRC == 2222)

        let negotiatedAudio = try #require(session.audio)
        #expect(negotiatedAudio.payloadType == 111 && negotiatedAudio.clockRate == 48_000 && negotiatedAudio.channels == 2)
        #expect(negotiatedAudio.rtxPayloadType == nil && negotiatedAudio.transportCC && !negotiatedAudio.nack)
        #expect(negotiatedAudio.formatParameters == ["minptime": "10", "useinbandfec": "1"])
        #expect(negotiatedAudio.localSSRC == 3333)

        let negotiatedApplication = try #require(session.application)
        #expect(negotiatedApplication.mid == "2" && negotiatedApplication.mediaIndex == 2)
        #expect(negotiatedApplication.remoteSCTPPort == 5000 && negotiatedApplication.remoteMaxMessageSize == 262_144)
    }

    @Test("aiortc's offer is answered with its 42e01f H.264, its rtx, Opus and the data channel")
    func answersAiortc() throws {
        let offer = try SDPFixtures.parsed(SDPFixtures.aiortcOffer)
        let (answer, session) = try SDPNegotiation.answer(offer: offer, local: SDPFixtures.local())
        #expect(answer.bundleGroup?.mids == ["0", "1", "2"])
        #expect(answer.media[0].formats == ["101", "102"])
        #expect(answer.media[0].extensionMaps.map(\.id) == [1, 3])
        #expect(!answer.media[0].rtcpReducedSize)
        #expect(Set(answer.media[0].rtcpFeedback(for: 101).map(\.kind)) == ["nack", "nack pli", "goog-remb"])
        #expect(answer.media[1].formats == ["96"])
        #expect(answer.media[1].formatParameters(for: 96)?.value == "96 minptime=10;useinbandfec=1")
        #expect(session.video?.payloadType == 101 && session.video?.rtxPayloadType == 102)
        #expect(session.video?.fir == false && session.video?.transportCC == false)
        #expect(session.audio?.payloadType == 96)
        #expect(session.remoteFingerprints.count == 3)
        #expect(session.remoteCandidates.count == 2)
        #expect(session.remoteEndOfCandidates)
        #expect(!session.remoteTrickle)
        #expect(session.application?.remoteMaxMessageSize == 262_144)
    }

    @Test("Our candidates go into the transport section with end-of-candidates, and set its port")
    func localCandidates() throws {
        let candidate = try IceCandidate(sdp: "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host")
        let offer = try SDPFixtures.parsed(SDPFixtures.chromiumOffer)
        let (answer, _) = try SDPNegotiation.answer(offer: offer, local: SDPFixtures.local(candidates: [candidate], complete: true))
        #expect(answer.media[0].candidates == [candidate])
        #expect(answer.media[0].endOfCandidates)
        #expect(answer.media[1].candidates.isEmpty && !answer.media[1].endOfCandidates)
        #expect(answer.media.map(\.port) == [40000, 40000, 40000])
        #expect(answer.media[0].connections == [SDPConnection(address: "127.0.0.1")])
        #expect(answer.text.contains("a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\na=end-of-candidates\r\n"))
    }

    /// Replaces every `a=` line of the Chromium offer that `drop` matches, then answers.
    func answerChromium(
        replacing transform: (String) -> String?, local: SDPLocalParameters? = nil
    ) throws -> (answer: SDPSessionDescription, session: SDPNegotiatedSession) {
        let lines = try SDPFixtures.text(SDPFixtures.chromiumOffer).split(separator: "\r\n").map(String.init)
        let text = lines.compactMap(transform).joined(separator: "\r\n") + "\r\n"
        return try SDPNegotiation.answer(offer: SDPSessionDescription.parse(text), local: local ?? SDPFixtures.local())
    }

    @Test("Baseline 42001f is taken when constrained baseline is not offered, then main 4d001f")
    func profilePreference() throws {
        let without42e0 = try answerChromium { $0.contains("profile-level-id=42e01f") ? nil : $0 }
        #expect(without42e0.session.video?.payloadType == 102)
        #expect(without42e0.session.video?.rtxPayloadType == 103)
        let mainOnly = try answerChromium { $0.contains("profile-level-id=42") ? nil : $0 }
        #expect(mainOnly.session.video?.payloadType == 116)
        #expect(mainOnly.session.video?.formatParameters["profile-level-id"] == "4d001f")
    }

    @Test("A video section with only VP8 and VP9 is rejected with port 0 and the reason")
    func videoWithoutH264IsRejected() throws {
        let offer = """
            v=0
            o=- 1 2 IN IP4 127.0.0.1
            s=-
            t=0 0
            a=group:BUNDLE v a
            m=video 9 UDP/TLS/RTP/SAVPF 96 97 98
            c=IN IP4 0.0.0.0
            a=ice-ufrag:abcd
            a=ice-pwd:abcdefghijklmnopqrstuvwx
            a=fingerprint:sha-256 \((0..<32).map { _ in "01" }.joined(separator: ":"))
            a=setup:actpass
            a=mid:v
            a=recvonly
            a=rtcp-mux
            a=rtpmap:96 VP8/90000
            a=rtpmap:97 rtx/90000
            a=fmtp:97 apt=96
            a=rtpmap:98 VP9/90000
            m=audio 9 UDP/TLS/RTP/SAVPF 111
            c=IN IP4 0.0.0.0
            a=mid:a
            a=recvonly
            a=rtcp-mux
            a=rtpmap:111 opus/48000/2
            """
        let (answer, session) = try SDPNegotiation.answer(offer: SDPSessionDescription.parse(offer), local: SDPFixtures.local())
        #expect(answer.media[0].port == 0)
        #expect(answer.media[0].formats == ["96", "97", "98"])
        #expect(answer.media[0].mid == "v")
        #expect(answer.media[0].attributes == [SDPAttribute("mid", "v")])
        #expect(answer.bundleGroup?.mids == ["a"])
        #expect(session.video == nil)
        #expect(session.rejected.count == 1)
        #expect(session.rejected.first?.reason == "offer has only VP8, VP9; H.264 with packetization-mode=1 needed")
        #expect(session.transportMid == "a" && session.transportMediaIndex == 1)
        // Section "a" carries no transport attributes: they are read from the offer's BUNDLE-tag section.
        #expect(session.remoteIceCredentials.usernameFragment == "abcd")
        #expect(session.remoteFingerprints.first?.bytes == Array(repeating: 1, count: 32))
        #expect(session.remoteSetup == .actpass)
    }

    @Test("H.264 in packetization-mode 0 or High profile only is not enough")
    func unsuitableH264() throws {
        let offer = """
            v=0
            o=- 1 2 IN IP4 127.0.0.1
            s=-
            t=0 0
            a=group:BUNDLE 0 1
            m=video 9 UDP/TLS/RTP/SAVPF 104 41 100
            a=ice-ufrag:abcd
            a=ice-pwd:abcdefghijklmnopqrstuvwx
            a=fingerprint:sha-256 \((0..<32).map { _ in "01" }.joined(separator: ":"))
            a=setup:actpass
            a=mid:0
            a=rtcp-mux
            a=rtpmap:104 H264/90000
            a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f
            a=rtpmap:41 H264/90000
            a=fmtp:41 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=f4001f
            a=rtpmap:100 H264/90000
            a=fmtp:100 packetization-mode=1;profile-level-id=640c1f
            m=application 9 UDP/DTLS/SCTP webrtc-datachannel
            a=mid:1
            """
        let (answer, session) = try SDPNegotiation.answer(offer: SDPSessionDescription.parse(offer), local: SDPFixtures.local())
        #expect(answer.media[0].port == 0)
        #expect(session.rejected.first?.reason == "offer has H.264 only as profile-level-id=42001f packetization-mode=0, "
            + "profile-level-id=f4001f packetization-mode=1, profile-level-id=640c1f packetization-mode=1; "
            + "H.264 with packetization-mode=1 and profile-level-id 42e0xx, 4200xx or 4d00xx needed")
        #expect(session.video == nil && session.application != nil)
        #expect(answer.bundleGroup?.mids == ["1"])
        #expect(session.remoteIceCredentials.usernameFragment == "abcd")
    }

    @Test("Offer directions map to ours: recvonly and sendrecv → sendonly; sendonly and inactive → inactive",
          arguments: [("recvonly", SDPDirection.sendonly), ("sendrecv", .sendonly), ("sendonly", .inactive), ("inactive", .inactive)])
    func directions(offered: String, expected: SDPDirection) throws {
        let (answer, session) = try answerChromium { $0 == "a=recvonly" ? "a=\(offered)" : $0 }
        #expect(answer.media[0].direction == expected && answer.media[1].direction == expected)
        #expect(session.video?.direction == expected)
        #expect(session.video?.sending == (expected == .sendonly))
        #expect(session.video?.localSSRC == (expected == .sendonly ? 1111 : nil))
        #expect(answer.media[0].sources.isEmpty == (expected == .inactive))
        #expect(answer.media[0].mediaStreamIDs.isEmpty == (expected == .inactive))
    }

    @Test("Without an RTX SSRC no rtx payload type, FID group or rtx SSRC is answered")
    func noRTX() throws {
        var local = try SDPFixtures.local()
        local.videoRTXSSRC = nil
        let (answer, session) = try answerChromium(replacing: { $0 }, local: local)
        #expect(answer.media[0].formats == ["108"])
        #expect(answer.media[0].sourceGroups.isEmpty)
        #expect(session.video?.rtxPayloadType == nil && session.video?.localRTXSSRC == nil)
    }

    @Test("Media we do not send is answered inactive")
    func notSending() throws {
        var local = try SDPFixtures.local()
        local.sendsAudio = false
        let (answer, session) = try answerChromium(replacing: { $0 }, local: local)
        #expect(answer.media[1].direction == .inactive && session.audio?.sending == false)
        #expect(answer.media[0].direction == .sendonly)
    }

    @Test("Offer setup active makes us passive (DTLS server); passive makes us active",
          arguments: [("active", SDPSetupRole.passive, SDPDTLSRole.server), ("passive", .active, .client)])
    func setupRoles(offered: String, local: SDPSetupRole, role: SDPDTLSRole) throws {
        let (answer, session) = try answerChromium { $0 == "a=setup:actpass" ? "a=setup:\(offered)" : $0 }
        #expect(answer.media.allSatisfy { $0.setup == local })
        #expect(session.localSetup == local && session.localDTLSRole == role)
    }

    @Test("We can choose to answer actpass with passive")
    func passiveByChoice() throws {
        var local = try SDPFixtures.local()
        local.setup = .passive
        let (_, session) = try answerChromium(replacing: { $0 }, local: local)
        #expect(session.localSetup == .passive && session.localDTLSRole == .server)
    }

    @Test("A second video section is rejected: we send one video track")
    func secondVideoRejected() throws {
        let text = try SDPFixtures.text(SDPFixtures.chromiumOffer)
        let videoStart = try #require(text.range(of: "m=video"))
        let audioStart = try #require(text.range(of: "m=audio"))
        let secondVideo = String(text[videoStart.lowerBound..<audioStart.lowerBound]).replacingOccurrences(of: "a=mid:0", with: "a=mid:3")
        let extended = text.replacingOccurrences(of: "a=group:BUNDLE 0 1 2", with: "a=group:BUNDLE 0 1 2 3") + secondVideo
        let (answer, session) = try SDPNegotiation.answer(offer: SDPSessionDescription.parse(extended), local: SDPFixtures.local())
        #expect(answer.media.count == 4)
        #expect(answer.media[3].port == 0 && answer.media[3].mid == "3")
        #expect(answer.bundleGroup?.mids == ["0", "1", "2"])
        #expect(session.rejected.map(\.mid) == ["3"])
    }

    @Test("An unknown media kind and an old SCTP data section are rejected, the rest answered")
    func unknownKinds() throws {
        let text = try SDPFixtures.text(SDPFixtures.chromiumOffer)
            .replacingOccurrences(of: "a=group:BUNDLE 0 1 2", with: "a=group:BUNDLE 0 1 2 t s")
            + "m=text 9 UDP/TLS/RTP/SAVPF 98\r\nc=IN IP4 0.0.0.0\r\na=mid:t\r\na=rtpmap:98 t140/1000\r\n"
            + "m=application 9 DTLS/SCTP 5000\r\nc=IN IP4 0.0.0.0\r\na=mid:s\r\n"
        let (answer, session) = try SDPNegotiation.answer(offer: SDPSessionDescription.parse(text), local: SDPFixtures.local())
        #expect(answer.media.map(\.port) == [9, 9, 9, 0, 0])
        #expect(answer.media[3].kind == .other("text"))
        #expect(session.rejected.map(\.reason) == [
            "media kind text is not supported", "DTLS/SCTP 5000 is not UDP/DTLS/SCTP webrtc-datachannel",
        ])
    }

    @Test("Without max-message-size the peer's limit is 64 KiB (RFC 8841 §6); without sctp-port it is 5000")
    func sctpDefaults() throws {
        let (_, session) = try answerChromium { $0.hasPrefix("a=max-message-size") || $0.hasPrefix("a=sctp-port") ? nil : $0 }
        #expect(session.application?.remoteMaxMessageSize == 65_536)
        #expect(session.application?.remoteSCTPPort == 5000)
        let (_, unlimited) = try answerChromium { $0.hasPrefix("a=max-message-size") ? "a=max-message-size:0" : $0 }
        #expect(unlimited.application?.remoteMaxMessageSize == 0)
    }

    struct Failure: Sendable, CustomTestStringConvertible {
        let name: String
        let transform: @Sendable (String) -> String?
        let code: SDPNegotiationError.Code
        let detail: String
        var testDescription: String { name }
    }

    static let failures: [Failure] = [
        Failure(name: "no fingerprint", transform: { $0.hasPrefix("a=fingerprint") ? nil : $0 }, code: .missingFingerprint,
                detail: "no a=fingerprint at media or session level"),
        Failure(name: "no ICE password", transform: { $0.hasPrefix("a=ice-pwd") ? nil : $0 }, code: .missingIceCredentials,
                detail: "no a=ice-pwd at media or session level"),
        Failure(name: "no ICE credentials", transform: { $0.hasPrefix("a=ice-") && !$0.hasPrefix("a=ice-options") ? nil : $0 },
                code: .missingIceCredentials, detail: "no a=ice-ufrag at media or session level"),
        Failure(name: "no setup", transform: { $0.hasPrefix("a=setup") ? nil : $0 }, code: .missingSetup,
                detail: "no a=setup at media or session level"),
        Failure(name: "setup holdconn", transform: { $0.hasPrefix("a=setup") ? "a=setup:holdconn" : $0 }, code: .invalidSetup,
                detail: "a=setup:holdconn is not allowed (RFC 8842 §5.1)"),
        Failure(name: "no BUNDLE group", transform: { $0.hasPrefix("a=group") ? nil : $0 }, code: .missingBundle,
                detail: "offer has 3 usable sections and no a=group:BUNDLE; one transport is needed"),
        Failure(name: "a section outside the BUNDLE group", transform: { $0.hasPrefix("a=group") ? "a=group:BUNDLE 0 1" : $0 },
                code: .missingBundle, detail: "section is not in the offer's BUNDLE group [\"0\", \"1\"]; all sections must share one transport"),
        Failure(name: "no rtcp-mux", transform: { $0 == "a=rtcp-mux" ? nil : $0 }, code: .missingRTCPMux, detail: "a=rtcp-mux is required"),
        Failure(name: "no mid", transform: { $0 == "a=mid:1" ? nil : $0 }, code: .missingMid, detail: "a=mid is required in every m-line"),
        Failure(name: "a mid twice", transform: { $0 == "a=mid:2" ? "a=mid:1" : $0 }, code: .duplicateMid, detail: "mid 1 is used twice"),
    ]

    @Test("Offers missing what we need are refused with a clear error", arguments: failures)
    func refused(_ failure: Failure) throws {
        do {
            let result = try answerChromium(replacing: failure.transform)
            Issue.record("answered: \(result.answer.text)")
        } catch let error as SDPNegotiationError {
            #expect(error.code == failure.code, "\(error)")
            #expect(error.detail == failure.detail, "\(error)")
        }
    }

    @Test("An offer with unknown codecs only names what it has and what is needed")
    func unknownCodecsOnly() throws {
        let offer = """
            v=0
            o=- 1 2 IN IP4 127.0.0.1
            s=-
            t=0 0
            a=group:BUNDLE 0 1
            m=video 9 UDP/TLS/RTP/SAVPF 96 98
            a=mid:0
            a=rtcp-mux
            a=rtpmap:96 VP8/90000
            a=rtpmap:98 VP9/90000
            m=audio 9 UDP/TLS/RTP/SAVPF 0 8
            a=mid:1
            a=rtcp-mux
            """
        do {
            _ = try SDPNegotiation.answer(offer: SDPSessionDescription.parse(offer), local: SDPFixtures.local())
            Issue.record("answered")
        } catch let error as SDPNegotiationError {
            #expect(error.code == .noUsableMedia)
            #expect(error.detail == "m-line 0 (video): offer has only VP8, VP9; H.264 with packetization-mode=1 needed; "
                + "m-line 1 (audio): offer has only PCMU, PCMA; Opus 48000/2 needed")
        }
    }

    @Test("Invalid session-level ICE credentials are named as invalid, not missing")
    func invalidCredentials() throws {
        // ice-ufrag of 3 characters parses at session level only through a mutated copy.
        var offer = try SDPFixtures.parsed(SDPFixtures.chromiumOffer)
        for index in offer.media.indices {
            offer.media[index].attributes = offer.media[index].attributes.map {
                $0.name == "ice-ufrag" ? SDPAttribute("ice-ufrag", "ab") : $0
            }
        }
        let local = try SDPFixtures.local()
        #expect(throws: SDPNegotiationError.self) { try SDPNegotiation.answer(offer: offer, local: local) }
        do {
            _ = try SDPNegotiation.answer(offer: offer, local: local)
        } catch {
            #expect(error.code == .invalidIceCredentials && error.mid == "0" && error.mediaIndex == 0)
        }
    }
}
