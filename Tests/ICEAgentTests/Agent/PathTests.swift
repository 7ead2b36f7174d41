import ICEAgent
import NIOCore
import STUNCore
import Testing

/// Which path wins when some do not work.
@Suite("Path selection on the simulated network")
struct PathTests {
    @Test func whenTheDirectPathIsBlockedTheRelayedCandidateIsUsed() throws {
        var harness = IceTestHarness(seed: 12)
        harness.a.addHost("10.0.0.2:5000")
        harness.a.addRelay("198.51.100.77:50000", mappedFrom: "203.0.113.1:40000")
        harness.b.addHost("198.51.100.2:6000")
        // Nothing reaches A's private address from outside.
        harness.network.unreachable = [TransportAddress("10.0.0.2:5000")!]
        harness.exchangeCredentials()
        harness.signalCandidates(fromA: true)
        harness.signalCandidates(fromA: false)
        harness.runUntilConnected(limit: 10_000)
        let a = try #require(harness.a.agent.selectedPair)
        let b = try #require(harness.b.agent.selectedPair)
        #expect((a.local.type, a.remote.type) == (.relay, .host))
        #expect(a.base == IceBaseID(1))
        #expect((b.local.type, b.remote.type) == (.host, .relay))
        // The host pair ranks higher, so nomination waited for the nomination delay at most.
        #expect(try #require(harness.a.firstTime(of: .connected)) <= 400)
    }

    @Test func candidatesOfDifferentAddressFamiliesNeverPairAndTheAgentsFail() {
        var harness = IceTestHarness(seed: 13)
        harness.a.addHost("[2001:db8::1]:5000")
        harness.b.addHost("198.51.100.2:6000")
        harness.exchangeCredentials()
        harness.signalCandidates(fromA: true)
        harness.signalCandidates(fromA: false)
        harness.run(until: 20_000)
        #expect(harness.network.sent == 0)
        #expect(harness.a.agent.connectionState == .failed && harness.b.agent.connectionState == .failed)
        #expect(harness.a.firstTime(of: .failed) == 10_000, "no pair at all: the grace period decides")
    }

    @Test func aCandidateTrickledAfterFailureRevivesTheAgent() throws {
        var harness = TwoAgentTests.hostPair(seed: 14)
        harness.exchangeCredentials()
        // A first hears of an address nobody answers on, and no end-of-candidates.
        let nobody = IceCandidate(address: TransportAddress("198.51.100.99:9")!, type: .host)
        harness.a.agent.addRemoteCandidate(nobody, now: simAt(0))
        harness.run(until: 30_000)
        #expect(harness.a.agent.connectionState == .failed)
        #expect(harness.a.firstTime(of: .failed) == 10_000, "pair failed at 9.5 s, grace ends at 10 s")
        #expect(harness.b.agent.connectionState == .new)
        // Then the real candidates trickle in.
        harness.signalCandidates(fromA: false)
        harness.signalCandidates(fromA: true)
        harness.runUntilConnected(limit: 35_000)
        #expect(harness.a.agent.isUp && harness.b.agent.isUp)
        #expect(Array(harness.a.states.drop { $0 != .failed }.prefix(3)) == [.failed, .checking, .connected])
        let a = try #require(harness.a.agent.selectedPair)
        #expect((a.local.type, a.remote.type) == (.host, .host))
    }

    @Test func aCandidateSignalledTwiceMakesOnePair() {
        var harness = TwoAgentTests.hostPair(seed: 15)
        harness.exchangeCredentials()
        harness.signalCandidates(fromA: true, end: false)
        harness.signalCandidates(fromA: true)
        harness.signalCandidates(fromA: false)
        harness.runUntilConnected(limit: 5_000)
        let checks = harness.b.transmitted.filter { $0.message.messageClass == .request }
        #expect(Set(checks.map(\.destination)).count == 1)
        #expect(harness.b.agent.isUp)
    }
}
