import ICEAgent
import NIOCore
import STUNCore
import Testing

@Suite("Nomination as the controlled agent (RFC 8445 §7.3.1.5, §8.1.1)")
struct NominationTests {
    typealias Unit = AgentUnitTests

    @Test func aggressiveNominationSelectsTheBestNominatedValidPair() throws {
        var agent = Unit.agent()
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        agent.addRemoteCandidate(Unit.remote(0), now: simAt(0))
        agent.addRemoteCandidate(Unit.remote(1), now: simAt(0))
        let first = try #require(agent.drainTransmits().first)
        agent.handleTimeout(now: simAt(20))
        let second = try #require(agent.drainTransmits().first)
        #expect(first.destination == Unit.remoteAddresses[0] && second.destination == Unit.remoteAddresses[1])

        // A browser using aggressive nomination puts USE-CANDIDATE on every check.
        agent.handleReceive(PeerMessages.check(to: Unit.credentials, useCandidate: true, transactionID: .init(high: 1, low: 1)),
                            from: Unit.remoteAddresses[1], on: IceBaseID(0), now: simAt(25))
        agent.handleReceive(PeerMessages.success(to: second.bytes, mapped: Unit.localAddress),
                            from: Unit.remoteAddresses[1], on: IceBaseID(0), now: simAt(30))
        #expect(agent.selectedPair?.remoteAddress == Unit.remoteAddresses[1])
        agent.handleReceive(PeerMessages.check(to: Unit.credentials, useCandidate: true, transactionID: .init(high: 2, low: 2)),
                            from: Unit.remoteAddresses[0], on: IceBaseID(0), now: simAt(35))
        agent.handleReceive(PeerMessages.success(to: first.bytes, mapped: Unit.localAddress),
                            from: Unit.remoteAddresses[0], on: IceBaseID(0), now: simAt(40))
        #expect(agent.selectedPair?.remoteAddress == Unit.remoteAddresses[0], "the higher-priority pair wins")
        let changes = agent.drainEvents().filter { if case .selectedPairChanged = $0 { true } else { false } }
        #expect(changes.count == 2)
        #expect(agent.connectionState == .connected)
    }

    @Test func aNominationBeforeOurCheckSucceedsWaitsForIt() throws {
        var agent = Unit.agent()
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        agent.addRemoteCandidate(Unit.remote(0), now: simAt(0))
        let check = try #require(agent.drainTransmits().first)
        agent.handleReceive(PeerMessages.check(to: Unit.credentials, useCandidate: true),
                            from: Unit.remoteAddresses[0], on: IceBaseID(0), now: simAt(5))
        #expect(agent.selectedPair == nil)
        #expect(agent.connectionState == .checking)
        agent.handleReceive(PeerMessages.success(to: check.bytes, mapped: Unit.localAddress),
                            from: Unit.remoteAddresses[0], on: IceBaseID(0), now: simAt(10))
        #expect(agent.selectedPair?.remoteAddress == Unit.remoteAddresses[0])
    }

    @Test func aControlledAgentNeverSendsUseCandidate() {
        var harness = TwoAgentTests.hostPair()
        harness.exchangeCredentials()
        harness.signalCandidates(fromA: true)
        harness.signalCandidates(fromA: false)
        harness.run(until: 20_000)
        #expect(harness.b.transmitted.allSatisfy { transmit in
            let message = transmit.message
            return message.messageClass != .request || message.first(.useCandidate) == nil
        })
        // And the controlling one nominated exactly once.
        let nominations = harness.a.transmitted.filter { $0.message.first(.useCandidate) != nil }
        #expect(nominations.count == 1)
    }

    @Test func aLateResolutionTurnsThePeerReflexiveRemoteIntoTheSignalledCandidate() throws {
        var harness = TwoAgentTests.hostPair()
        harness.b.answersHostnames = false
        let name = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee.local"
        harness.exchangeCredentials()
        harness.signalCandidates(fromA: true) { candidate in
            var hidden = candidate
            hidden.address = .hostname(name)
            return hidden
        }
        harness.signalCandidates(fromA: false)
        harness.runUntilConnected(limit: 5_000)
        #expect(harness.b.agent.selectedPair?.remote.type == .peerReflexive)
        harness.b.agent.resolvedHostname(name, to: IPAddress("192.0.2.1")!, now: simAt(harness.now))
        harness.flush()
        let selected = try #require(harness.b.agent.selectedPair)
        #expect((selected.local.type, selected.remote.type) == (.host, .host))
        #expect(selected.remote.address == .hostname(name))
        #expect(harness.b.events.last?.event == .selectedPairChanged(selected))
    }
}
