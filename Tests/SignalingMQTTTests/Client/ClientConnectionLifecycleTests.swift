import NIOCore
import SignalingMQTT
import Testing

/// The client state machine's connection life: CONNECT, CONNACK, keep-alive, loss, reconnect.
@Suite struct ClientConnectionLifecycleTests {
    @Test(arguments: [MQTTProtocolVersion.v3_1_1, .v5])
    func theFirstPacketIsConnectWithTheDesktopsIdentityAndWill(version: MQTTProtocolVersion) {
        let will = MQTTWill(topic: "desktops/pa-desktop/status", payload: ByteBuffer(string: "offline"), qos: .atLeastOnce, retain: true)
        var h = ClientHarness(ClientHarness.configuration(version: version, will: will))
        h.start()
        #expect(h.opens == 1)
        #expect(h.machine.state == .connecting)
        h.transportOpened()
        guard case .connect(let connect) = h.takeSent().first else {
            Issue.record("no CONNECT")
            return
        }
        #expect(connect.version == version)
        #expect(connect.clientID == "desktop:pa-desktop")
        #expect(connect.username == "pa-desktop")
        #expect(connect.password == Array("psk".utf8))
        #expect(connect.will == will)
        #expect(connect.keepAlive == 30)
        #expect(connect.cleanStart)
    }

    @Test func aConnAckConnectsAndReportsTheSession() {
        var h = ClientHarness(ClientHarness.configuration())
        h.start()
        h.transportOpened()
        h.receive(.connAck(MQTTConnAck(sessionPresent: true)))
        #expect(h.machine.state == .connected)
        #expect(h.takeEvents() == [.connected(sessionPresent: true)])
    }

    @Test func aRefusedFirstConnectionStopsWithTheBrokersReasonAndCanBeRestarted() {
        var h = ClientHarness(ClientHarness.configuration())
        h.start()
        h.transportOpened()
        h.receive(.connAck(MQTTConnAck(reasonCode: .badUserNameOrPassword)))
        #expect(h.closes == 1)
        #expect(h.machine.state == .idle)
        guard case .disconnected(let reason, let reconnectAt) = h.takeEvents().last else {
            Issue.record("no disconnected event")
            return
        }
        #expect(reason.code == .connectionRefused)
        #expect(reason.reasonCode == .badUserNameOrPassword)
        #expect(reconnectAt == nil)
        #expect(h.machine.nextTimeout() == nil)
        h.connect()
        #expect(h.machine.state == .connected)
    }

    @Test func aFirstConnectionThatCannotOpenGoesIdleWithTheTransportError() {
        var h = ClientHarness(ClientHarness.configuration())
        h.start()
        h.transportClosed(MQTTClientError(.transportFailed, detail: "connection refused"))
        #expect(h.machine.state == .idle)
        #expect(h.takeEvents().map(\.disconnectReason) == [.transportFailed])
    }

    @Test func noConnAckWithinTheConnectTimeoutClosesTheConnection() {
        var h = ClientHarness(ClientHarness.configuration())
        h.start()
        h.transportOpened()
        #expect(h.machine.nextTimeout() == h.now + .seconds(10))
        h.advance(by: .milliseconds(9_999))
        #expect(h.closes == 0)
        h.advance(by: .milliseconds(1))
        #expect(h.closes == 1)
        #expect(h.takeEvents().map(\.disconnectReason) == [.connectTimeout])
    }

    @Test func aPacketBeforeConnAckIsAProtocolError() {
        var h = ClientHarness(ClientHarness.configuration())
        h.start()
        h.transportOpened()
        h.receive(.pingResp)
        #expect(h.closes == 1)
        #expect(h.takeEvents().map(\.disconnectReason) == [.protocolError])
    }

    @Test func malformedBytesCloseTheConnectionAndReconnect() {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        h.receiveBytes(ByteBuffer(bytes: [0x00, 0x00]))  // packet type 0 is reserved
        #expect(h.closes == 1)
        guard case .disconnected(let reason, let reconnectAt) = h.takeEvents().last else {
            Issue.record("no disconnected event")
            return
        }
        #expect(reason.code == .protocolError)
        #expect(reason.reasonCode == .malformedPacket)
        #expect(reconnectAt == h.now + .milliseconds(500))
    }

    @Test func packetsSplitAcrossReadsByteByByteAreReassembled() {
        var h = ClientHarness(ClientHarness.configuration())
        h.start()
        h.transportOpened()
        _ = h.takeSent()
        var bytes = try! MQTTPacket.connAck(MQTTConnAck()).encoded(version: .v3_1_1)
        let publish = MQTTPublish(topic: "a/b", payload: ByteBuffer(string: "hello"), qos: .atLeastOnce, packetID: 9)
        try! MQTTPacket.publish(publish).encode(into: &bytes, version: .v3_1_1)
        while let byte = bytes.readSlice(length: 1) { h.receiveBytes(byte) }
        #expect(h.takeEvents() == [.connected(sessionPresent: false), .message(publish)])
        #expect(h.takeSent() == [.pubAck(MQTTAck(packetID: 9))])
    }

