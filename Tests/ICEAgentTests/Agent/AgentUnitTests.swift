import ICEAgent
import NIOCore
import STUNCore
import Testing

/// One agent driven by hand-made messages: pacing, retransmission, the responder side.
@Suite("ICE agent, one side at a time")
struct AgentUnitTests {
    static let localAddress = TransportAddress("192.0.2.1:5000")!
    static let remoteAddresses = ["198.51.100.1:6000", "198.51.100.2:6000", "198.51.100.3:6000"].map { TransportAddress($0)! }
    static let credentials = try! IceCredentials(usernameFragment: "localufrag", password: "localpasswordlocalpassword")

    static func agent(role: IceRole = .controlled, configuration: IceAgent.Configuration = .init(), seed: UInt64 = 3) -> IceAgent {
        var configuration = configuration
        configuration.role = role
        var agent = IceAgent(configuration: configuration, localCredentials: credentials, now: simAt(0), randomSeed: seed)
        agent.addLocalCandidate(IceCandidate(address: localAddress, type: .host), base: IceBaseID(0))
        return agent
    }

    static func remote(_ index: Int, type: IceCandidateType = .host) -> IceCandidate {
        IceCandidate(address: remoteAddresses[index], type: type, localPreference: UInt16(60_000 - index * 1000))
    }

    @Test func theFirstCheckGoesOutAtOnceAndTheNextAfterTa() {
        var agent = Self.agent()
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        agent.addRemoteCandidate(Self.remote(0), now: simAt(0))
        let first = agent.drainTransmits()
        #expect(first.count == 1)
        #expect(first.first?.destination == Self.remoteAddresses[0])
        agent.addRemoteCandidate(Self.remote(1), now: simAt(5))
        agent.addRemoteCandidate(Self.remote(2), now: simAt(6))
        #expect(agent.drainTransmits().isEmpty, "Ta has not passed")
        #expect(agent.nextTimeout() == simAt(20))
        agent.handleTimeout(now: simAt(20))
        #expect(agent.drainTransmits().map(\.destination) == [Self.remoteAddresses[1]])
        agent.handleTimeout(now: simAt(40))
        #expect(agent.drainTransmits().map(\.destination) == [Self.remoteAddresses[2]])
        #expect(agent.connectionState == .checking)
    }

