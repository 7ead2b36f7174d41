import ICEAgent
import NIOCore
import STUNCore
import Testing

/// Two agents on the simulated network (Support/IceTestHarness.swift), in simulated time.
@Suite("Two ICE agents on a simulated network")
struct TwoAgentTests {
    /// A controlling A at 192.0.2.1 and a controlled B at 198.51.100.2, one host candidate each.
    static func hostPair(
        conditions: SimulatedNetwork.Conditions = .init(), seed: UInt64 = 1, aRole: IceRole = .controlling,
        bRole: IceRole = .controlled
    ) -> IceTestHarness {
        var harness = IceTestHarness(aRole: aRole, bRole: bRole, conditions: conditions, seed: seed)
        harness.a.addHost("192.0.2.1:5000")
        harness.b.addHost("198.51.100.2:6000")
        return harness
    }

    static func expectConsistent(_ harness: IceTestHarness, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let a = harness.a.agent.selectedPair, let b = harness.b.agent.selectedPair else {
            Issue.record("no selected pair", sourceLocation: sourceLocation)
            return
        }
        // Each side sends to the address the other sends from.
        #expect(harness.a.bases[a.base] == b.remoteAddress, sourceLocation: sourceLocation)
        #expect(harness.b.bases[b.base] == a.remoteAddress, sourceLocation: sourceLocation)
        #expect(harness.steps < 100_000, sourceLocation: sourceLocation)
    }

    @Test func aControllingAndAControlledAgentConnectOverHostCandidates() throws {
        var harness = Self.hostPair()
        harness.exchangeCredentials()
        harness.signalCandidates(fromA: true)
        harness.signalCandidates(fromA: false)
        harness.runUntilConnected(limit: 5_000)
        let a = try #require(harness.a.agent.selectedPair)
        let b = try #require(harness.b.agent.selectedPair)
        #expect((a.local.type, a.remote.type) == (.host, .host))
        #expect((b.local.type, b.remote.type) == (.host, .host))
        #expect(a.remoteAddress == TransportAddress("198.51.100.2:6000"))
        #expect(a.priority == b.priority, "both sides compute the same pair priority")
        Self.expectConsistent(harness)
        // One RTT for the check, one for the nomination: 40 ms on 10 ms links, plus pacing.
        #expect(try #require(harness.a.firstTime(of: .connected)) <= 100)
        #expect(harness.a.agent.role == .controlling && harness.b.agent.role == .controlled)
        #expect(harness.b.states.first == .checking)
        #expect(harness.b.agent.statistics.integrityFailures == 0)
        // Both signalled end-of-candidates: with nothing left to check the state is completed.
        harness.run(until: 12_000)
        #expect(harness.a.agent.connectionState == .completed)
        #expect(harness.b.agent.connectionState == .completed)
        #expect(harness.a.states.filter { $0 == .connected || $0 == .completed }.count >= 1)
        #expect(!harness.a.states.contains(.disconnected) && !harness.b.states.contains(.disconnected))
    }