    @Test func theServerDisconnectingEndsTheConnectionWithItsReason() {
        var h = ClientHarness(ClientHarness.configuration(version: .v5))
        h.connect()
        h.receive(.disconnect(MQTTDisconnect(reasonCode: .sessionTakenOver)))
        #expect(h.closes == 1)
        guard case .disconnected(let reason, _) = h.takeEvents().last else {
            Issue.record("no disconnected event")
            return
        }
        #expect(reason.code == .serverDisconnected)
        #expect(reason.reasonCode == .sessionTakenOver)
    }

    // MARK: Keep-alive

    @Test func aPingGoesOutAfterAKeepAliveWithoutTrafficAndThePingRespRearmsIt() {
        var h = ClientHarness(ClientHarness.configuration(keepAlive: .seconds(30)))
        h.connect()
        let connectedAt = h.now
        #expect(h.machine.nextTimeout() == connectedAt + .seconds(30))
        h.advance(by: .milliseconds(29_999))
        #expect(h.takeSent().isEmpty)
        h.advance(by: .milliseconds(1))
        #expect(h.takeSent() == [.pingReq])
        h.advance(by: .seconds(2))
        h.receive(.pingResp)
        // Keep-alive counts from the PINGREQ sent at 30 s (MQTT 5.0 §3.1.2.10).
        #expect(h.machine.nextTimeout() == connectedAt + .seconds(60))
        h.advance(by: .seconds(30))
        #expect(h.takeSent() == [.pingReq])
        #expect(h.machine.state == .connected)
    }

    @Test func noPingRespWithinThePingTimeoutLosesTheConnection() {
        var h = ClientHarness(ClientHarness.configuration(keepAlive: .seconds(30)))
        h.connect()
        _ = h.takeEvents()
        h.advance(by: .seconds(30))
        #expect(h.takeSent() == [.pingReq])
        h.advance(by: .milliseconds(9_999))
        #expect(h.closes == 0)
        h.advance(by: .milliseconds(1))
        #expect(h.closes == 1)
        guard case .disconnected(let reason, let reconnectAt) = h.takeEvents().last else {
            Issue.record("no disconnected event")
            return
        }
        #expect(reason.code == .keepAliveTimeout)
        #expect(reconnectAt == h.now + .milliseconds(500))
        #expect(h.machine.state == .waitingToReconnect(until: h.now + .milliseconds(500)))
    }

    @Test func aClientThatOnlyPublishesStillPingsSoAHalfOpenConnectionIsNoticed() {
        var h = ClientHarness(ClientHarness.configuration(keepAlive: .seconds(30)))
        h.connect()
        for _ in 0..<5 {
            h.advance(by: .seconds(5))
            try! h.machine.publish(MQTTPublish(topic: "t", payload: ByteBuffer(string: "x")), now: h.now)
            h.pump()
        }
        #expect(h.takeSent().map(\.kind) == Array(repeating: .publish, count: 5))
        // Nothing received for 30 s, although something was sent 5 s ago.
        h.advance(by: .seconds(5))
        #expect(h.takeSent() == [.pingReq])
    }

    @Test func theServersKeepAliveReplacesTheConfiguredOne() {
        var h = ClientHarness(ClientHarness.configuration(version: .v5, keepAlive: .seconds(60)))
        var properties = MQTTProperties()
        properties.serverKeepAlive = 5
        h.connect(properties: properties)
        #expect(h.machine.nextTimeout() == h.now + .seconds(5))
    }

    @Test func keepAliveZeroSchedulesNothing() {
        var h = ClientHarness(ClientHarness.configuration(keepAlive: .zero))
        h.connect()
        #expect(h.machine.nextTimeout() == nil)
    }

    // MARK: Reconnect

    @Test func reconnectAttemptsBackOffExponentiallyUpToTheCap() {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        h.transportClosed()
        var waits: [TimeAmount] = []
        for _ in 0..<9 {
            guard case .waitingToReconnect(let until) = h.machine.state else {
                Issue.record("not waiting: \(h.machine.state)")
                return
            }
            waits.append(until - h.now)
            let opens = h.opens
            h.advance(to: until)
            #expect(h.opens == opens + 1)
            h.transportClosed(MQTTClientError(.transportFailed, detail: "refused"))
        }
        #expect(waits.map { $0.nanoseconds / 1_000_000 } == [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000])
    }

