import ICEAgent
import STUNCore
import Testing

/// Candidate lines copied verbatim from `/work/shared/fixtures/chromium-156-offer.sdp`
/// (headless Chromium 156 on loopback; CRLF as sent).
let chromiumFixtureLines = [
    "a=candidate:518375803 1 udp 2122260223 127.0.0.1 47256 typ host generation 0 network-id 1 network-cost 50\r\n",
    "a=candidate:1613376483 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0 network-id 1 network-cost 50\r\n",
    "a=candidate:518375803 1 udp 2122260223 127.0.0.1 43414 typ host generation 0 network-id 1 network-cost 50\r\n",
    "a=candidate:518375803 1 udp 2122260223 127.0.0.1 37950 typ host generation 0 network-id 1 network-cost 50\r\n",
]

/// Other shapes real peers send: Chromium trickled srflx/relay/mDNS lines (as in
/// `RTCIceCandidate.candidate`), aioice's lines (32-hex foundations, no extensions), an
/// uppercase transport and an IPv6 address.
let peerShapedLines = [
    "candidate:842163049 1 udp 1677729535 203.0.113.5 53421 typ srflx raddr 192.168.1.10 rport 53421 generation 0 ufrag abcd network-cost 999",
    "candidate:3924424498 1 udp 2113937151 3d9d1b34-5d76-4d9a-8c1e-5a1ef3e2c0b8.local 54410 typ host generation 0 ufrag abcd network-cost 999",
    "candidate:1510613869 1 udp 41885439 198.51.100.7 62110 typ relay raddr 203.0.113.5 rport 53421 generation 0 ufrag abcd network-id 1 network-cost 10",
    "candidate:7b5f2d3e8c1a9b0f4e6d2c1a3b5f7e9d 1 udp 2130706431 192.0.2.2 43271 typ host",
    "candidate:ab12cd34ab12cd34ab12cd34ab12cd34 1 udp 1694498815 203.0.113.9 43271 typ srflx raddr 192.0.2.2 rport 43271",
    "candidate:1 1 udp 2122252543 2001:db8::1 49203 typ host",
    "candidate:2 1 tcp 1518214911 2001:db8::1 9 typ host tcptype passive",
    "candidate:3 1 udp 1853824767 198.51.100.1 40000 typ prflx raddr 0.0.0.0 rport 0",
]

