import ICEAgent
import NIOCore
import STUNCore
import Testing

/// Allocate, authentication, errors and timeouts (RFC 8656 §7, RFC 8489 §9.2).
struct TurnClientAllocationTests {
    let server = ScriptedTurnServer()

    @Test func theFirstAllocateAsksForUDPRelayingWithoutCredentials() throws {
        var client = TurnClient(configuration: server.configuration(lifetime: 1200))
        client.allocate(now: turnT0)
        let request = try server.request(client.pollTransmit())
        #expect(request.method == .allocate && request.messageClass == .request)
        #expect(request.first(.requestedTransport) == .requestedTransport(protocolNumber: 17))
        #expect(request.first(.lifetime) == .lifetime(seconds: 1200))
        #expect(request.username == nil && !request.hasIntegrity && request.hasFingerprint)
        #expect(client.state == .allocating)
    }

    @Test func anIPv6RelayIsAskedForWithRequestedAddressFamily() throws {
        var configuration = server.configuration()
        configuration.requestedAddressFamily = .ipv6
        var client = TurnClient(configuration: configuration)
        client.allocate(now: turnT0)
        let request = try server.request(client.pollTransmit())
        #expect(request.first(.requestedAddressFamily) == .requestedAddressFamily(.ipv6))
        #expect(request.first(.lifetime) == nil)
    }

    @Test func a401ChallengeLeadsToASignedAllocateAndTheRelayedAndMappedAddresses() throws {
        var client = TurnClient(configuration: server.configuration())
        client.allocate(now: turnT0)
        let first = try server.request(client.pollTransmit())
        client.handleReceive(server.challenge(first), now: turnT0)
        #expect(client.drainEvents().isEmpty)
        let second = try server.request(client.pollTransmit())
        #expect(second.transactionID != first.transactionID)
        #expect(second.username == "alice" && second.realm == "pod.test" && second.nonce == "nonce-1")
        #expect(second.first(.requestedTransport) == .requestedTransport(protocolNumber: 17))
        #expect(second.first(.messageIntegrity) != nil && second.first(.messageIntegritySHA256) == nil)
        #expect(second.isAuthentic(key: server.key))
        client.handleReceive(server.allocated(second, lifetime: 900), now: turnT0)
        #expect(client.drainEvents() == [.allocated(relayed: server.relayed, mapped: server.mapped, lifetime: 900)])
        #expect(client.state == .allocated)
        #expect(client.relayedAddress == server.relayed && client.mappedAddress == server.mapped && client.lifetime == 900)
    }

    @Test func offeredPasswordAlgorithmsSelectSHA256AndMessageIntegritySHA256() throws {
        var client = TurnClient(configuration: server.configuration())
        client.allocate(now: turnT0)
        let first = try server.request(client.pollTransmit())
        client.handleReceive(server.challenge(first, algorithms: [.sha256, .md5]), now: turnT0)
        let second = try server.request(client.pollTransmit())
        #expect(second.first(.passwordAlgorithm) == .passwordAlgorithm(.sha256))
        #expect(second.first(.passwordAlgorithms) == .passwordAlgorithms([.sha256, .md5]))
        #expect(second.first(.messageIntegritySHA256) != nil && second.first(.messageIntegrity) == nil)
        let sha256Key = StunKey.longTerm(username: "alice", realm: "pod.test", password: "secret", algorithm: .sha256)
        #expect(second.isAuthentic(key: sha256Key))
        #expect(!second.isAuthentic(key: server.key))
        // The server answers with the SHA-256 key; the client accepts it.
        let answer = StunMessage(
            method: .allocate, messageClass: .successResponse, transactionID: second.transactionID,
            attributes: [.xorRelayedAddress(server.relayed), .lifetime(seconds: 600)]
        ).encoded(messageIntegritySHA256: sha256Key, fingerprint: true)
        client.handleReceive(answer, now: turnT0)
        #expect(client.drainEvents() == [.allocated(relayed: server.relayed, mapped: nil, lifetime: 600)])
    }

    @Test func onlyUnknownPasswordAlgorithmsFailTheAllocation() throws {
        var client = TurnClient(configuration: server.configuration())
        client.allocate(now: turnT0)
        let first = try server.request(client.pollTransmit())
        client.handleReceive(server.challenge(first, algorithms: [PasswordAlgorithm(number: 9)]), now: turnT0)
        let events = client.drainEvents()
        guard case .failed(let error)? = events.first else { Issue.record("expected failure, got \(events)"); return }
        #expect(error.code == .unauthenticated)
    }

