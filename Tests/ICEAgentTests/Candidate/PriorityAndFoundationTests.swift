import ICEAgent
import STUNCore
import Testing

@Suite("Priorities and foundations (RFC 8445 §5.1.1.3, §5.1.2, §6.1.2.3)")
struct PriorityAndFoundationTests {
    static let candidatePriorities: [(IceCandidateType, UInt16, UInt16, UInt32)] = [
        (.host, 65_535, 1, 2_130_706_431),
        (.host, 32_542, 1, 2_122_260_223),  // Chromium's fixture host candidate
        (.peerReflexive, 65_535, 1, 1_862_270_975),
        (.serverReflexive, 65_535, 1, 1_694_498_815),
        (.relay, 65_535, 1, 16_777_215),
        (.host, 0, 256, 2_113_929_216),
        (.relay, 0, 2, 254),
    ]

    @Test(arguments: candidatePriorities)
    func candidatePriorityFollowsTheFormula(type: IceCandidateType, localPreference: UInt16, component: UInt16, expected: UInt32) {
        #expect(IceCandidate.priority(type: type, localPreference: localPreference, component: component) == expected)
        #expect(expected == (type.typePreference << 24) + (UInt32(localPreference) << 8) + (256 - UInt32(component)))
    }

    @Test func typePreferencesAreTheRecommendedValues() {
        #expect(IceCandidateType.host.typePreference == 126)
        #expect(IceCandidateType.peerReflexive.typePreference == 110)
        #expect(IceCandidateType.serverReflexive.typePreference == 100)
        #expect(IceCandidateType.relay.typePreference == 0)
    }

    @Test func ipv6HostCandidatesRankAboveIPv4AndLinkLocalBelowBoth() {
        let v6 = IceCandidate.localPreference(for: IPAddress("2001:db8::1")!)
        let v4 = IceCandidate.localPreference(for: IPAddress("192.0.2.1")!)
        let linkLocal = IceCandidate.localPreference(for: IPAddress("fe80::1")!)
        #expect(v6 > v4)
        #expect(v4 > linkLocal)
        #expect(IceCandidate.localPreference(for: IPAddress("192.0.2.1")!, interfaceIndex: 1) < v4)
        let hostV6 = IceCandidate(address: TransportAddress("[2001:db8::1]:1")!, type: .host)
        let hostV4 = IceCandidate(address: TransportAddress("192.0.2.1:1")!, type: .host)
        #expect(hostV6.priority > hostV4.priority)
    }

    @Test func foundationsAgreeExactlyWhenTypeBaseServerAndTransportAgree() {
        let base = IPAddress("192.0.2.1")!
        let server = IPAddress("198.51.100.1")!
        let a = IceCandidate.foundation(type: .serverReflexive, baseAddress: base, serverAddress: server, transport: .udp)
        #expect(a == IceCandidate.foundation(type: .serverReflexive, baseAddress: base, serverAddress: server, transport: .udp))
        #expect(a != IceCandidate.foundation(type: .host, baseAddress: base, serverAddress: server, transport: .udp))
        #expect(a != IceCandidate.foundation(type: .serverReflexive, baseAddress: IPAddress("192.0.2.2")!, serverAddress: server, transport: .udp))
        #expect(a != IceCandidate.foundation(type: .serverReflexive, baseAddress: base, serverAddress: IPAddress("198.51.100.2")!, transport: .udp))
        #expect(a != IceCandidate.foundation(type: .serverReflexive, baseAddress: base, serverAddress: server, transport: .tcp))
        #expect((1...32).contains(a.count) && a.allSatisfy(\.isNumber))
        // Two ports on one interface share a host foundation.
        let one = IceCandidate(address: TransportAddress("192.0.2.1:1000")!, type: .host)
        let two = IceCandidate(address: TransportAddress("192.0.2.1:2000")!, type: .host)
        #expect(one.foundation == two.foundation)
    }

    static let pairPriorities: [(UInt32, UInt32, UInt64)] = [
        (10, 20, (10 << 32) + 40),
        (20, 10, (10 << 32) + 41),
        (7, 7, (7 << 32) + 14),
        (UInt32.max, 0, UInt64(UInt32.max) * 2 + 1),
    ]

    @Test(arguments: pairPriorities)
    func pairPriorityFollowsTheFormula(controlling: UInt32, controlled: UInt32, expected: UInt64) {
        #expect(IceCandidate.pairPriority(controlling: controlling, controlled: controlled) == expected)
    }

    @Test func bothSidesComputeTheSamePairPriority() {
        let g: UInt32 = 2_130_706_431, d: UInt32 = 1_694_498_815
        // The controlling agent's candidate is G on both sides, whichever is local.
        #expect(IceCandidate.pairPriority(controlling: g, controlled: d) != IceCandidate.pairPriority(controlling: d, controlled: g))
        #expect(IceCandidate.pairPriority(controlling: g, controlled: d) == (UInt64(d) << 32) + 2 * UInt64(g) + 1)
    }
}

@Suite("ICE credentials (RFC 8445 §5.3)")
struct CredentialsTests {
    @Test func limitsAreEnforced() throws {
        #expect(throws: IceCredentialsError.invalidUsernameFragment) {
            try IceCredentials(usernameFragment: "abc", password: String(repeating: "p", count: 22))
        }
        #expect(throws: IceCredentialsError.invalidUsernameFragment) {
            try IceCredentials(usernameFragment: "ab:c", password: String(repeating: "p", count: 22))
        }
        #expect(throws: IceCredentialsError.invalidPassword) {
            try IceCredentials(usernameFragment: "abcd", password: String(repeating: "p", count: 21))
        }
        #expect(throws: IceCredentialsError.invalidPassword) {
            try IceCredentials(usernameFragment: "abcd", password: String(repeating: "p", count: 21) + "=")
        }
        let fixture = try IceCredentials(usernameFragment: "X47p", password: "ZwPGT347n5/WCNVecoJe1/RN")
        #expect(fixture.usernameFragment == "X47p")
        #expect(!fixture.description.contains(fixture.password))
    }

    @Test func randomCredentialsAreValidAndReproducibleFromASeed() throws {
        var first = SimSeededGenerator(seed: 7), second = SimSeededGenerator(seed: 7), third = SimSeededGenerator(seed: 8)
        let a = IceCredentials.random(using: &first)
        let b = IceCredentials.random(using: &second)
        let c = IceCredentials.random(using: &third)
        #expect(a == b)
        #expect(a != c)
        let checked = try IceCredentials(usernameFragment: a.usernameFragment, password: a.password)
        #expect(checked == a)
        #expect(a.usernameFragment.count == 8 && a.password.count == 24)
    }
}

extension CredentialsTests {
    @Test func theFixturesCredentialsAreAccepted() throws {
        // chromium-156-offer.sdp and aiortc-1.16-answer-h264.sdp.
        _ = try IceCredentials(usernameFragment: "X47p", password: "ZwPGT347n5/WCNVecoJe1/RN")
        _ = try IceCredentials(usernameFragment: "lSHl", password: "duvp3Tm1hsnUG0xu3L8q3g")
    }
}
