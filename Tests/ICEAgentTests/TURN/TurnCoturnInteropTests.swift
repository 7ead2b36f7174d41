import Foundation
import ICEAgent
import NIOCore
import NIOSSL
import STUNCore
import Testing

/// ``TurnConnection`` against a real coturn 4.6 started on loopback by each test, and against
/// fake servers that answer garbage or nothing.
@Suite(.serialized) struct TurnCoturnInteropTests {
    static func configuration(for coturn: CoturnServer, transport: String, password: String = "p") throws -> TurnConnection.Configuration {
        let host = coturn.options.host.contains(":") ? "[\(coturn.options.host)]" : coturn.options.host
        let url =
            switch transport {
            case "tls": "turns:\(host):\(coturn.tlsPort!)"
            default: "turn:\(host):\(coturn.port)?transport=\(transport)"
            }
        var configuration = TurnConnection.Configuration(server: try IceServerURL(parsing: url), username: "u", password: password)
        if transport == "tls" {
            configuration.tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(coturn.certificatePath!))
        }
        // coturn on loopback answers in well under 100 ms; keep failures quick.
        configuration.client.transaction = .init(initialRTO: .milliseconds(100), reliableTimeout: .seconds(5))
        return configuration
    }

    /// Collects a connection's events in the background.
    static func collect(_ turn: TurnConnection) -> (TurnTestCollector<TurnEvent>, Task<Void, Never>) {
        let events = TurnTestCollector<TurnEvent>()
        let task = Task { for await event in turn.events { events.append(event) } }
        return (events, task)
    }

    @Test(arguments: [("udp", "127.0.0.1"), ("tcp", "127.0.0.1"), ("tls", "127.0.0.1"), ("udp", "::1"), ("tcp", "::1"), ("tls", "::1")])
    func datagramsCrossCoturnBothWaysBySendIndicationAndByChannel(transport: String, host: String) async throws {
        let coturn = try await CoturnServer(.init(host: host, tls: transport == "tls"))
        defer { coturn.stop() }
        var configuration = try Self.configuration(for: coturn, transport: transport)
        if host == "::1" { configuration.client.requestedAddressFamily = .ipv6 }
        let turn = try await TurnConnection.connect(configuration: configuration)
        let (events, task) = Self.collect(turn)
        let peer = try await LoopbackUDPPeer(host: host)

        #expect(turn.relayedAddress.ip == IPAddress(host))
        // The mapped address is this socket as coturn saw it: a server-reflexive candidate.
        #expect(turn.mappedAddress?.ip == IPAddress(host))
        #expect(turn.mappedAddress?.port == turn.localAddress?.port)

        try await turn.createPermission(for: peer.address)
        let first = Array("via a Send indication".utf8)
        turn.send(first, to: peer.address)
        #expect(await peer.waitFor(first, from: turn.relayedAddress), "the peer got nothing; coturn log:\n\(coturn.log)")
        let reply = Array("reply as a Data indication".utf8)
        try await peer.send(reply, to: turn.relayedAddress)
        #expect(await events.wait { $0.contains(.data(from: peer.address, bytes: reply)) })

        let channel = try await turn.bindChannel(to: peer.address)
        #expect(ChannelData.validChannels.contains(channel))
        let second = Array("via ChannelData 0123".utf8)
        turn.send(second, to: peer.address)
        #expect(await peer.waitFor(second, from: turn.relayedAddress))
        let channelReply = Array("reply as ChannelData".utf8)
        try await peer.send(channelReply, to: turn.relayedAddress)
        #expect(await events.wait { $0.contains(.data(from: peer.address, bytes: channelReply)) })

        let statistics = try await turn.statistics()
        #expect(statistics.sendIndicationsSent == 1 && statistics.dataIndicationsReceived == 1)
        #expect(statistics.channelDataSent == 1 && statistics.channelDataReceived == 1)
        #expect(statistics.malformedDropped == 0 && statistics.unauthenticatedDropped == 0)

        await turn.close()
        await task.value
        #expect(events.snapshot.last == .closed)
        // The allocation is gone: what the peer sends to the old relayed address goes nowhere.
        try await peer.send(Array("too late".utf8), to: turn.relayedAddress)
        await peer.close()
    }

    @Test(arguments: ["udp", "tcp"])
    func refreshesKeepAnAllocationItsPermissionsAndItsChannelAliveBeyondTheirLifetimes(transport: String) async throws {
        // coturn grants 4 s allocations, permissions and channels and a nonce that goes stale
        // after 3 s; the client refreshes each at half-time. A second client that never refreshes
        // its permission shows that without the refreshes the data would stop.
        let coturn = try await CoturnServer(.init(maxAllocateLifetime: 4, permissionLifetime: 4, channelLifetime: 4, staleNonce: 3))
        defer { coturn.stop() }
        var configuration = try Self.configuration(for: coturn, transport: transport)
        // coturn 4.6.1 raises requests under 600 s to 600 before applying its maximum, so ask
        // for more than the maximum to be given the maximum, on Allocate and Refresh alike.
        configuration.client.requestedLifetime = 3600
        configuration.client.permissionLifetime = .seconds(4)
        configuration.client.channelLifetime = .seconds(4)
        let turn = try await TurnConnection.connect(configuration: configuration)
        var lazyConfiguration = configuration
        lazyConfiguration.client.permissionLifetime = .seconds(3600)
        let lazy = try await TurnConnection.connect(configuration: lazyConfiguration)
        let (events, task) = Self.collect(turn)
        let (lazyEvents, lazyTask) = Self.collect(lazy)
        #expect(turn.relayedAddress != lazy.relayedAddress)
        #expect(await events.wait { $0.first == .allocated(relayed: turn.relayedAddress, mapped: turn.mappedAddress, lifetime: 4) })

        // Peer A is reached through a permission only, peer B through a channel; they have
        // different IPs, because permissions are per IP (RFC 8656 §9).
        let peerA = try await LoopbackUDPPeer(host: "127.0.0.1")
        let peerB = try await LoopbackUDPPeer(host: "127.0.0.2")
        try await turn.createPermission(for: peerA.address)
        try await turn.bindChannel(to: peerB.address)
        try await lazy.createPermission(for: peerA.address)

        for round in 0..<10 {
            let ping = Array("ping \(round)".utf8), pong = Array("pong \(round)".utf8)
            turn.send(ping, to: peerA.address)
            turn.send(ping, to: peerB.address)
            #expect(await peerA.waitFor(ping, from: turn.relayedAddress, timeout: .seconds(2)), "round \(round): A got no ping")
            #expect(await peerB.waitFor(ping, from: turn.relayedAddress, timeout: .seconds(2)), "round \(round): B got no ping")
            try await peerA.send(pong, to: turn.relayedAddress)
            try await peerB.send(pong, to: turn.relayedAddress)
            try await peerA.send(pong, to: lazy.relayedAddress)
            #expect(await events.wait(timeout: .seconds(2)) {
                $0.contains(.data(from: peerA.address, bytes: pong)) && $0.contains(.data(from: peerB.address, bytes: pong))
            }, "round \(round): the client missed a pong")
            try await Task.sleep(for: .seconds(1))
        }
        let statistics = try await turn.statistics()
        #expect(statistics.allocationRefreshes >= 3, "\(statistics)")
        #expect(statistics.permissionRefreshes >= 3, "\(statistics)")
        #expect(statistics.channelRefreshes >= 3, "\(statistics)")
        #expect(statistics.staleNonceRetries >= 1, "\(statistics)")
        #expect(!events.snapshot.contains { if case .failed = $0 { true } else { false } })

        // The lazy client's permission lapsed after 4 s: early pongs arrived, late ones did not.
        let lazyPongs = lazyEvents.snapshot.compactMap { event -> String? in
            if case .data(_, let bytes) = event { return String(decoding: bytes, as: UTF8.self) } else { return nil }
        }
        #expect(lazyPongs.contains("pong 0"))
        #expect(!lazyPongs.contains("pong 9"), "coturn kept relaying without a permission refresh: \(lazyPongs)")

        await turn.close()
        await lazy.close()
        await task.value
        await lazyTask.value
        await peerA.close()
        await peerB.close()
    }

    @Test func aHostNameIsResolvedAndItsCertificateCheckedByName() async throws {
        // coturn listens on 127.0.0.1 and ::1, so whichever `localhost` resolves to first works.
        let coturn = try await CoturnServer(.init(extraListeningIPs: ["::1"], tls: true, subjectAltName: "DNS:localhost"))
        defer { coturn.stop() }
        var configuration = TurnConnection.Configuration(
            server: try IceServerURL(parsing: "turns:localhost:\(coturn.tlsPort!)"), username: "u", password: "p")
        configuration.tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(coturn.certificatePath!))
        let turn = try await TurnConnection.connect(configuration: configuration)
        let (_, task) = Self.collect(turn)
        #expect(turn.relayedAddress.ip == IPAddress("127.0.0.1"))
        await turn.close()
        await task.value

        // The same certificate under another name fails the TLS handshake: a clean failure.
        var wrongName = configuration
        wrongName.tlsServerName = "turn.example.net"
        wrongName.client.transaction = .init(reliableTimeout: .seconds(5))
        let error = await #expect(throws: TurnError.self) { try await TurnConnection.connect(configuration: wrongName) }
        #expect(error?.code == .connectionClosed && error?.detail.contains("Hostname") == true, "\(String(describing: error))")
    }

    @Test func theDataCallbackGetsWhatPeersSendInsteadOfTheEventStream() async throws {
        let coturn = try await CoturnServer()
        defer { coturn.stop() }
        let received = TurnTestCollector<(peer: TransportAddress, bytes: [UInt8])>()
        var configuration = try Self.configuration(for: coturn, transport: "udp")
        configuration.onData = { peer, bytes in received.append((peer, bytes)) }
        let turn = try await TurnConnection.connect(configuration: configuration)
        let (events, task) = Self.collect(turn)
        let peer = try await LoopbackUDPPeer()
        try await turn.createPermission(for: peer.address)
        try await peer.send([1, 2, 3], to: turn.relayedAddress)
        #expect(await received.wait { $0.contains { $0.peer == peer.address && $0.bytes == [1, 2, 3] } })
        await turn.close()
        await task.value
        #expect(!events.snapshot.contains { if case .data = $0 { true } else { false } })
        #expect(events.snapshot.contains(.permissionCreated(peer.address.ip)))
        await peer.close()
    }

    @Test func aPermissionForAPeerOfTheOtherFamilyIsRefusedBeforeAnythingIsSent() async throws {
        let coturn = try await CoturnServer()
        defer { coturn.stop() }
        let turn = try await TurnConnection.connect(configuration: try Self.configuration(for: coturn, transport: "udp"))
        let (_, task) = Self.collect(turn)
        await #expect(throws: TurnError.self) { try await turn.createPermission(for: TransportAddress("[::1]:9")!) }
        await #expect(throws: TurnError.self) { try await turn.bindChannel(to: TransportAddress("[::1]:9")!) }
        await turn.close()
        await task.value
    }

    @Test(arguments: ["udp", "tcp"])
    func aServerThatDiesLosesTheAllocationWithAFailureEvent(transport: String) async throws {
        let coturn = try await CoturnServer(.init(maxAllocateLifetime: 4))
        defer { coturn.stop() }
        var configuration = try Self.configuration(for: coturn, transport: transport)
        configuration.client.requestedLifetime = 3600
        let turn = try await TurnConnection.connect(configuration: configuration)
        let (events, task) = Self.collect(turn)
        coturn.stop()
        // TCP notices at once (the connection closes); UDP when the 4 s allocation cannot be
        // refreshed: the Refresh at 2 s goes unanswered until the expiry at 4 s.
        #expect(await events.wait(timeout: .seconds(8)) { $0.contains { if case .failed = $0 { true } else { false } } })
        let failure = events.snapshot.compactMap { event -> TurnError? in if case .failed(let error) = event { error } else { nil } }.first
        let expected: TurnError.Code = transport == "tcp" ? .connectionClosed : .allocationExpired
        #expect(failure?.code == expected, "\(String(describing: failure))")
        await task.value
        await turn.close()
    }

    @Test(arguments: ["udp", "tcp"])
    func aWrongPasswordIsAFailureNotAHang(transport: String) async throws {
        let coturn = try await CoturnServer()
        defer { coturn.stop() }
        let configuration = try Self.configuration(for: coturn, transport: transport, password: "wrong")
        let error = await #expect(throws: TurnError.self) { try await TurnConnection.connect(configuration: configuration) }
        #expect(error?.code == .unauthenticated || error?.code == .wrongCredentials, "\(String(describing: error))")
        #expect(error?.method == .allocate)
    }

    @Test func aUDPServerThatAnswersGarbageFailsWithATimeout() async throws {
        let garbage = try await FakeUDPTurnServer { request in
            var generator = TurnTestRandom(seed: UInt64(request.count))
            return [0xFF] + (0..<40).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        }
        defer { Task { await garbage.close() } }
        var configuration = TurnConnection.Configuration(
            server: try IceServerURL(parsing: "turn:127.0.0.1:\(garbage.port)"), username: "u", password: "p")
        configuration.client.transaction = .init(initialRTO: .milliseconds(50), maxTransmissions: 3, lastWaitMultiplier: 4)
        let start = ContinuousClock.now
        let error = await #expect(throws: TurnError.self) { try await TurnConnection.connect(configuration: configuration) }
        #expect(error?.code == .timedOut)
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func aUDPServerThatAnswersWithAnUnusableAllocateSuccessFailsCleanly() async throws {
        // Valid STUN, right transaction, but no XOR-RELAYED-ADDRESS.
        let server = try await FakeUDPTurnServer { request in
            guard let message = try? StunMessage(decoding: request) else { return nil }
            return StunMessage(method: message.method, messageClass: .successResponse, transactionID: message.transactionID).encoded()
        }
        defer { Task { await server.close() } }
        let configuration = TurnConnection.Configuration(
            server: try IceServerURL(parsing: "turn:127.0.0.1:\(server.port)"), username: "u", password: "p")
        let error = await #expect(throws: TurnError.self) { try await TurnConnection.connect(configuration: configuration) }
        #expect(error?.code == .malformedResponse)
    }

    @Test func aUDPServerThatNeverAnswersFailsWithATimeout() async throws {
        let silent = try await FakeUDPTurnServer { _ in nil }
        defer { Task { await silent.close() } }
        var configuration = TurnConnection.Configuration(
            server: try IceServerURL(parsing: "turn:127.0.0.1:\(silent.port)"), username: "u", password: "p")
        configuration.client.transaction = .init(initialRTO: .milliseconds(50), maxTransmissions: 3, lastWaitMultiplier: 4)
        let error = await #expect(throws: TurnError.self) { try await TurnConnection.connect(configuration: configuration) }
        #expect(error?.code == .timedOut && error?.method == .allocate)
    }

    @Test func cancellingTheConnectingTaskStopsAtOnce() async throws {
        let silent = try await FakeUDPTurnServer { _ in nil }
        defer { Task { await silent.close() } }
        let configuration = TurnConnection.Configuration(
            server: try IceServerURL(parsing: "turn:127.0.0.1:\(silent.port)"), username: "u", password: "p")
        let start = ContinuousClock.now
        let attempt = Task { try await TurnConnection.connect(configuration: configuration) }
        try await Task.sleep(for: .milliseconds(300))
        attempt.cancel()
        let result = await attempt.result
        #expect(throws: CancellationError.self) { try result.get() }
        // The default transaction would retransmit for 39.5 s.
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func aTCPServerThatAnswersGarbageEndsTheConnectionAndTheAllocation() async throws {
        let garbage = try await FakeTCPTurnServer(reply: Array("\u{FF}this is not STUN".utf8))
        defer { Task { await garbage.close() } }
        let configuration = TurnConnection.Configuration(
            server: try IceServerURL(parsing: "turn:127.0.0.1:\(garbage.port)?transport=tcp"), username: "u", password: "p")
        let error = await #expect(throws: TurnError.self) { try await TurnConnection.connect(configuration: configuration) }
        #expect(error?.code == .connectionClosed && error?.detail.contains("stream.firstByte") == true, "\(String(describing: error))")
    }
}