    @Test func a401ToTheSignedRequestIsAWrongPasswordFailure() throws {
        var client = TurnClient(configuration: server.configuration())
        client.allocate(now: turnT0)
        let first = try server.request(client.pollTransmit())
        client.handleReceive(server.challenge(first), now: turnT0)
        let second = try server.request(client.pollTransmit())
        client.handleReceive(server.challenge(second), now: turnT0)
        let events = client.drainEvents()
        guard case .failed(let error)? = events.first else { Issue.record("expected failure, got \(events)"); return }
        #expect(error.code == .unauthenticated && error.method == .allocate && error.errorCode?.code == 401)
        #expect(client.pollTransmit() == nil)
        #expect(client.nextTimeout() == nil)
        let error2 = #expect(throws: TurnError.self) { try client.send(to: TransportAddress("192.0.2.1:1")!, bytes: [1], now: turnT0) }
        #expect(error2?.code == .notAllocated)
    }

    @Test(arguments: [
        (437, TurnError.Code.allocationMismatch), (441, .wrongCredentials), (442, .unsupportedTransport),
        (486, .quotaReached), (508, .insufficientCapacity), (403, .errorResponse),
    ])
    func allocateErrorResponsesFailWithTheirOwnCode(code: Int, expected: TurnError.Code) throws {
        var client = TurnClient(configuration: server.configuration())
        client.allocate(now: turnT0)
        let first = try server.request(client.pollTransmit())
        client.handleReceive(server.challenge(first), now: turnT0)
        let second = try server.request(client.pollTransmit())
        client.handleReceive(server.error(second, code: code), now: turnT0)
        let events = client.drainEvents()
        #expect(events.count == 1)
        guard case .failed(let error)? = events.first else { Issue.record("expected failure, got \(events)"); return }
        #expect(error.code == expected && error.errorCode?.code == code)
        #expect(client.state == .failed(error))
    }

    @Test func aSuccessWithoutRelayedAddressIsAMalformedResponse() throws {
        var client = TurnClient(configuration: server.configuration())
        client.allocate(now: turnT0)
        let first = try server.request(client.pollTransmit())
        client.handleReceive(server.challenge(first), now: turnT0)
        let second = try server.request(client.pollTransmit())
        client.handleReceive(server.success(second, [.lifetime(seconds: 600)]), now: turnT0)
        guard case .failed(let error)? = client.pollEvent() else { Issue.record("expected failure"); return }
        #expect(error.code == .malformedResponse)
    }

    @Test func overUDPResponsesThatFailTheIntegrityCheckAreDroppedAndTheRequestIsRetransmitted() throws {
        var client = TurnClient(configuration: server.configuration())
        client.allocate(now: turnT0)
        let first = try server.request(client.pollTransmit())
        client.handleReceive(server.challenge(first), now: turnT0)
        let second = try server.request(client.pollTransmit())
        let forged = StunKey.longTerm(username: "alice", realm: "pod.test", password: "guess")
        client.handleReceive(
            server.success(second, [.xorRelayedAddress(server.relayed), .lifetime(seconds: 600)], signingKey: forged), now: turnT0)
        client.handleReceive(server.success(second, [.xorRelayedAddress(server.relayed), .lifetime(seconds: 600)], sign: false), now: turnT0)
        let forgedError = StunMessage(
            method: .allocate, messageClass: .errorResponse, transactionID: second.transactionID,
            attributes: [.errorCode(.allocationQuotaReached)]
        ).encoded(messageIntegrity: forged, fingerprint: true)
        client.handleReceive(forgedError, now: turnT0)
        #expect(client.drainEvents().isEmpty)
        #expect(client.state == .allocating)
        #expect(client.statistics.unauthenticatedDropped == 3)
        // RFC 8489 §6.2.1: the first retransmission is due after RTO (500 ms).
        client.handleTimeout(now: turnT0 + .milliseconds(500))
        #expect(try server.request(client.pollTransmit()).transactionID == second.transactionID)
        #expect(client.statistics.retransmissions == 1)
        // The authentic answer still completes the allocation.
        client.handleReceive(server.allocated(second), now: turnT0 + .milliseconds(600))
        #expect(client.drainEvents().count == 1 && client.state == .allocated)
    }

    @Test func anErrorResponseWithoutAnyIntegrityIsTakenAsTheFailureItReports() throws {
        // coturn 4.6.1 answers an Allocate on a 5-tuple that already has an allocation with an
        // unsigned 437.
        var client = TurnClient(configuration: server.configuration())
        client.allocate(now: turnT0)
        let first = try server.request(client.pollTransmit())
        client.handleReceive(server.challenge(first), now: turnT0)
        let second = try server.request(client.pollTransmit())
        client.handleReceive(server.error(second, code: 437, sign: false), now: turnT0)
        guard case .failed(let error)? = client.pollEvent() else { Issue.record("expected failure"); return }
        #expect(error.code == .allocationMismatch)
    }

    @Test func overUDPOnlyForgedAnswersEndInATimeoutThatSaysSo() throws {
        var client = TurnClient(configuration: server.configuration())
        client.allocate(now: turnT0)
        let first = try server.request(client.pollTransmit())
        client.handleReceive(server.challenge(first), now: turnT0)
        let second = try server.request(client.pollTransmit())
        client.handleReceive(server.success(second, [.xorRelayedAddress(server.relayed)], sign: false), now: turnT0)
        var now = turnT0
        while let next = client.nextTimeout(), client.state == .allocating {
            now = next
            client.handleTimeout(now: now)
        }
        guard case .failed(let error)? = client.drainEvents().first else { Issue.record("expected failure"); return }
        #expect(error.code == .timedOut && error.detail.contains("integrity"))
    }

