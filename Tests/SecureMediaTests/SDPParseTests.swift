import Foundation
import ICEAgent
import Testing

@testable import SecureMedia

/// Loads the captured descriptions in Fixtures/.
enum SDPFixtures {
    static let chromiumOffer = "chromium-156-offer"
    static let aiortcOffer = "aiortc-1.16-offer"
    static let aiortcAnswer = "aiortc-1.16-answer-h264"
    static let all = [chromiumOffer, aiortcOffer, aiortcAnswer]

    static func text(_ name: String) throws -> String {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "sdp", subdirectory: "Fixtures"))
        return try String(contentsOf: url, encoding: .utf8)
    }

    static func parsed(_ name: String) throws -> SDPSessionDescription {
        try SDPSessionDescription.parse(text(name))
    }

    /// Our parameters with fixed values, so answers can be checked line by line.
    static func local(candidates: [IceCandidate] = [], complete: Bool = false) throws -> SDPLocalParameters {
        let fingerprint = try #require(DTLSFingerprint(sdpValue: "sha-256 " + (0..<32).map { String(format: "%02X", $0) }.joined(separator: ":")))
        var local = SDPLocalParameters(
            iceCredentials: try IceCredentials(usernameFragment: "LocL", password: "localpasswordlocalpassword"),
            fingerprint: fingerprint, cname: "cname0123456789ab", streamID: "stream0", videoTrackID: "video0",
            audioTrackID: "audio0", videoSSRC: 1111, videoRTXSSRC: 2222, audioSSRC: 3333, sessionID: 4_000_000_000)
        local.candidates = candidates
        local.gatheringComplete = complete
        return local
    }
}

@Suite("SDP parsing and serialization (RFC 8866)")
struct SDPParseTests {
    @Test("Captured Chromium and aiortc descriptions re-serialize to the same text", arguments: SDPFixtures.all)
    func fixturesRoundTrip(name: String) throws {
        let text = try SDPFixtures.text(name)
        let description = try SDPSessionDescription.parse(text)
        #expect(description.text == text)
        #expect(try SDPSessionDescription.parse(description.text) == description)
    }

    @Test("Bare LF line endings parse to the same description, written back with CRLF", arguments: SDPFixtures.all)
    func bareLineFeeds(name: String) throws {
        let text = try SDPFixtures.text(name)
        let unix = text.replacingOccurrences(of: "\r\n", with: "\n")
        #expect(!unix.contains("\r"))
        let description = try SDPSessionDescription.parse(unix)
        #expect(description == (try SDPSessionDescription.parse(text)))
        #expect(description.text == text)
    }

    @Test("A description without a final line ending parses")
    func noFinalLineEnding() throws {
        let description = try SDPSessionDescription.parse("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0")
        #expect(description.timings == [SDPTiming(start: 0, stop: 0)])
        #expect(description.media.isEmpty)
    }

    @Test("Chromium's offer gives its session-level values")
    func chromiumSessionLevel() throws {
        let offer = try SDPFixtures.parsed(SDPFixtures.chromiumOffer)
        #expect(offer.origin == SDPOrigin(sessionID: 6_151_335_526_427_168_570, sessionVersion: 2))
        #expect(offer.sessionName == "-")
        #expect(offer.bundleGroup == SDPGroup(semantics: "BUNDLE", mids: ["0", "1", "2"]))
        #expect(offer.hasAttribute("extmap-allow-mixed"))
        #expect(offer.attributeValue("msid-semantic") == " WMS")
        #expect(offer.media.map(\.kind) == [.video, .audio, .application])
        #expect(offer.media.map(\.mid) == ["0", "1", "2"])
        #expect(!offer.iceLite)
    }