    @Test func candidatesTrickledLateAndInReverseOrderStillConnectOnTheBestPair() throws {
        var harness = IceTestHarness(seed: 5)
        harness.a.addHost("192.0.2.1:5000", interfaceIndex: 0)
        harness.a.addHost("192.0.2.11:5001", interfaceIndex: 1)
        harness.a.addHost("[2001:db8::1]:5002", interfaceIndex: 0)
        harness.b.addHost("198.51.100.2:6000", interfaceIndex: 0)
        harness.b.addHost("198.51.100.12:6001", interfaceIndex: 1)
        harness.b.addHost("[2001:db8::2]:6002", interfaceIndex: 0)
        // B hears A's candidates before it has any credentials, in reverse order.
        harness.signalCandidates(fromA: true, reversed: true, end: false)
        harness.run(until: 50)
        // A learns B's credentials, then B's candidates trickle in reverse, one every 30 ms.
        harness.a.agent.setRemoteCredentials(harness.b.agent.localCredentials)
        for candidate in harness.b.candidates.reversed() {
            harness.a.agent.addRemoteCandidate(try IceCandidate(sdp: candidate.sdpValue), now: simAt(harness.now))
            harness.run(until: harness.now + 30)
        }
        harness.a.agent.endOfRemoteCandidates()
        // B's credentials for A come last.
        harness.run(until: harness.now + 100)
        harness.b.agent.setRemoteCredentials(harness.a.agent.localCredentials)
        harness.b.agent.endOfRemoteCandidates()
        harness.runUntilConnected(limit: 10_000)
        let a = try #require(harness.a.agent.selectedPair)
        let b = try #require(harness.b.agent.selectedPair)
        #expect((a.local.type, a.remote.type) == (.host, .host))
        #expect((b.local.type, b.remote.type) == (.host, .host))
        // The IPv6 pair has the highest priority on both sides, and it is the one selected.
        #expect(a.remoteAddress == TransportAddress("[2001:db8::2]:6002"))
        #expect(b.remoteAddress == TransportAddress("[2001:db8::1]:5002"))
        Self.expectConsistent(harness)
    }

    @Test func anUnresolvableMDNSHostCandidateConnectsThroughAPeerReflexiveCandidate() throws {
        // A plays the browser: it signals its host address only as an mDNS name.
        var harness = Self.hostPair()
        harness.exchangeCredentials()
        let name = "5f3e9a2c-1d4b-4c8e-9f00-6a7b8c9d0e1f.local"
        harness.signalCandidates(fromA: true) { candidate in
            var hidden = candidate
            hidden.address = .hostname(name)
            return hidden
        }
        harness.signalCandidates(fromA: false)
        harness.runUntilConnected(limit: 5_000)
        #expect(harness.b.resolutionRequests == [name])
        let a = try #require(harness.a.agent.selectedPair)
        let b = try #require(harness.b.agent.selectedPair)
        #expect((a.local.type, a.remote.type) == (.host, .host))
        #expect((b.local.type, b.remote.type) == (.host, .peerReflexive))
        #expect(b.remoteAddress == TransportAddress("192.0.2.1:5000"))
        Self.expectConsistent(harness)
    }

    @Test func aHostnameLookupThatNeverAnswersDelaysNothing() throws {
        var harness = Self.hostPair()
        harness.b.answersHostnames = false
        harness.exchangeCredentials()
        harness.signalCandidates(fromA: true, end: false) { candidate in
            var hidden = candidate
            hidden.address = .hostname("never-answered.local")
            return hidden
        }
        harness.signalCandidates(fromA: false)
        harness.runUntilConnected(limit: 5_000)
        let b = try #require(harness.b.agent.selectedPair)
        #expect((b.local.type, b.remote.type) == (.host, .peerReflexive))
        #expect(try #require(harness.b.firstTime(of: .connected)) <= 100)
        Self.expectConsistent(harness)
    }

    @Test func aResolvedMDNSCandidateIsUsedAsTheHostCandidateItIs() throws {
        var harness = Self.hostPair()
        let name = "1b2c3d4e-0000-4000-8000-00000000abcd.local"
        harness.b.hostnames[name] = IPAddress("192.0.2.1")
        harness.exchangeCredentials()
        harness.signalCandidates(fromA: false)
        harness.signalCandidates(fromA: true) { candidate in
            var hidden = candidate
            hidden.address = .hostname(name)
            return hidden
        }
        harness.runUntilConnected(limit: 5_000)
        let b = try #require(harness.b.agent.selectedPair)
        #expect((b.local.type, b.remote.type) == (.host, .host))
        #expect(b.remote.address == .hostname(name))
        #expect(b.remoteAddress == TransportAddress("192.0.2.1:5000"))
        Self.expectConsistent(harness)
    }

