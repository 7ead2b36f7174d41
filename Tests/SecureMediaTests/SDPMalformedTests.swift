import Foundation
import Testing

@testable import SecureMedia

@Suite("Malformed session descriptions")
struct SDPMalformedTests {
    static let head = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    static let video = "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let text: String
        let code: SDPParseError.Code
        let line: Int
        let field: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "empty text", text: "", code: .missingVersion, line: 1, field: "proto-version"),
        Case(name: "no v= line", text: "o=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", code: .missingVersion, line: 1, field: "proto-version"),
        Case(name: "version 1", text: "v=1\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", code: .unsupportedVersion, line: 1, field: "proto-version"),
        Case(name: "only v=", text: "v=0\r\n", code: .missingOrigin, line: 2, field: "origin-field"),
        Case(name: "s= before o=", text: "v=0\r\ns=-\r\no=- 1 2 IN IP4 127.0.0.1\r\nt=0 0\r\n", code: .missingOrigin, line: 2, field: "origin-field"),
        Case(name: "origin with five fields", text: "v=0\r\no=- 1 2 IN IP4\r\ns=-\r\nt=0 0\r\n", code: .invalidOrigin, line: 2, field: "origin-field"),
        Case(name: "origin with a letter in the session id", text: "v=0\r\no=- 1x 2 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n", code: .invalidOrigin, line: 2, field: "origin-field"),
        Case(name: "origin session id beyond 64 bits", text: "v=0\r\no=- 99999999999999999999 2 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n", code: .invalidOrigin, line: 2, field: "origin-field"),
        Case(name: "no s= line", text: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\nt=0 0\r\n", code: .missingSessionName, line: 3, field: "session-name-field"),
        Case(name: "no t= line", text: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n", code: .missingTiming, line: 4, field: "time-description"),
        Case(name: "m= before t=", text: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n" + video, code: .missingTiming, line: 4, field: "time-description"),
        Case(name: "timing with one number", text: head.replacingOccurrences(of: "t=0 0", with: "t=0"), code: .invalidTiming, line: 4, field: "time-field"),
        Case(name: "a line without =", text: head + "a\r\n", code: .malformedLine, line: 5, field: "type"),
        Case(name: "an uppercase type letter", text: head + "A=foo\r\n", code: .malformedLine, line: 5, field: "type"),
        Case(name: "a space before =", text: head + "a =foo\r\n", code: .malformedLine, line: 5, field: "type"),
        Case(name: "an empty line in the middle", text: head + "\r\n" + video, code: .malformedLine, line: 5, field: "type"),
        Case(name: "a NUL byte", text: head + "a=x\u{0}y\r\n", code: .malformedLine, line: 5, field: "value"),
        Case(name: "a bare CR inside a line", text: head + "a=x\ry\r\n", code: .malformedLine, line: 5, field: "value"),
        Case(name: "an unknown type letter", text: head + "x=whatever\r\n", code: .unknownLineType, line: 5, field: "type"),
        Case(name: "v= twice", text: head + "v=0\r\n", code: .lineOutOfPlace, line: 5, field: "session-description"),
        Case(name: "t= inside a media section", text: head + video + "t=0 0\r\n", code: .lineOutOfPlace, line: 8, field: "media-description"),
        Case(name: "bad connection line", text: head + "c=IN IP4\r\n", code: .invalidConnection, line: 5, field: "connection-field"),
        Case(name: "bad bandwidth line", text: head + "b=AS:lots\r\n", code: .invalidBandwidth, line: 5, field: "bandwidth-field"),
        Case(name: "m= port too large", text: head + "m=video 70000 UDP/TLS/RTP/SAVPF 96\r\n", code: .invalidMedia, line: 5, field: "media-field"),
        Case(name: "m= port negative", text: head + "m=video -1 UDP/TLS/RTP/SAVPF 96\r\n", code: .invalidMedia, line: 5, field: "media-field"),
        Case(name: "m= without formats", text: head + "m=video 9 UDP/TLS/RTP/SAVPF\r\n", code: .invalidMedia, line: 5, field: "media-field"),
        Case(name: "m= with a double space", text: head + "m=video 9  UDP/TLS/RTP/SAVPF 96\r\n", code: .invalidMedia, line: 5, field: "media-field"),
        Case(name: "m= port count zero", text: head + "m=video 9/0 UDP/TLS/RTP/SAVPF 96\r\n", code: .invalidMedia, line: 5, field: "media-field"),
        Case(name: "rtpmap for a payload type the m= line lacks", text: head + video + "a=rtpmap:97 H264/90000\r\n", code: .undeclaredPayloadType, line: 8, field: "rtpmap"),
        Case(name: "rtpmap payload type above 127", text: head + "m=video 9 UDP/TLS/RTP/SAVPF 200\r\na=rtpmap:200 H264/90000\r\n", code: .invalidAttribute, line: 6, field: "rtpmap"),
        Case(name: "rtpmap without clock rate", text: head + video + "a=rtpmap:96 H264\r\n", code: .invalidAttribute, line: 8, field: "rtpmap"),
        Case(name: "rtpmap with clock rate zero", text: head + video + "a=rtpmap:96 H264/0\r\n", code: .invalidAttribute, line: 8, field: "rtpmap"),
        Case(name: "two rtpmaps for one payload type", text: head + video + "a=rtpmap:96 H264/90000\r\na=rtpmap:96 VP8/90000\r\n", code: .conflictingAttribute, line: 9, field: "rtpmap"),
        Case(name: "fmtp without parameters", text: head + video + "a=fmtp:96\r\n", code: .invalidAttribute, line: 8, field: "fmtp"),
        Case(name: "fmtp with an empty key", text: head + video + "a=fmtp:96 =1\r\n", code: .invalidAttribute, line: 8, field: "fmtp"),
        Case(name: "fmtp with only separators", text: head + video + "a=fmtp:96 ;;\r\n", code: .invalidAttribute, line: 8, field: "fmtp"),
        Case(name: "fmtp for an undeclared format", text: head + video + "a=fmtp:100 apt=96\r\n", code: .undeclaredPayloadType, line: 8, field: "fmtp"),
        Case(name: "rtcp-fb without type", text: head + video + "a=rtcp-fb:96\r\n", code: .invalidAttribute, line: 8, field: "rtcp-fb"),
        Case(name: "rtcp-fb for an undeclared format", text: head + video + "a=rtcp-fb:98 nack\r\n", code: .undeclaredPayloadType, line: 8, field: "rtcp-fb"),
        Case(name: "extmap id 0", text: head + video + "a=extmap:0 urn:x\r\n", code: .invalidAttribute, line: 8, field: "extmap"),
        Case(name: "extmap id 256", text: head + video + "a=extmap:256 urn:x\r\n", code: .invalidAttribute, line: 8, field: "extmap"),
        Case(name: "extmap with a bad direction", text: head + video + "a=extmap:1/sideways urn:x\r\n", code: .invalidAttribute, line: 8, field: "extmap"),
        Case(name: "one extmap id for two URIs", text: head + video + "a=extmap:1 urn:x\r\na=extmap:1 urn:y\r\n", code: .conflictingAttribute, line: 9, field: "extmap"),
        Case(name: "two directions", text: head + video + "a=sendonly\r\na=recvonly\r\n", code: .conflictingAttribute, line: 9, field: "recvonly"),
        Case(name: "a direction with a value", text: head + video + "a=sendonly:yes\r\n", code: .invalidAttribute, line: 8, field: "sendonly"),
        Case(name: "two different mids", text: head + video + "a=mid:1\r\n", code: .conflictingAttribute, line: 8, field: "mid"),
        Case(name: "an empty mid", text: head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:\r\n", code: .invalidAttribute, line: 6, field: "mid"),
        Case(name: "an unknown setup role", text: head + video + "a=setup:sometimes\r\n", code: .invalidAttribute, line: 8, field: "setup"),
        Case(name: "a fingerprint with bad hex", text: head + video + "a=fingerprint:sha-256 ZZ:00\r\n", code: .invalidAttribute, line: 8, field: "fingerprint"),
        Case(name: "an ice-ufrag too short", text: head + video + "a=ice-ufrag:abc\r\n", code: .invalidAttribute, line: 8, field: "ice-ufrag"),
        Case(name: "an ice-pwd with a forbidden character", text: head + video + "a=ice-pwd:0123456789012345678901-\r\n", code: .invalidAttribute, line: 8, field: "ice-pwd"),
        Case(name: "sctp-port zero", text: head + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=sctp-port:0\r\n", code: .invalidAttribute, line: 6, field: "sctp-port"),
        Case(name: "max-message-size not a number", text: head + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=max-message-size:big\r\n", code: .invalidAttribute, line: 6, field: "max-message-size"),
        Case(name: "ssrc not a number", text: head + video + "a=ssrc:abc cname:x\r\n", code: .invalidAttribute, line: 8, field: "ssrc"),
        Case(name: "ssrc beyond 32 bits", text: head + video + "a=ssrc:4294967296 cname:x\r\n", code: .invalidAttribute, line: 8, field: "ssrc"),
        Case(name: "ssrc-group with a bad ssrc", text: head + video + "a=ssrc-group:FID 1 x\r\n", code: .invalidAttribute, line: 8, field: "ssrc-group"),
        Case(name: "msid with three parts", text: head + video + "a=msid:a b c\r\n", code: .invalidAttribute, line: 8, field: "msid"),
        Case(name: "group with a double space", text: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE  0\r\n", code: .invalidAttribute, line: 5, field: "group"),
        Case(name: "attribute name with a space", text: head + "a=bad name:1\r\n", code: .malformedLine, line: 5, field: "attribute-name"),
    ]

    @Test("Malformed input is refused with the line, field and code", arguments: cases)
    func malformed(_ item: Case) {
        do {
            let description = try SDPSessionDescription.parse(item.text)
            Issue.record("parsed: \(description)")
        } catch {
            #expect(error.code == item.code, "\(error)")
            #expect(error.line == item.line, "\(error)")
            #expect(error.field == item.field, "\(error)")
        }
    }

    @Test("Text above 64 KiB is refused before it is read")
    func tooLarge() throws {
        let text = Self.head + String(repeating: "a=x-filler:0123456789012345678901234567890123456789\r\n", count: 1300)
        #expect(text.utf8.count > SDPSessionDescription.maximumSize)
        #expect(throws: SDPParseError.self) { try SDPSessionDescription.parse(text) }
        do {
            _ = try SDPSessionDescription.parse(text)
        } catch {
            #expect(error.code == .tooLarge && error.line == 0)
        }
    }

    @Test("More than 64 m-lines are refused")
    func tooManyMediaDescriptions() throws {
        let media = (0..<65).map { "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:\($0)\r\n" }.joined()
        do {
            _ = try SDPSessionDescription.parse(Self.head + media)
            Issue.record("65 m-lines parsed")
        } catch {
            #expect(error.code == .tooManyMediaDescriptions && error.line == 5 + 64 * 2)
        }
        let fine = (0..<64).map { "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:\($0)\r\n" }.joined()
        #expect(try SDPSessionDescription.parse(Self.head + fine).media.count == 64)
    }

    @Test("The error names the offending text, cut to 120 characters")
    func errorText() {
        let long = Self.head + "m=video 99999 " + String(repeating: "Q", count: 300) + " 96\r\n"
        do {
            _ = try SDPSessionDescription.parse(long)
        } catch {
            #expect(error.text.hasPrefix("m=video 99999 QQQ"))
            #expect(error.text.count == 121)
            #expect("\(error)".contains("line 5"))
        }
    }

    /// Deterministic random mutations of the fixtures (byte flips, cut lines, duplicated and
    /// swapped lines): each either parses or throws SDPParseError; whatever parses
    /// re-serializes to text that parses to the same description.
    @Test("Random mutations of the fixtures never crash", arguments: SDPFixtures.all)
    func mutations(name: String) throws {
        let original = Array(try SDPFixtures.text(name).utf8)
        var generator = SplitMix64(seed: UInt64(truncatingIfNeeded: name.utf8.count) &* 0x9E37_79B9)
        var parsed = 0, refused = 0
        for _ in 0..<400 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<5, using: &generator) {
                case 0: bytes[index] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.remove(at: index)
                case 2: bytes.insert([0x0A, 0x0D, 0x20, 0x3A, 0x3D, 0x2F][Int.random(in: 0..<6, using: &generator)], at: index)
                case 3:
                    let end = min(bytes.count, index + Int.random(in: 1...80, using: &generator))
                    bytes.removeSubrange(index..<end)
                default:
                    let end = min(bytes.count, index + Int.random(in: 1...80, using: &generator))
                    bytes.insert(contentsOf: bytes[index..<end], at: Int.random(in: 0..<bytes.count, using: &generator))
                }
                if bytes.isEmpty { bytes = [0x76] }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            do {
                let description = try SDPSessionDescription.parse(text)
                parsed += 1
                #expect(try SDPSessionDescription.parse(description.text) == description)
                // Negotiation on whatever parsed also ends in an answer or a typed error.
                _ = try? SDPNegotiation.answer(offer: description, local: SDPFixtures.local())
            } catch {
                refused += 1
                #expect(error.line >= 0)
            }
        }
        #expect(parsed + refused == 400)
        #expect(refused > 0)
    }
}