    @Test("Chromium's video section gives its typed values")
    func chromiumVideo() throws {
        let video = try SDPFixtures.parsed(SDPFixtures.chromiumOffer).media[0]
        #expect(video.port == 47256)
        #expect(video.proto == "UDP/TLS/RTP/SAVPF")
        #expect(video.formats.count == 34)
        #expect(video.payloadTypes.first == 96)
        #expect(video.connections == [SDPConnection(address: "127.0.0.1")])
        #expect(video.direction == .recvonly)
        #expect(video.rtcpMux && video.rtcpReducedSize)
        #expect(video.iceUsernameFragment == "X47p")
        #expect(video.icePassword == "ZwPGT347n5/WCNVecoJe1/RN")
        #expect(video.iceCredentials?.usernameFragment == "X47p")
        #expect(video.iceOptions == ["trickle"])
        #expect(video.setup == .actpass)
        let fingerprint = try #require(video.fingerprints.first)
        #expect(fingerprint.algorithm == "sha-256" && fingerprint.bytes.count == 32 && fingerprint.bytes[0] == 0x31)
        #expect(video.rtpMap(for: 108) == SDPRTPMap(payloadType: 108, encodingName: "H264", clockRate: 90_000))
        let fmtp = try #require(video.formatParameters(for: 108))
        #expect(fmtp["profile-level-id"] == "42e01f")
        #expect(fmtp["PACKETIZATION-MODE"] == "1")
        #expect(fmtp.dictionary == ["level-asymmetry-allowed": "1", "packetization-mode": "1", "profile-level-id": "42e01f"])
        #expect(video.formatParameters(for: 97)?["apt"] == "96")
        #expect(video.rtcpFeedback(for: 108).map(\.kind) == ["goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"])
        #expect(video.extensionMaps.count == 11)
        #expect(video.extensionMaps.first { $0.uri == SDPExtensionMap.transportWideCC }?.id == 4)
        #expect(video.extensionMaps.first { $0.uri == SDPExtensionMap.mid }?.id == 9)
        let candidates = video.candidates
        #expect(candidates.count == 2)
        #expect(candidates.first?.port == 47256 && candidates.first?.transport == .udp)
        #expect(candidates.last?.tcpType == .active)
        #expect(!video.endOfCandidates)
        #expect(video.sources.isEmpty)
    }

    @Test("Chromium's audio and data channel sections give their typed values")
    func chromiumAudioAndApplication() throws {
        let offer = try SDPFixtures.parsed(SDPFixtures.chromiumOffer)
        let audio = offer.media[1]
        #expect(audio.rtpMap(for: 111) == SDPRTPMap(payloadType: 111, encodingName: "opus", clockRate: 48_000, encodingParameters: "2"))
        #expect(audio.rtpMap(for: 111)?.channels == 2)
        #expect(audio.formatParameters(for: 111)?.dictionary == ["minptime": "10", "useinbandfec": "1"])
        // RED's fmtp has no key=value pairs and still writes back as it was.
        let red = try #require(audio.formatParameters(for: 63))
        #expect(red.parameters.map(\.key) == ["111/111"] && red.value == "63 111/111")
        #expect(audio.rtcpFeedback(for: 111).map(\.kind) == ["transport-cc"])
        #expect(audio.payloadTypes == [111, 63, 9, 0, 8, 13, 110, 126])
        let application = offer.media[2]
        #expect(application.kind == .application && application.proto == "UDP/DTLS/SCTP")
        #expect(application.formats == ["webrtc-datachannel"])
        #expect(application.sctpPort == 5000)
        #expect(application.maxMessageSize == 262_144)
        #expect(!application.isRTP && audio.isRTP)
    }

    @Test("aiortc's offer gives its sources, streams, candidates and three fingerprints")
    func aiortcOffer() throws {
        let offer = try SDPFixtures.parsed(SDPFixtures.aiortcOffer)
        let video = offer.media[0]
        #expect(video.direction == .recvonly)
        #expect(video.retransmissionPairs.map(\.media) == [915_480_089])
        #expect(video.retransmissionPairs.map(\.rtx) == [1_976_226_518])
        #expect(video.sourceGroups == [SDPSourceGroup(semantics: "FID", ssrcs: [915_480_089, 1_976_226_518])])
        #expect(video.sources.count == 2)
        #expect(video.sources.first == SDPSourceAttribute(ssrc: 915_480_089, attribute: "cname", value: "13014c66-1392-43f7-b334-79cc39791629"))
        #expect(video.mediaStreamIDs == [SDPMediaStreamID(streamID: "7eb676cc-3420-4e1f-9817-d189df28751d", trackID: "5626bbd2-dbdc-4691-9318-fcd259af136e")])
        #expect(video.fingerprints.map(\.algorithm) == ["sha-256", "sha-384", "sha-512"])
        #expect(video.candidates.count == 2)
        #expect(video.candidates.map(\.port) == [33069, 42709])
        #expect(video.endOfCandidates)
        #expect(video.iceOptions.isEmpty)
        #expect(video.rtpMaps.map(\.encodingName) == ["VP8", "rtx", "H264", "rtx", "H264", "rtx"])
        #expect(offer.attributeValue("msid-semantic") == "WMS *")
        #expect(offer.media[1].rtpMap(for: 96)?.encodingName == "opus")
        #expect(offer.media[2].sctpPort == 5000)
    }