    @Test(arguments: [IceRole.controlling, .controlled])
    func twoAgentsInTheSameRoleResolveTheConflict(role: IceRole) throws {
        var harness = Self.hostPair(seed: 9, aRole: role, bRole: role)
        harness.exchangeCredentials()
        harness.signalCandidates(fromA: true)
        harness.signalCandidates(fromA: false)
        harness.runUntilConnected(limit: 5_000)
        #expect(harness.a.agent.role != harness.b.agent.role)
        let conflicts = harness.a.agent.statistics.roleConflicts + harness.b.agent.statistics.roleConflicts
        #expect(conflicts >= 1)
        let switched = (harness.a.events + harness.b.events).filter {
            if case .roleChanged = $0.event { true } else { false }
        }
        #expect(switched.count == 1)
        let a = try #require(harness.a.agent.selectedPair)
        let b = try #require(harness.b.agent.selectedPair)
        #expect((a.local.type, a.remote.type) == (.host, .host))
        #expect((b.local.type, b.remote.type) == (.host, .host))
        Self.expectConsistent(harness)
    }

    @Test func anICERestartConnectsAgainWithNewCredentialsWithoutDroppingTheConnection() throws {
        var harness = Self.hostPair()
        harness.exchangeCredentials()
        harness.signalCandidates(fromA: true)
        harness.signalCandidates(fromA: false)
        harness.runUntilConnected(limit: 5_000)
        let before = try #require(harness.b.agent.selectedPair)
        let oldB = harness.b.agent.localCredentials
        harness.run(until: 3_000)

        var random = SimSeededGenerator(seed: 99)
        harness.a.agent.restart(localCredentials: .random(using: &random), now: simAt(harness.now))
        harness.b.agent.restart(localCredentials: .random(using: &random), now: simAt(harness.now))
        #expect(harness.b.agent.selectedPair == before, "the old pair carries data until a new one is selected")
        let restartedAt = harness.now
        harness.exchangeCredentials()
        harness.signalCandidates(fromA: true)
        harness.signalCandidates(fromA: false)
        harness.run(until: restartedAt + 2_000)
        // A new selection happened after the restart on both sides.
        for peer in [harness.a, harness.b] {
            let reselected = peer.events.filter {
                if case .selectedPairChanged(.some) = $0.event { $0.time >= restartedAt } else { false }
            }
            #expect(reselected.count == 1, "\(peer.name)")
            #expect(peer.agent.isUp, "\(peer.name)")
            #expect(!peer.states.contains(.failed) && !peer.states.contains(.disconnected), "\(peer.name)")
        }
        let after = try #require(harness.b.agent.selectedPair)
        #expect((after.local.type, after.remote.type) == (.host, .host))
        Self.expectConsistent(harness)

        // A check with B's old ufrag is refused.
        let stale = PeerMessages.check(to: oldB, from: harness.a.agent.localCredentials)
        let outcome = harness.b.agent.handleReceive(
            stale, from: TransportAddress("192.0.2.1:5000")!, on: IceBaseID(0), now: simAt(harness.now))
        #expect(outcome == .rejected(.unknownUsername))
    }