@Suite("ICE candidate SDP grammar (RFC 8839 §5.1)")
struct CandidateGrammarTests {
    @Test func chromiumsHostCandidateParsesIntoEveryField() throws {
        let candidate = try IceCandidate(sdp: chromiumFixtureLines[0])
        #expect(candidate.foundation == "518375803")
        #expect(candidate.component == 1)
        #expect(candidate.transport == .udp)
        #expect(candidate.priority == 2_122_260_223)
        #expect(candidate.address == .ip(IPAddress("127.0.0.1")!))
        #expect(candidate.port == 47256)
        #expect(candidate.type == .host)
        #expect(candidate.relatedAddress == nil && candidate.relatedPort == nil && candidate.tcpType == nil)
        #expect(candidate.extensions == [
            .init(name: "generation", value: "0"), .init(name: "network-id", value: "1"),
            .init(name: "network-cost", value: "50"),
        ])
        #expect(candidate.transportAddress == TransportAddress("127.0.0.1:47256"))
        #expect(candidate.localPreference == 32_542)
    }

    @Test func chromiumsTCPCandidateKeepsItsTCPType() throws {
        let candidate = try IceCandidate(sdp: chromiumFixtureLines[1])
        #expect(candidate.transport == .tcp)
        #expect(candidate.tcpType == .active)
        #expect(candidate.port == 9)
        #expect(candidate.extensions.map(\.name) == ["generation", "network-id", "network-cost"])
    }

    @Test(arguments: chromiumFixtureLines)
    func fixtureLinesSerializeBackByteForByte(line: String) throws {
        let candidate = try IceCandidate(sdp: line)
        #expect(candidate.sdpAttribute + "\r\n" == line)
    }

    @Test(arguments: peerShapedLines)
    func peerLinesRoundTripThroughTheBareForm(line: String) throws {
        let candidate = try IceCandidate(sdp: line)
        #expect(candidate.sdpValue == line)
        #expect(try IceCandidate(sdp: candidate.sdpAttribute) == candidate)
    }

    @Test func relatedAddressAndPortAreRead() throws {
        let candidate = try IceCandidate(sdp: peerShapedLines[0])
        #expect(candidate.type == .serverReflexive)
        #expect(candidate.relatedAddress == .ip(IPAddress("192.168.1.10")!))
        #expect(candidate.relatedPort == 53421)
        #expect(candidate.usernameFragment == "abcd")
    }

    @Test func anMDNSHostnameIsKeptAsAName() throws {
        let candidate = try IceCandidate(sdp: peerShapedLines[1])
        #expect(candidate.address == .hostname("3d9d1b34-5d76-4d9a-8c1e-5a1ef3e2c0b8.local"))
        #expect(candidate.address.isMulticastDNSName)
        #expect(candidate.transportAddress == nil)
    }

    @Test func transportAndTypeTokensAreCaseInsensitive() throws {
        let candidate = try IceCandidate(sdp: "candidate:1 1 UDP 2122252543 192.0.2.1 5000 typ HOST")
        #expect(candidate.transport == .udp)
        #expect(candidate.type == .host)
        #expect(candidate.sdpValue == "candidate:1 1 udp 2122252543 192.0.2.1 5000 typ host")
    }

    @Test func anIPv6CandidateParses() throws {
        let candidate = try IceCandidate(sdp: peerShapedLines[5])
        #expect(candidate.transportAddress == TransportAddress("[2001:db8::1]:49203"))
    }

    @Test func aBuiltCandidateRoundTrips() throws {
        let candidate = IceCandidate(
            address: TransportAddress("203.0.113.4:3478")!, type: .serverReflexive, base: IPAddress("192.0.2.4"),
            server: IPAddress("198.51.100.1"), related: TransportAddress("192.0.2.4:3478"))
        let parsed = try IceCandidate(sdp: candidate.sdpAttribute)
        #expect(parsed == candidate)
        #expect(parsed.sdpValue.contains(" typ srflx raddr 192.0.2.4 rport 3478"))
    }

    struct Malformed: CustomStringConvertible, Sendable {
        var line: String
        var code: IceCandidateParseError.Code
        var field: String
        var offset: Int
        var description: String { line }
    }

    static let malformed: [Malformed] = [
        .init(line: "a=cand:1 1 udp 1 192.0.2.1 1 typ host", code: .notACandidate, field: "candidate-attribute", offset: 0),
        .init(line: "candidate:", code: .missingField, field: "foundation", offset: 10),
        .init(line: "candidate:1 1 udp 1 192.0.2.1 1", code: .missingField, field: "cand-type", offset: 31),
        .init(line: "candidate:1 1 udp 1 192.0.2.1 1 typ", code: .missingField, field: "candidate-types", offset: 35),
        .init(line: "candidate:a_b 1 udp 1 192.0.2.1 1 typ host", code: .invalidFoundation, field: "foundation", offset: 10),
        .init(line: "candidate:\(String(repeating: "a", count: 33)) 1 udp 1 192.0.2.1 1 typ host",
              code: .invalidFoundation, field: "foundation", offset: 10),
        .init(line: "candidate:1 0 udp 1 192.0.2.1 1 typ host", code: .invalidComponent, field: "component-id", offset: 12),
        .init(line: "candidate:1 257 udp 1 192.0.2.1 1 typ host", code: .invalidComponent, field: "component-id", offset: 12),
        .init(line: "candidate:1 1 sctp 1 192.0.2.1 1 typ host", code: .invalidTransport, field: "transport", offset: 14),
        .init(line: "candidate:1 1 udp 4294967296 192.0.2.1 1 typ host", code: .invalidPriority, field: "priority", offset: 18),
        .init(line: "candidate:1 1 udp -1 192.0.2.1 1 typ host", code: .invalidPriority, field: "priority", offset: 18),
        .init(line: "candidate:1 1 udp 1 192.0.2.1:5 1 typ host", code: .invalidAddress, field: "connection-address", offset: 20),
        .init(line: "candidate:1 1 udp 1 bad_name.local 1 typ host", code: .invalidAddress, field: "connection-address", offset: 20),
        .init(line: "candidate:1 1 udp 1 192.0.2.1 65536 typ host", code: .invalidPort, field: "port", offset: 30),
        .init(line: "candidate:1 1 udp 1 192.0.2.1 +5 typ host", code: .invalidPort, field: "port", offset: 30),
        .init(line: "candidate:1 1 udp 1 192.0.2.1 5 type host", code: .missingType, field: "cand-type", offset: 32),
        .init(line: "candidate:1 1 udp 1 192.0.2.1 5 typ nat", code: .invalidType, field: "candidate-types", offset: 36),
        .init(line: "candidate:1 1 udp 1 192.0.2.1 5 typ srflx raddr", code: .invalidRelatedAddress, field: "rel-addr", offset: 42),
        .init(line: "candidate:1 1 udp 1 192.0.2.1 5 typ srflx raddr 1.2.3.4 rport x", code: .invalidRelatedPort, field: "rel-port", offset: 56),
        .init(line: "candidate:1 1 tcp 1 192.0.2.1 5 typ host tcptype sideways", code: .invalidTcpType, field: "tcptype", offset: 41),
        .init(line: "candidate:1 1 udp 1 192.0.2.1 5 typ host generation", code: .invalidExtension, field: "cand-extension", offset: 41),
        .init(line: "candidate:1  1 udp 1 192.0.2.1 5 typ host", code: .invalidComponent, field: "component-id", offset: 12),
    ]

    @Test(arguments: malformed)
    func malformedLinesFailWithTheFieldAndOffset(_ sample: Malformed) {
        #expect {
            _ = try IceCandidate(sdp: sample.line)
        } throws: { error in
            guard let error = error as? IceCandidateParseError else { return false }
            return error.code == sample.code && error.field == sample.field && error.offset == sample.offset
        }
    }

    @Test func truncatingAValidLineAnywhereNeverCrashes() {
        let line = peerShapedLines[0]
        for length in 0...line.count {
            _ = try? IceCandidate(sdp: String(line.prefix(length)))
        }
    }
}