    @Test("aiortc's answer gives active setup, sendonly media and sha-512")
    func aiortcAnswer() throws {
        let answer = try SDPFixtures.parsed(SDPFixtures.aiortcAnswer)
        #expect(answer.media.map(\.direction) == [.sendonly, .sendonly, nil])
        #expect(answer.media.allSatisfy { $0.setup == .active })
        #expect(answer.media[0].fingerprints.first?.algorithm == "sha-512")
        #expect(answer.media[0].extensionMaps.map(\.id) == [2, 9])
        #expect(answer.media[1].sources.map(\.ssrc) == [3_930_436_760])
        #expect(answer.setup(forMedia: 0) == .active)
        #expect(answer.direction(forMedia: 2) == .sendrecv)
    }

    @Test("Session-level values apply to sections without their own")
    func sessionLevelFallback() throws {
        let text = """
            v=0
            o=- 1 1 IN IP4 0.0.0.0
            s=-
            t=0 0
            a=ice-lite
            a=ice-ufrag:sess
            a=ice-pwd:sessionpasswordsessionpw
            a=ice-options:trickle
            a=fingerprint:sha-256 \((0..<32).map { _ in "AA" }.joined(separator: ":"))
            a=setup:passive
            a=inactive
            m=application 9 UDP/DTLS/SCTP webrtc-datachannel
            c=IN IP4 0.0.0.0
            a=mid:data
            """
        let description = try SDPSessionDescription.parse(text)
        #expect(description.iceLite)
        #expect(description.iceCredentials(forMedia: 0)?.usernameFragment == "sess")
        #expect(description.fingerprints(forMedia: 0).first?.bytes == Array(repeating: 0xAA, count: 32))
        #expect(description.setup(forMedia: 0) == .passive)
        #expect(description.direction(forMedia: 0) == .inactive)
        #expect(description.iceOptions(forMedia: 0) == ["trickle"])
        #expect(description.mediaIndex(mid: "data") == 0)
    }

    @Test("Unknown attributes and lines keep their place and spelling")
    func unknownKept() throws {
        let text = [
            "v=0", "o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5", "s=SDP Seminar", "i=A Seminar",
            "u=http://www.example.com/seminars/sdp.pdf", "e=j.doe@example.com (Jane Doe)", "p=+1 617 555-6011",
            "c=IN IP4 224.2.17.12/127", "b=AS:128", "t=2873397496 2873404696", "r=7d 1h 0 25h", "z=2882844526 -1h",
            "k=prompt", "a=x-custom: with  spaces ", "a=recvonly", "m=audio 49170/2 RTP/AVP 0", "i=voice", "b=TIAS:64000",
            "k=clear:abc", "a=x-media", "m=video 51372 RTP/AVP 99", "a=rtpmap:99 h263-1998/90000",
        ].joined(separator: "\r\n") + "\r\n"
        let description = try SDPSessionDescription.parse(text)
        #expect(description.text == text)
        #expect(description.attributeValue("x-custom") == " with  spaces ")
        #expect(description.media[0].portCount == 2)
        #expect(description.media[0].bandwidths == [SDPBandwidth(type: "TIAS", value: 64000)])
        #expect(description.timings.first?.repeats == ["7d 1h 0 25h"])
        #expect(description.media[1].rtpMap(for: 99)?.encodingName == "h263-1998")
        #expect(description.media[0].kind == .audio && description.media[0].hasAttribute("x-media"))
    }

    @Test("A description built in code serializes and parses back")
    func builtInCode() throws {
        var description = SDPSessionDescription(origin: SDPOrigin(sessionID: 42, sessionVersion: 7))
        description.attributes = [SDPAttribute("group", "BUNDLE a")]
        var media = SDPMediaDescription(kind: .other("text"), port: 9, proto: "UDP/TLS/RTP/SAVPF", formats: ["98"])
        media.attributes = [SDPAttribute("mid", "a"), SDPAttribute("rtpmap", "98 t140/1000"), SDPAttribute("sendonly")]
        description.media = [media]
        let text = description.text
        #expect(text.hasPrefix("v=0\r\no=- 42 7 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE a\r\nm=text 9 UDP/TLS/RTP/SAVPF 98\r\n"))
        let parsed = try SDPSessionDescription.parse(text)
        #expect(parsed == description)
        #expect(parsed.media[0].kind == .other("text"))
        #expect(parsed.media[0].direction == .sendonly)
    }
}