    @Test func theBackoffStartsOverOnlyAfterAStableConnection() {
        var h = ClientHarness(ClientHarness.configuration(keepAlive: .zero))
        h.connect()
        h.transportClosed()  // attempt 1: 0.5 s
        h.connect()
        h.advance(by: .seconds(1))
        h.transportClosed()  // up only 1 s: attempt 2
        guard case .waitingToReconnect(let second) = h.machine.state else {
            Issue.record("unexpected state")
            return
        }
        #expect(second - h.now == .seconds(1))
        h.connect()
        h.advance(by: .seconds(10))
        h.transportClosed()  // up 10 s: starts over
        guard case .waitingToReconnect(let third) = h.machine.state else {
            Issue.record("unexpected state")
            return
        }
        #expect(third - h.now == .milliseconds(500))
    }

    @Test func aConnAckRefusalWhileReconnectingKeepsRetrying() {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        h.transportClosed()
        guard case .waitingToReconnect(let until) = h.machine.state else {
            Issue.record("unexpected state")
            return
        }
        h.advance(to: until)
        h.transportOpened()
        h.receive(.connAck(MQTTConnAck(reasonCode: .serverUnavailable)))
        guard case .waitingToReconnect = h.machine.state else {
            Issue.record("gave up: \(h.machine.state)")
            return
        }
    }

    @Test func disconnectSendsDisconnectFailsWhatIsPendingAndStopsForGood() {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        _ = h.takeEvents()
        let id = try! h.machine.publish(MQTTPublish(topic: "t", payload: ByteBuffer(), qos: .atLeastOnce), now: h.now)!
        h.pump()
        _ = h.takeSent()
        h.machine.disconnect(now: h.now)
        h.pump()
        #expect(h.takeSent() == [.disconnect(MQTTDisconnect())])
        #expect(h.closes == 1)
        let events = h.takeEvents()
        #expect(events.count == 2)
        #expect(events.first?.disconnectReason == .disconnected)
        if case .requestFailed(let failedID, let error) = events.last {
            #expect(failedID == id)
            #expect(error.code == .disconnected)
        } else {
            Issue.record("no requestFailed event")
        }
        #expect(h.machine.state == .stopped)
        #expect(h.machine.nextTimeout() == nil)
        h.transportClosed()
        #expect(h.opens == 1)
        #expect(throws: MQTTClientError.self) {
            try h.machine.publish(MQTTPublish(topic: "t", payload: ByteBuffer()), now: h.now)
        }
    }

    @Test func disconnectWhileWaitingToReconnectCancelsTheAttempt() {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        h.transportClosed()
        h.machine.disconnect(now: h.now)
        h.pump()
        h.advance(by: .seconds(60))
        #expect(h.opens == 1)
        #expect(h.takeSent().isEmpty)
    }
}

/// The reconnect schedule as a pure function.
@Suite struct ReconnectBackoffTests {
    @Test(arguments: [(1, 500), (2, 1_000), (3, 2_000), (4, 4_000), (5, 8_000), (6, 16_000), (7, 30_000), (8, 30_000), (1_000, 30_000), (0, 500), (-3, 500)])
    func withoutJitterTheWaitDoublesFromHalfASecondToThirtySeconds(attempt: Int, milliseconds: Int64) {
        let backoff = MQTTReconnectBackoff()
        #expect(backoff.delay(attempt: attempt, random: 0) == .milliseconds(milliseconds))
    }

    @Test(arguments: [0.0, 0.25, 0.5, 0.999_999])
    func jitterOnlyShortensTheWaitByAtMostItsFraction(random: Double) {
        let backoff = MQTTReconnectBackoff(jitter: 0.2)
        for attempt in 1...10 {
            let plain = backoff.delay(attempt: attempt, random: 0)
            let jittered = backoff.delay(attempt: attempt, random: random)
            #expect(jittered <= plain)
            #expect(jittered.nanoseconds >= plain.nanoseconds * 8 / 10)
        }
        #expect(backoff.delay(attempt: 3, random: 0.5) == .milliseconds(1_800))
    }

    @Test func outOfRangeRandomsAndHugeCapsAreClamped() {
        let backoff = MQTTReconnectBackoff(initialDelay: .seconds(1), maximumDelay: .nanoseconds(.max), jitter: 5)
        #expect(backoff.delay(attempt: 2, random: -1) == .seconds(2))
        #expect(backoff.delay(attempt: 2, random: 7) == .zero)
        #expect(backoff.delay(attempt: 200, random: 0) == .nanoseconds(.max))
    }

    @Test func theStateMachinesJitterIsReproducibleFromItsSeed() throws {
        func firstWait(seed: UInt64) -> TimeAmount? {
            var configuration = ClientHarness.configuration()
            configuration.backoff = MQTTReconnectBackoff()
            configuration.randomSeed = seed
            var h = ClientHarness(configuration)
            h.connect()
            h.transportClosed()
            guard case .waitingToReconnect(let until) = h.machine.state else { return nil }
            return until - h.now
        }
        #expect(firstWait(seed: 7) == firstWait(seed: 7))
        let wait = try #require(firstWait(seed: 7))
        #expect(wait <= .milliseconds(500) && wait >= .milliseconds(400))
    }
}
