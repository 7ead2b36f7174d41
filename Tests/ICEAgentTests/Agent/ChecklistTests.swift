import ICEAgent
import NIOCore
import STUNCore
import Testing

/// The checklist: pruning, freezing, triggered checks first, trickle generations, consent timing.
@Suite("ICE checklist and timers (RFC 8445 §6.1.2, §6.1.4, RFC 7675)")
struct ChecklistTests {
    typealias Unit = AgentUnitTests

    @Test func aServerReflexiveCandidateIsPrunedInFavourOfItsBase() {
        var agent = IceAgent(configuration: .init(), localCredentials: Unit.credentials, now: simAt(0), randomSeed: 1)
        let base = IceBaseID(0)
        // Gathering reports the srflx candidate first, then the host candidate of the same socket.
        agent.addLocalCandidate(
            IceCandidate(address: TransportAddress("203.0.113.1:40000")!, type: .serverReflexive,
                         base: Unit.localAddress.ip, server: IPAddress("198.51.100.250"), related: Unit.localAddress),
            base: base)
        agent.addLocalCandidate(IceCandidate(address: Unit.localAddress, type: .host), base: base)
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        agent.addRemoteCandidate(Unit.remote(0), now: simAt(0))
        agent.endOfRemoteCandidates()
        var sent = agent.drainTransmits()
        var now: Int64 = 0
        while let next = agent.nextTimeout(), simMilliseconds(next) < 1_000 {
            now = simMillisecondsRoundingUp(next)
            agent.handleTimeout(now: simAt(now))
            sent += agent.drainTransmits()
        }
        // One pair only (redundant pairs share the base and the remote candidate): its check
        // is sent and retransmitted, and it carries the host candidate's priority.
        let ids = Set(sent.map { $0.message.transactionID })
        #expect(ids.count == 1)
        let host = IceCandidate(address: Unit.localAddress, type: .host)
        #expect(sent.first?.message.first(.priority)
            == .priority(IceCandidate.priority(type: .peerReflexive, localPreference: host.localPreference, component: 1)))
    }

    @Test func pairsOfOneFoundationWaitFrozenUntilOneOfThemSucceeds() throws {
        // Two remote ports on one address share a foundation: the second pair starts Frozen,
        // and is only checked early when the first succeeds (§7.2.5.3.3).
        var agent = Unit.agent(role: .controlling)
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        let sameHost = [TransportAddress("198.51.100.1:6000")!, TransportAddress("198.51.100.1:6001")!]
        let other = TransportAddress("198.51.100.9:6000")!
        for (index, address) in (sameHost + [other]).enumerated() {
            agent.addRemoteCandidate(
                IceCandidate(address: address, type: .host, localPreference: UInt16(60_000 - index * 1000)), now: simAt(0))
        }
        let first = try #require(agent.drainTransmits().first)
        #expect(first.destination == sameHost[0])
        agent.handleTimeout(now: simAt(20))
        // Not the same-foundation pair: it is frozen; the other foundation's pair goes next.
        #expect(agent.drainTransmits().map(\.destination) == [other])
        agent.handleReceive(PeerMessages.success(to: first.bytes, mapped: Unit.localAddress), from: sameHost[0],
                            on: IceBaseID(0), now: simAt(30))
        agent.handleTimeout(now: simAt(40))
        let next = agent.drainTransmits()
        // The nomination of the valid pair is a triggered check and goes first.
        #expect(next.count == 1)
        #expect(next.first?.message.first(.useCandidate) != nil)
        agent.handleTimeout(now: simAt(60))
        #expect(agent.drainTransmits().map(\.destination) == [sameHost[1]], "unfrozen by the success")
    }

    @Test func triggeredChecksGoBeforeOrdinaryOnes() throws {
        var agent = Unit.agent()
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        agent.addRemoteCandidate(Unit.remote(0), now: simAt(0))
        agent.addRemoteCandidate(Unit.remote(1), now: simAt(0))
        _ = agent.drainTransmits()  // remote 0, at once
        let newcomer = TransportAddress("203.0.113.50:9000")!
        agent.handleReceive(PeerMessages.check(to: Unit.credentials), from: newcomer, on: IceBaseID(0), now: simAt(10))
        let response = agent.drainTransmits()
        #expect(response.count == 1 && response.first?.message.messageClass == .successResponse)
        agent.handleTimeout(now: simAt(20))
        #expect(agent.drainTransmits().map(\.destination) == [newcomer])
        agent.handleTimeout(now: simAt(40))
        #expect(agent.drainTransmits().map(\.destination) == [Unit.remoteAddresses[1]])
    }

    @Test func aTrickledCandidateOfAnotherGenerationIsIgnored() {
        var agent = Unit.agent()
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        var stale = Unit.remote(0)
        stale.extensions = [.init(name: "generation", value: "0"), .init(name: "ufrag", value: "oldpeer")]
        agent.addRemoteCandidate(stale, now: simAt(0))
        #expect(agent.drainTransmits().isEmpty)
        var current = Unit.remote(1)
        current.extensions = [.init(name: "ufrag", value: PeerMessages.peerCredentials.usernameFragment)]
        agent.addRemoteCandidate(current, now: simAt(1))
        #expect(agent.drainTransmits().map(\.destination) == [Unit.remoteAddresses[1]])
    }

    @Test func aRemoteCandidateWithPortZeroOrOverTCPIsIgnored() {
        var agent = Unit.agent()
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        var zero = Unit.remote(0)
        zero.port = 0
        agent.addRemoteCandidate(zero, now: simAt(0))
        var tcp = Unit.remote(1)
        tcp.transport = .tcp
        tcp.tcpType = .active
        agent.addRemoteCandidate(tcp, now: simAt(0))
        #expect(agent.drainTransmits().isEmpty)
        #expect(agent.connectionState == .new)
    }

    @Test func consentChecksComeEveryFourToSixSecondsAndCountAsKeepAlives() {
        var harness = TwoAgentTests.hostPair(seed: 21)
        harness.exchangeCredentials()
        harness.signalCandidates(fromA: true)
        harness.signalCandidates(fromA: false)
        harness.runUntilConnected(limit: 5_000)
        let connectedAt = harness.now
        harness.run(until: 120_000)
        for peer in [harness.a, harness.b] {
            let requests = zip(peer.transmitted, peer.transmittedAt).filter { transmit, time in
                time > connectedAt + 100 && transmit.message.messageClass == .request
            }.map(\.1)
            let gaps = zip(requests.dropFirst(), requests).map { $0 - $1 }
            #expect(gaps.count > 15, "\(peer.name)")
            #expect(gaps.allSatisfy { (4_000...6_000).contains($0) }, "\(peer.name): \(gaps)")
            #expect(Set(gaps).count > gaps.count / 2, "\(peer.name): randomized, not a fixed period")
            #expect(peer.agent.statistics.retransmissions == 0, "\(peer.name): no loss, no retransmission")
            #expect(peer.agent.isUp, "\(peer.name)")
        }
        #expect(connectedAt < 100)
    }
}