    @Test func overTCPAResponseThatFailsTheIntegrityCheckFailsAtOnce() throws {
        var client = TurnClient(configuration: server.configuration(mode: .stream))
        client.allocate(now: turnT0)
        let first = try server.request(client.pollTransmit())
        client.handleReceive(server.challenge(first), now: turnT0)
        let second = try server.request(client.pollTransmit())
        client.handleReceive(server.success(second, [.xorRelayedAddress(server.relayed)], sign: false), now: turnT0)
        guard case .failed(let error)? = client.pollEvent() else { Issue.record("expected failure"); return }
        #expect(error.code == .unauthenticatedResponse)
    }

    @Test func aServerThatNeverAnswersFailsAfterSevenTransmissionsAnd39Point5Seconds() throws {
        var client = TurnClient(configuration: server.configuration())
        client.allocate(now: turnT0)
        var sendTimes: [Int64] = []
        var now = turnT0
        if client.pollTransmit() != nil { sendTimes.append(0) }
        while let next = client.nextTimeout() {
            now = next
            client.handleTimeout(now: now)
            while client.pollTransmit() != nil { sendTimes.append((now - turnT0).nanoseconds / 1_000_000) }
        }
        // RFC 8489 §6.2.1: 0, 500, 1500, 3500, 7500, 15500, 31500 ms; failure at 39500 ms.
        #expect(sendTimes == [0, 500, 1500, 3500, 7500, 15500, 31500])
        #expect(now == turnT0 + .milliseconds(39_500))
        guard case .failed(let error)? = client.pollEvent() else { Issue.record("expected failure"); return }
        #expect(error.code == .timedOut && error.method == .allocate)
        #expect(client.statistics.retransmissions == 6)
    }

    @Test func overTCPTheRequestIsSentOnceAndTimesOutAfterTi() throws {
        var client = TurnClient(configuration: server.configuration(mode: .stream))
        client.allocate(now: turnT0)
        #expect(client.drainTransmits().count == 1)
        #expect(client.nextTimeout() == turnT0 + .milliseconds(39_500))
        client.handleTimeout(now: turnT0 + .milliseconds(39_499))
        #expect(client.pollEvent() == nil)
        client.handleTimeout(now: turnT0 + .milliseconds(39_500))
        #expect(client.drainTransmits().isEmpty)
        guard case .failed(let error)? = client.pollEvent() else { Issue.record("expected failure"); return }
        #expect(error.code == .timedOut)
    }

    @Test func garbageFromTheServerIsCountedAndNeverCrashes() throws {
        var client = TurnClient(configuration: server.configuration())
        client.allocate(now: turnT0)
        let first = try server.request(client.pollTransmit())
        var generator = TurnTestRandom(seed: 0x7475_726E)
        var inputs: [[UInt8]] = [[], [0x00], [0x40, 0x00], [0x40, 0x00, 0x00, 0x08, 1], Array(repeating: 0xFF, count: 40)]
        let valid = server.challenge(first)
        for _ in 0..<2000 {
            var mutated = valid
            for _ in 0..<Int(generator.next() % 4 + 1) {
                mutated[Int(generator.next() % UInt64(mutated.count))] = UInt8(truncatingIfNeeded: generator.next())
            }
            if generator.next() % 3 == 0 { mutated = Array(mutated.prefix(Int(generator.next() % UInt64(mutated.count)))) }
            inputs.append(mutated)
        }
        for _ in 0..<500 {
            inputs.append((0..<Int(generator.next() % 64)).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
        }
        for input in inputs { client.handleReceive(input, now: turnT0) }
        let dropped = client.statistics.malformedDropped + client.statistics.unmatchedDropped
            + client.statistics.unexpectedDropped + client.statistics.unpermittedDropped
        #expect(dropped > 0)
        // Whatever happened, the client is in a defined state and still answers the API.
        _ = client.drainEvents()
        _ = client.drainTransmits()
        _ = client.nextTimeout()
    }

    @Test func anUnknownTransactionOrARequestFromTheServerIsDroppedAndCounted() throws {
        var client = TurnClient(configuration: server.configuration())
        client.allocate(now: turnT0)
        _ = try server.request(client.pollTransmit())
        let stray = StunMessage(method: .allocate, messageClass: .successResponse).encoded(fingerprint: true)
        let request = StunMessage(method: .binding, messageClass: .request).encoded()
        client.handleReceive(stray, now: turnT0)
        client.handleReceive(request, now: turnT0)
        #expect(client.statistics.unmatchedDropped == 1 && client.statistics.unexpectedDropped == 1)
        #expect(client.drainEvents().isEmpty && client.state == .allocating)
    }
}

/// A small deterministic generator for fuzz-style tests.
struct TurnTestRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