    @Test func afterTheNetworkIsCutTheStateGoesDisconnectedThenFailedAt30Seconds() throws {
        var harness = Self.hostPair()
        harness.exchangeCredentials()
        harness.signalCandidates(fromA: true)
        harness.signalCandidates(fromA: false)
        harness.runUntilConnected(limit: 5_000)
        harness.run(until: 20_000)
        #expect(harness.b.agent.isUp)
        #expect(harness.b.agent.statistics.consentChecksSent >= 3, "consent checks every 4–6 s")
        let beforeCut = try #require(harness.b.agent.selectedPair)
        #expect((beforeCut.local.type, beforeCut.remote.type) == (.host, .host))
        let cutAt = harness.now
        harness.network.isCut = true
        harness.run(until: cutAt + 40_000)
        for peer in [harness.a, harness.b] {
            let disconnected = try #require(peer.firstTime(of: .disconnected), "\(peer.name)")
            let failed = try #require(peer.firstTime(of: .failed), "\(peer.name)")
            // Consent was last refreshed at most one consent interval (≤ 6 s) before the cut.
            #expect(disconnected > cutAt && disconnected <= cutAt + 7_000, "\(peer.name)")
            #expect(failed - disconnected == 23_000, "\(peer.name): 30 s minus 7 s after the last response")
            #expect(peer.events.contains { $0.event == .consentExpired }, "\(peer.name)")
            #expect(peer.events.last { if case .selectedPairChanged = $0.event { true } else { false } }?.event
                == .selectedPairChanged(nil))
            #expect(peer.agent.selectedPair == nil)
            #expect(peer.agent.connectionState == .failed)
        }
        // Consent failure stops all sending.
        let sentBefore = harness.network.sent
        harness.run(until: harness.now + 60_000)
        #expect(harness.network.sent == sentBefore)
    }

    @Test func aShortOutageIsDisconnectedAndRecovers() throws {
        var harness = Self.hostPair()
        harness.exchangeCredentials()
        harness.signalCandidates(fromA: true)
        harness.signalCandidates(fromA: false)
        harness.runUntilConnected(limit: 5_000)
        harness.run(until: 10_000)
        harness.network.isCut = true
        harness.run(until: 22_000)
        #expect(harness.a.agent.connectionState == .disconnected)
        #expect(harness.b.agent.connectionState == .disconnected)
        harness.network.isCut = false
        harness.run(until: 30_000)
        let b = try #require(harness.b.agent.selectedPair)
        #expect((b.local.type, b.remote.type) == (.host, .host))
        for peer in [harness.a, harness.b] {
            #expect(peer.agent.isUp, "\(peer.name)")
            #expect(!peer.states.contains(.failed), "\(peer.name)")
            let down = try #require(peer.states.lastIndex(of: .disconnected), "\(peer.name)")
            #expect(peer.states[(down + 1)...].first == .connected, "\(peer.name)")
        }
        Self.expectConsistent(harness)
    }

    @Test func wrongPasswordsNeverConnectAndAreCounted() throws {
        var harness = Self.hostPair()
        let wrong = "wrongpasswordwrongpassword"
        harness.a.agent.setRemoteCredentials(try IceCredentials(
            usernameFragment: harness.b.agent.localCredentials.usernameFragment, password: wrong))
        harness.b.agent.setRemoteCredentials(try IceCredentials(
            usernameFragment: harness.a.agent.localCredentials.usernameFragment, password: wrong))
        harness.signalCandidates(fromA: true)
        harness.signalCandidates(fromA: false)
        harness.run(until: 30_000)
        for peer in [harness.a, harness.b] {
            #expect(peer.agent.selectedPair == nil, "\(peer.name)")
            #expect(!peer.states.contains(.connected), "\(peer.name)")
            #expect(peer.agent.connectionState == .failed, "\(peer.name)")
            #expect(peer.agent.statistics.integrityFailures >= 7, "\(peer.name): every retransmission")
            #expect(peer.transmitted.contains { $0.message.errorCode?.code == 401 }, "\(peer.name)")
        }
    }

    @Test func oneWrongPasswordLeavesThatSideUnconnected() throws {
        var harness = Self.hostPair()
        harness.a.agent.setRemoteCredentials(harness.b.agent.localCredentials)
        harness.b.agent.setRemoteCredentials(try IceCredentials(
            usernameFragment: harness.a.agent.localCredentials.usernameFragment, password: "wrongpasswordwrongpassword"))
        harness.signalCandidates(fromA: true)
        harness.signalCandidates(fromA: false)
        harness.run(until: 30_000)
        #expect(harness.b.agent.selectedPair == nil)
        #expect(!harness.b.states.contains(.connected))
        #expect(harness.a.agent.statistics.integrityFailures > 0)
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5])
    func twentyPercentLossAndReorderingStillConnect(seed: UInt64) throws {
        var harness = Self.hostPair(
            conditions: .init(latencyMilliseconds: 20, jitterMilliseconds: 40, loss: 0.2), seed: seed)
        harness.a.addHost("192.0.2.21:5001", interfaceIndex: 1)
        harness.b.addHost("198.51.100.22:6001", interfaceIndex: 1)
        harness.exchangeCredentials()
        harness.signalCandidates(fromA: true)
        harness.signalCandidates(fromA: false)
        harness.runUntilConnected(limit: 20_000)
        #expect(harness.a.agent.isUp && harness.b.agent.isUp)
        let a = try #require(harness.a.agent.selectedPair)
        let b = try #require(harness.b.agent.selectedPair)
        #expect((a.local.type, a.remote.type) == (.host, .host))
        #expect((b.local.type, b.remote.type) == (.host, .host))
        #expect(harness.network.lost > 0)
        Self.expectConsistent(harness)
        // And it stays up under the same loss: consent retransmits ride it out.
        harness.run(until: 60_000)
        #expect(harness.a.agent.connectionState != .failed && harness.b.agent.connectionState != .failed)
    }

    @Test func behindANATTheSignalledServerReflexiveCandidateIsUsed() throws {
        var harness = IceTestHarness(seed: 4)
        harness.a.addHost("10.0.0.2:5000")
        harness.a.addServerReflexive("203.0.113.1:40000", base: IceBaseID(0))
        harness.b.addHost("198.51.100.2:6000")
        harness.network.natMappings[TransportAddress("10.0.0.2:5000")!] = TransportAddress("203.0.113.1:40000")!
        harness.network.unreachable = [TransportAddress("10.0.0.2:5000")!]
        harness.exchangeCredentials()
        harness.signalCandidates(fromA: true)
        harness.signalCandidates(fromA: false)
        harness.runUntilConnected(limit: 5_000)
        let a = try #require(harness.a.agent.selectedPair)
        let b = try #require(harness.b.agent.selectedPair)
        #expect((a.local.type, a.remote.type) == (.serverReflexive, .host))
        #expect((b.local.type, b.remote.type) == (.host, .serverReflexive))
        #expect(a.base == IceBaseID(0))
    }

    @Test func behindANATWithoutSignallingItBothSidesLearnPeerReflexiveCandidates() throws {
        var harness = IceTestHarness(seed: 6)
        harness.a.addHost("10.0.0.2:5000")
        harness.b.addHost("198.51.100.2:6000")
        harness.network.natMappings[TransportAddress("10.0.0.2:5000")!] = TransportAddress("203.0.113.1:40000")!
        harness.network.unreachable = [TransportAddress("10.0.0.2:5000")!]
        harness.exchangeCredentials()
        harness.signalCandidates(fromA: true)
        harness.signalCandidates(fromA: false)
        harness.runUntilConnected(limit: 5_000)
        let a = try #require(harness.a.agent.selectedPair)
        let b = try #require(harness.b.agent.selectedPair)
        #expect((a.local.type, a.remote.type) == (.peerReflexive, .host))
        #expect(a.local.transportAddress == TransportAddress("203.0.113.1:40000"))
        #expect((b.local.type, b.remote.type) == (.host, .peerReflexive))
        #expect(b.remoteAddress == TransportAddress("203.0.113.1:40000"))
    }

    @Test func theSameSeedGivesTheSameRun() {
        func run() -> [Int64] {
            var harness = Self.hostPair(conditions: .init(latencyMilliseconds: 15, jitterMilliseconds: 30, loss: 0.2), seed: 42)
            harness.exchangeCredentials()
            harness.signalCandidates(fromA: true)
            harness.signalCandidates(fromA: false)
            harness.run(until: 15_000)
            return harness.a.events.map(\.time) + [Int64(harness.network.sent)]
        }
        #expect(run() == run())
    }
}