    @Test func aCheckCarriesTheICEAttributesAndAuthenticatesWithTheRemotePassword() throws {
        var agent = Self.agent(role: .controlling)
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        agent.addRemoteCandidate(Self.remote(0), now: simAt(0))
        let check = try #require(agent.drainTransmits().first).message
        #expect(check.method == .binding && check.messageClass == .request)
        #expect(check.username == "peer:localufrag")
        let local = IceCandidate(address: Self.localAddress, type: .host)
        #expect(check.first(.priority) == .priority(IceCandidate.priority(
            type: .peerReflexive, localPreference: local.localPreference, component: 1)))
        #expect(check.first(.iceControlling) == .iceControlling(tieBreaker: agent.tieBreaker))
        #expect(check.first(.useCandidate) == nil)
        #expect(check.hasFingerprint)
        #expect(check.isAuthentic(key: .shortTerm(password: PeerMessages.peerCredentials.password)))
        #expect(!check.isAuthentic(key: .shortTerm(password: Self.credentials.password)))
    }

    @Test func checksAreHeldUntilRemoteCredentialsArrive() {
        var agent = Self.agent()
        agent.addRemoteCandidate(Self.remote(0), now: simAt(0))
        #expect(agent.drainTransmits().isEmpty)
        #expect(agent.nextTimeout() == nil)
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        #expect(agent.nextTimeout() == simAt(0))
        agent.handleTimeout(now: simAt(3))
        #expect(agent.drainTransmits().count == 1)
    }

    @Test func anUnansweredCheckIsRetransmittedWithADoublingRTOAndItsPairFails() {
        var agent = Self.agent()
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        agent.addRemoteCandidate(Self.remote(0), now: simAt(0))
        agent.endOfRemoteCandidates()
        var sends: [Int64] = agent.drainTransmits().map { _ in 0 }
        var failedAt: Int64?
        while let next = agent.nextTimeout(), simMilliseconds(next) < 60_000 {
            agent.handleTimeout(now: next)
            sends += agent.drainTransmits().map { _ in simMilliseconds(next) }
            if agent.connectionState == .failed, failedAt == nil { failedAt = simMilliseconds(next) }
        }
        // RTO 500 ms doubling, capped at 1.6 s; 7 transmissions; the pair fails one RTO later.
        #expect(sends == [0, 500, 1_500, 3_100, 4_700, 6_300, 7_900])
        #expect(failedAt == 9_500)
        #expect(agent.statistics.retransmissions == 6)
        #expect(agent.statistics.checkTimeouts == 1)
        #expect(agent.drainEvents() == [.connectionStateChanged(.checking), .connectionStateChanged(.failed)])
    }

    @Test func withoutEndOfCandidatesFailureWaitsForTheGracePeriod() {
        var agent = Self.agent()
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        agent.addRemoteCandidate(Self.remote(0), now: simAt(0))
        var failedAt: Int64?
        while let next = agent.nextTimeout(), simMilliseconds(next) < 60_000 {
            agent.handleTimeout(now: next)
            _ = agent.drainTransmits()
            if agent.connectionState == .failed, failedAt == nil { failedAt = simMilliseconds(next) }
        }
        #expect(failedAt == 10_000)
        #expect(agent.nextTimeout() == nil)
    }

    @Test func aCheckFromAnUnknownAddressIsAnsweredAndMakesAPeerReflexiveCandidateAndATriggeredCheck() throws {
        var agent = Self.agent()
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        let source = TransportAddress("203.0.113.9:7000")!
        let outcome = agent.handleReceive(
            PeerMessages.check(to: Self.credentials, priority: 1_862_270_975), from: source, on: IceBaseID(0), now: simAt(0))
        #expect(outcome == .handled)
        let sent = agent.drainTransmits()
        #expect(sent.count == 2)
        let response = try #require(sent.first).message
        #expect(response.messageClass == .successResponse)
        #expect(response.xorMappedAddress == source)
        #expect(response.isAuthentic(key: .shortTerm(password: Self.credentials.password)))
        #expect(sent[1].destination == source)
        #expect(sent[1].message.messageClass == .request)
        #expect(agent.statistics.checksReceived == 1 && agent.statistics.responsesSent == 1)

        // The peer answers the triggered check and nominated the pair with USE-CANDIDATE.
        agent.handleReceive(
            PeerMessages.check(to: Self.credentials, useCandidate: true,
                               transactionID: TransactionID(high: 9, low: 9)),
            from: source, on: IceBaseID(0), now: simAt(5))
        _ = agent.drainTransmits()
        #expect(agent.selectedPair == nil, "nominated, but our own check has not succeeded yet")
        agent.handleReceive(PeerMessages.success(to: sent[1].bytes, mapped: Self.localAddress), from: source,
                            on: IceBaseID(0), now: simAt(10))
        let selected = try #require(agent.selectedPair)
        #expect(selected.local.type == .host)
        #expect(selected.remote.type == .peerReflexive)
        #expect(selected.remote.priority == 1_862_270_975)
        #expect(selected.remoteAddress == source)
        #expect(agent.connectionState == .connected)
        #expect(agent.drainEvents().contains(.selectedPairChanged(selected)))
    }

    @Test func aMappedAddressNoLocalCandidateHasBecomesALocalPeerReflexiveCandidate() throws {
        var agent = Self.agent(role: .controlling)
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        agent.addRemoteCandidate(Self.remote(0), now: simAt(0))
        let check = try #require(agent.drainTransmits().first)
        let mapped = TransportAddress("203.0.113.77:41000")!
        agent.handleReceive(PeerMessages.success(to: check.bytes, mapped: mapped), from: Self.remoteAddresses[0],
                            on: IceBaseID(0), now: simAt(10))
        // Valid, best and alone: nominated with USE-CANDIDATE as the next paced check.
        #expect(agent.nextTimeout() == simAt(20))
        agent.handleTimeout(now: simAt(20))
        let nomination = try #require(agent.drainTransmits().first)
        #expect(nomination.message.first(.useCandidate) != nil)
        agent.handleReceive(PeerMessages.success(to: nomination.bytes, mapped: mapped), from: Self.remoteAddresses[0],
                            on: IceBaseID(0), now: simAt(20))
        let selected = try #require(agent.selectedPair)
        #expect(selected.local.type == .peerReflexive)
        #expect(selected.local.transportAddress == mapped)
        #expect(selected.local.relatedAddress == .ip(Self.localAddress.ip))
        #expect(selected.base == IceBaseID(0))
        #expect(selected.remote.type == .host)
    }

    @Test func aResponseFromTheWrongAddressFailsThePair() throws {
        var agent = Self.agent()
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        agent.addRemoteCandidate(Self.remote(0), now: simAt(0))
        agent.endOfRemoteCandidates()
        let check = try #require(agent.drainTransmits().first)
        let outcome = agent.handleReceive(
            PeerMessages.success(to: check.bytes, mapped: Self.localAddress), from: Self.remoteAddresses[1],
            on: IceBaseID(0), now: simAt(10))
        #expect(outcome == .rejected(.unexpectedSource))
        #expect(agent.connectionState == .failed)
    }

    @Test func aWrongPasswordIsAnswered401AndCounted() throws {
        var agent = Self.agent()
        let outcome = agent.handleReceive(
            PeerMessages.check(to: Self.credentials, password: "notthepasswordnotthepassword"),
            from: Self.remoteAddresses[0], on: IceBaseID(0), now: simAt(0))
        #expect(outcome == .rejected(.badIntegrity))
        let reply = try #require(agent.drainTransmits().first).message
        #expect(reply.messageClass == .errorResponse)
        #expect(reply.errorCode?.code == 401)
        #expect(agent.statistics.integrityFailures == 1)
        #expect(agent.statistics.checksReceived == 0)
    }

    @Test func aCheckForAnotherUfragIsNotForThisAgentAndCounted() {
        var agent = Self.agent()
        let other = try! IceCredentials(usernameFragment: "someoneelse", password: Self.credentials.password)
        let outcome = agent.handleReceive(
            PeerMessages.check(to: other), from: Self.remoteAddresses[0], on: IceBaseID(0), now: simAt(0))
        #expect(outcome == .notForThisAgent)
        #expect(agent.drainTransmits().isEmpty)
        #expect(agent.statistics.unknownUsernameDrops == 1)
    }

    @Test func aCheckWithoutFingerprintIsDroppedAndCounted() {
        var agent = Self.agent()
        let outcome = agent.handleReceive(
            PeerMessages.check(to: Self.credentials, fingerprint: false), from: Self.remoteAddresses[0],
            on: IceBaseID(0), now: simAt(0))
        #expect(outcome == .rejected(.missingFingerprint))
        #expect(agent.drainTransmits().isEmpty)
        #expect(agent.statistics.fingerprintFailures == 1)
    }

    @Test func aCheckWithABadFingerprintIsDroppedAndCounted() {
        var agent = Self.agent()
        let outcome = agent.handleReceive(
            PeerMessages.corruptingLastByte(PeerMessages.check(to: Self.credentials)), from: Self.remoteAddresses[0],
            on: IceBaseID(0), now: simAt(0))
        #expect(outcome == .rejected(.badFingerprint))
        #expect(agent.drainTransmits().isEmpty)
        #expect(agent.statistics.fingerprintFailures == 1)
    }

    @Test func responsesWithoutOrWithABadFingerprintAreDroppedAndTheCheckGoesOn() throws {
        var agent = Self.agent()
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        agent.addRemoteCandidate(Self.remote(0), now: simAt(0))
        let check = try #require(agent.drainTransmits().first)
        let withoutFingerprint = PeerMessages.success(to: check.bytes, mapped: Self.localAddress, fingerprint: false)
        #expect(agent.handleReceive(withoutFingerprint, from: Self.remoteAddresses[0], on: IceBaseID(0), now: simAt(5))
            == .rejected(.missingFingerprint))
        let corrupted = PeerMessages.corruptingLastByte(PeerMessages.success(to: check.bytes, mapped: Self.localAddress))
        #expect(agent.handleReceive(corrupted, from: Self.remoteAddresses[0], on: IceBaseID(0), now: simAt(6))
            == .rejected(.badFingerprint))
        let forged = PeerMessages.success(to: check.bytes, mapped: Self.localAddress, password: "forgedforgedforgedforged")
        #expect(agent.handleReceive(forged, from: Self.remoteAddresses[0], on: IceBaseID(0), now: simAt(7))
            == .rejected(.badIntegrity))
        #expect(agent.statistics.fingerprintFailures == 2)
        #expect(agent.statistics.integrityFailures == 1)
        agent.handleTimeout(now: simAt(500))
        #expect(agent.drainTransmits().map(\.bytes) == [check.bytes], "still retransmitting")
        let genuine = PeerMessages.success(to: check.bytes, mapped: Self.localAddress)
        #expect(agent.handleReceive(genuine, from: Self.remoteAddresses[0], on: IceBaseID(0), now: simAt(510)) == .handled)
        #expect(agent.statistics.responsesReceived == 1)
    }

    @Test func nonSTUNBytesAreNotForTheAgentAndMalformedSTUNIsCounted() {
        var agent = Self.agent()
        #expect(agent.handleReceive([0x80, 0x60, 0, 1], from: Self.remoteAddresses[0], on: IceBaseID(0), now: simAt(0))
            == .notForThisAgent)
        var truncated = PeerMessages.check(to: Self.credentials)
        truncated[3] &+= 4  // length beyond the datagram
        truncated += [0, 0, 0, 0]
        truncated[21] = 0xFF  // an attribute header that overruns
        #expect(agent.handleReceive(truncated, from: Self.remoteAddresses[0], on: IceBaseID(0), now: simAt(0))
            != .handled)
        #expect(agent.drainTransmits().isEmpty)
    }

    @Test(arguments: [(UInt64(10), false), (UInt64.max, true)])
    func aControllingAgentResolvesAControllingPeerByTieBreaker(peerTieBreaker: UInt64, weYield: Bool) throws {
        var agent = Self.agent(role: .controlling, seed: 11)
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        let outcome = agent.handleReceive(
            PeerMessages.check(to: Self.credentials, controlling: peerTieBreaker), from: Self.remoteAddresses[0],
            on: IceBaseID(0), now: simAt(0))
        let reply = try #require(agent.drainTransmits().first).message
        #expect(agent.statistics.roleConflicts == 1)
        if weYield {
            #expect(outcome == .handled)
            #expect(agent.role == .controlled)
            #expect(reply.messageClass == .successResponse)
            #expect(agent.drainEvents().contains(.roleChanged(.controlled)))
        } else {
            #expect(outcome == .rejected(.roleConflict))
            #expect(agent.role == .controlling)
            #expect(reply.errorCode?.code == 487)
            #expect(reply.isAuthentic(key: .shortTerm(password: Self.credentials.password)))
        }
    }

    @Test func a487ResponseSwitchesRoleAndRetriesThePair() throws {
        var agent = Self.agent(role: .controlling)
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        agent.addRemoteCandidate(Self.remote(0), now: simAt(0))
        let check = try #require(agent.drainTransmits().first)
        agent.handleReceive(PeerMessages.error(.roleConflict, to: check.bytes), from: Self.remoteAddresses[0],
                            on: IceBaseID(0), now: simAt(10))
        #expect(agent.role == .controlled)
        #expect(agent.statistics.roleConflicts == 1)
        agent.handleTimeout(now: simAt(20))
        let retry = try #require(agent.drainTransmits().first).message
        #expect(retry.first(.iceControlled) == .iceControlled(tieBreaker: agent.tieBreaker))
    }

    @Test func afterARestartTheOldUfragIsRefusedWith401() throws {
        var agent = Self.agent()
        let fresh = try IceCredentials(usernameFragment: "newufrag", password: "newpasswordnewpassword")
        agent.restart(localCredentials: fresh, now: simAt(0))
        let outcome = agent.handleReceive(
            PeerMessages.check(to: Self.credentials), from: Self.remoteAddresses[0], on: IceBaseID(0), now: simAt(1))
        #expect(outcome == .rejected(.unknownUsername))
        #expect(try #require(agent.drainTransmits().first).message.errorCode?.code == 401)
        #expect(agent.handleReceive(
            PeerMessages.check(to: fresh), from: Self.remoteAddresses[0], on: IceBaseID(0), now: simAt(2)) == .handled)
    }

    @Test func theDemultiplexerReadsTheLocalUfragFromAUsername() throws {
        let message = try StunMessage(decoding: PeerMessages.check(to: Self.credentials))
        #expect(IceAgent.localUsernameFragment(of: message) == "localufrag")
        let response = StunMessage(method: .binding, messageClass: .successResponse)
        #expect(IceAgent.localUsernameFragment(of: response) == nil)
    }

    @Test func aHostnameCandidateIsResolvedBeforeItIsPairedAndDoesNotDelayOthers() {
        var agent = Self.agent()
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        var mdns = Self.remote(0)
        mdns.address = .hostname("0a1b2c3d-0000-4000-8000-000000000001.local")
        agent.addRemoteCandidate(mdns, now: simAt(0))
        #expect(agent.drainEvents().contains(.resolveHostname("0a1b2c3d-0000-4000-8000-000000000001.local")))
        #expect(agent.drainTransmits().isEmpty)
        agent.addRemoteCandidate(Self.remote(1), now: simAt(1))
        #expect(agent.drainTransmits().map(\.destination) == [Self.remoteAddresses[1]])
        agent.resolvedHostname("0a1b2c3d-0000-4000-8000-000000000001.local", to: Self.remoteAddresses[0].ip, now: simAt(30))
        #expect(agent.drainTransmits().map(\.destination) == [Self.remoteAddresses[0]])
    }

    @Test func closingStopsEverything() {
        var agent = Self.agent()
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        agent.addRemoteCandidate(Self.remote(0), now: simAt(0))
        _ = agent.drainTransmits()
        agent.close()
        #expect(agent.connectionState == .closed)
        #expect(agent.nextTimeout() == nil)
        #expect(agent.handleReceive(PeerMessages.check(to: Self.credentials), from: Self.remoteAddresses[0],
                                    on: IceBaseID(0), now: simAt(1)) == .rejected(.closed))
        #expect(agent.drainTransmits().isEmpty)
        #expect(agent.drainEvents().last == .connectionStateChanged(.closed))
    }
}
