import Foundation
import ICEAgent
import Testing

@testable import SecureMedia

@Suite("Trickled candidates as RTCIceCandidateInit JSON (RFC 8838)")
struct SDPIceCandidateInitTests {
    static let chromiumJSON = #"{"candidate":"candidate:518375803 1 udp 2122260223 127.0.0.1 47256 typ host generation 0 ufrag X47p network-id 1","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"X47p"}"#

    @Test("Chromium's trickled candidate decodes and parses")
    func decodesChromium() throws {
        let value = try JSONDecoder().decode(SDPIceCandidateInit.self, from: Data(Self.chromiumJSON.utf8))
        #expect(value.sdpMid == "0" && value.sdpMLineIndex == 0 && value.usernameFragment == "X47p")
        let candidate = try #require(try value.iceCandidate())
        #expect(candidate.port == 47256 && candidate.priority == 2_122_260_223)
        #expect(!value.isEndOfCandidates)
        #expect(value.sdpAttribute.hasPrefix("a=candidate:518375803 1 udp"))
        let prefixed = SDPIceCandidateInit(candidate: "a=" + value.candidate, sdpMid: "0", sdpMLineIndex: 0)
        #expect(prefixed.sdpAttribute == value.sdpAttribute)
        #expect(try prefixed.iceCandidate() == (try value.iceCandidate()))
    }

    @Test("Our candidate encodes to JSON that decodes to the same value")
    func roundTrip() throws {
        let candidate = try IceCandidate(sdp: "candidate:7 1 udp 2130706431 ::1 5000 typ host")
        let value = SDPIceCandidateInit(candidate, mid: "0", mediaIndex: 0, usernameFragment: "LocL")
        let data = try JSONEncoder().encode(value)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["candidate"] as? String == "candidate:7 1 udp 2130706431 ::1 5000 typ host")
        #expect(object["sdpMid"] as? String == "0" && object["sdpMLineIndex"] as? Int == 0)
        #expect(try JSONDecoder().decode(SDPIceCandidateInit.self, from: data) == value)
        #expect(try value.iceCandidate() == candidate)
    }

    @Test("An empty candidate is end-of-candidates")
    func endOfCandidates() throws {
        let value = try JSONDecoder().decode(SDPIceCandidateInit.self, from: Data(#"{"candidate":"","sdpMid":"0","sdpMLineIndex":0}"#.utf8))
        #expect(value.isEndOfCandidates)
        #expect(try value.iceCandidate() == nil)
        #expect(value.sdpAttribute == "a=end-of-candidates")
        #expect(value == .endOfCandidates(mid: "0", mediaIndex: 0))
    }

    @Test("Malformed candidate JSON is refused", arguments: [
        #"{"sdpMid":"0","sdpMLineIndex":0}"#,
        #"{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host"}"#,
        #"{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":-1}"#,
        #"{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMLineIndex":64}"#,
        #"{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":""}"#,
        #"{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"a b"}"#,
        #"{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","usernameFragment":"bad-ufrag"}"#,
        #"{"candidate":"candidate:1 1 udp 1 127.0.0.1 99999 typ host","sdpMid":"0"}"#,
        #"{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ nonsense","sdpMid":"0"}"#,
        #"{"candidate":"hello","sdpMid":"0"}"#,
        #"{"candidate":42,"sdpMid":"0"}"#,
        #"{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":0}"#,
        #"[]"#,
    ])
    func malformed(json: String) {
        #expect(throws: (any Error).self) { try JSONDecoder().decode(SDPIceCandidateInit.self, from: Data(json.utf8)) }
    }

    @Test("Validation names the code: missing section, bad candidate")
    func codes() {
        let noSection = SDPIceCandidateInit(candidate: "", sdpMid: nil, sdpMLineIndex: nil)
        #expect(throws: SDPNegotiationError.self) { try noSection.validate() }
        do { try noSection.validate() } catch { #expect(error.code == .malformedCandidateInit) }
        let bad = SDPIceCandidateInit(candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ nonsense", sdpMid: "0", sdpMLineIndex: nil)
        do { try bad.validate() } catch { #expect(error.code == .invalidCandidate && error.detail.contains("candidate-types")) }
    }

    @Test("The session takes trickled candidates for its transport section only, with the current ufrag")
    func sessionFilters() throws {
        let offer = try SDPFixtures.parsed(SDPFixtures.chromiumOffer)
        let (_, session) = try SDPNegotiation.answer(offer: offer, local: SDPFixtures.local())
        let line = "candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host"
        #expect(try session.remoteCandidate(SDPIceCandidateInit(candidate: line, sdpMid: "0", sdpMLineIndex: 0, usernameFragment: "X47p"))?.port == 40000)
        #expect(try session.remoteCandidate(SDPIceCandidateInit(candidate: line, sdpMid: nil, sdpMLineIndex: 0))?.port == 40000)
        #expect(try session.remoteCandidate(.endOfCandidates(mid: "0", mediaIndex: 0)) == nil)
        for wrong in [
            SDPIceCandidateInit(candidate: line, sdpMid: "1", sdpMLineIndex: 1),
            SDPIceCandidateInit(candidate: line, sdpMid: nil, sdpMLineIndex: 2),
            SDPIceCandidateInit(candidate: line, sdpMid: "0", sdpMLineIndex: 0, usernameFragment: "Old1"),
        ] {
            do {
                _ = try session.remoteCandidate(wrong)
                Issue.record("accepted \(wrong)")
            } catch {
                #expect(error.code == .unknownMediaSection)
            }
        }
    }
}
