import NIOCore
import SignalingMQTT
import Testing

/// The client state machine's publishing, subscriptions and their survival across reconnects.
@Suite struct ClientRequestTests {
    private func message(_ topic: String, _ text: String, qos: MQTTQoS = .atMostOnce, retain: Bool = false) -> MQTTPublish {
        MQTTPublish(topic: topic, payload: ByteBuffer(string: text), qos: qos, retain: retain)
    }

    /// Loses the connection and reconnects at the scheduled time; returns what the client sent
    /// after the CONNACK.
    private func reconnect(_ h: inout ClientHarness, sessionPresent: Bool = false) -> [MQTTPacket] {
        h.transportClosed()
        return h.connect(sessionPresent: sessionPresent)
    }

    private func expectClientError(
        _ code: MQTTClientError.Code, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws -> Void
    ) {
        do {
            try body()
            Issue.record("expected \(code), nothing was thrown", sourceLocation: sourceLocation)
        } catch {
            #expect((error as? MQTTClientError)?.code == code, sourceLocation: sourceLocation)
        }
    }

    // MARK: Publishing

    @Test func qos0IsSentAtOnceWithoutPacketIdentifier() {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        let id = try! h.machine.publish(message("desktops/pa-desktop/status", "online", retain: true), now: h.now)
        h.pump()
        #expect(id == nil)
        let sent = h.takePublishes()
        #expect(sent.map(\.payloadString) == ["online"])
        #expect(sent.first?.retain == true)
        #expect(sent.first?.packetID == nil)
    }

    @Test func qos1CompletesWithThePubAck() {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        let id = try! h.machine.publish(message("t", "x", qos: .atLeastOnce), now: h.now)!
        h.pump()
        #expect(h.takePublishes().map(\.packetID) == [id])
        _ = h.takeEvents()
        h.receive(.pubAck(MQTTAck(packetID: id)))
        #expect(h.takeEvents() == [.published(packetID: id, reasonCode: .success)])
    }

    @Test func anUnacknowledgedQoS1MessageIsResentWithDupAndTheSameIdentifierAfterAReconnect() {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        let first = try! h.machine.publish(message("t", "one", qos: .atLeastOnce), now: h.now)!
        let second = try! h.machine.publish(message("t", "two", qos: .atLeastOnce), now: h.now)!
        h.pump()
        #expect(h.takePublishes().map(\.dup) == [false, false])
        h.receive(.pubAck(MQTTAck(packetID: first)))
        let resent = reconnect(&h).compactMap { if case .publish(let publish) = $0 { publish } else { nil } }
        #expect(resent.map(\.packetID) == [second])
        #expect(resent.map(\.dup) == [true])
        #expect(resent.map(\.payloadString) == ["two"])
        _ = h.takeEvents()
        h.receive(.pubAck(MQTTAck(packetID: second)))
        #expect(h.takeEvents() == [.published(packetID: second, reasonCode: .success)])
        #expect(reconnect(&h).isEmpty)
    }

    @Test func messagesPublishedWhileReconnectingGoOutAfterTheConnAckInOrder() {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        h.transportClosed()
        try! h.machine.publish(message("t", "zero"), now: h.now)
        let id = try! h.machine.publish(message("t", "one", qos: .atLeastOnce), now: h.now)!
        h.pump()
        #expect(h.takeSent().isEmpty)
        let sent = h.connect().compactMap { if case .publish(let publish) = $0 { publish } else { nil } }
        #expect(sent.map(\.payloadString) == ["one", "zero"])
        #expect(sent.first?.packetID == id)
        #expect(sent.first?.dup == false)  // never sent before
    }

    @Test func theOfflineQueueIsBounded() {
        var configuration = ClientHarness.configuration()
        configuration.offlineQueueLimit = 2
        var h = ClientHarness(configuration)
        h.connect()
        h.transportClosed()
        try! h.machine.publish(message("t", "1"), now: h.now)
        try! h.machine.publish(message("t", "2"), now: h.now)
        expectClientError(.tooManyPending) { try h.machine.publish(message("t", "3"), now: h.now) }
    }

    @Test func theBrokersReceiveMaximumLimitsQoS1MessagesInFlight() {
        var h = ClientHarness(ClientHarness.configuration(version: .v5))
        var properties = MQTTProperties()
        properties.receiveMaximum = 2
        h.connect(properties: properties)
        let ids = (1...3).map { try! h.machine.publish(message("t", "\($0)", qos: .atLeastOnce), now: h.now)! }
        h.pump()
        #expect(h.takePublishes().map(\.packetID) == [ids[0], ids[1]])
        h.receive(.pubAck(MQTTAck(packetID: ids[0])))
        #expect(h.takePublishes().map(\.packetID) == [ids[2]])
    }

    @Test func aRefusingPubAckIsReportedWithItsReasonCode() {
        var h = ClientHarness(ClientHarness.configuration(version: .v5))
        h.connect()
        let id = try! h.machine.publish(message("t", "x", qos: .atLeastOnce), now: h.now)!
        _ = h.takeEvents()
        h.receive(.pubAck(MQTTAck(packetID: id, reasonCode: .notAuthorized)))
        #expect(h.takeEvents() == [.published(packetID: id, reasonCode: .notAuthorized)])
    }

    @Test(arguments: [
        ("a/+", MQTTQoS.atMostOnce), ("a/#", .atMostOnce), ("", .atMostOnce), ("t", .exactlyOnce),
    ])
    func requestsThatCannotBeSentThrowInvalidRequest(topic: String, qos: MQTTQoS) {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        expectClientError(.invalidRequest) { try h.machine.publish(MQTTPublish(topic: topic, payload: ByteBuffer(), qos: qos), now: h.now) }
        expectClientError(.invalidRequest) { try h.machine.subscribe([], now: h.now) }
    }

    @Test func requestsBeforeStartThrowNotConnected() {
        var h = ClientHarness(ClientHarness.configuration())
        expectClientError(.notConnected) { try h.machine.subscribe([MQTTSubscription(filter: "t")], now: h.now) }
    }

    @Test func packetIdentifiersSkipThoseStillInUseAndWrapAround() {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        var seen = Set<UInt16>()
        for _ in 0..<Int(UInt16.max) {
            seen.insert(try! h.machine.publish(message("t", "x", qos: .atLeastOnce), now: h.now)!)
        }
        #expect(seen.count == Int(UInt16.max))
        #expect(!seen.contains(0))
        expectClientError(.tooManyPending) { try h.machine.publish(self.message("t", "x", qos: .atLeastOnce), now: h.now) }
        h.pump()
        h.receive(.pubAck(MQTTAck(packetID: 7)))
        #expect(try! h.machine.publish(message("t", "x", qos: .atLeastOnce), now: h.now) == 7)
    }

    // MARK: Receiving

    @Test func incomingQoS1IsDeliveredAndAcknowledged() {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        _ = h.takeEvents()
        let publish = MQTTPublish(topic: "desktops/d/sessions/s/webrtc-offer", payload: ByteBuffer(string: "sdp"), qos: .atLeastOnce, packetID: 42)
        h.receive(.publish(publish))
        #expect(h.takeEvents() == [.message(publish)])
        #expect(h.takeSent() == [.pubAck(MQTTAck(packetID: 42))])
    }

    @Test func incomingQoS2IsDeliveredOnceAndCompletesTheHandshake() {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        _ = h.takeEvents()
        let publish = MQTTPublish(topic: "t", payload: ByteBuffer(string: "x"), qos: .exactlyOnce, packetID: 5)
        h.receive(.publish(publish))
        var duplicate = publish
        duplicate.dup = true
        h.receive(.publish(duplicate))
        #expect(h.takeEvents() == [.message(publish)])
        #expect(h.takeSent() == [.pubRec(MQTTAck(packetID: 5)), .pubRec(MQTTAck(packetID: 5))])
        h.receive(.pubRel(MQTTAck(packetID: 5)))
        #expect(h.takeSent() == [.pubComp(MQTTAck(packetID: 5))])
    }

    // MARK: Subscriptions

    @Test func aSubscribeCompletesWithTheSubAckCodes() {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        let id = try! h.machine.subscribe([MQTTSubscription(filter: "a/+", options: MQTTSubscriptionOptions(qos: .atLeastOnce))], now: h.now)
        h.pump()
        guard case .subscribe(let subscribe) = h.takeSent().first else {
            Issue.record("no SUBSCRIBE")
            return
        }
        #expect(subscribe.packetID == id)
        #expect(subscribe.subscriptions.map(\.filter) == ["a/+"])
        _ = h.takeEvents()
        h.receive(.subAck(MQTTSubAck(packetID: id, reasonCodes: [.grantedQoS1])))
        #expect(h.takeEvents() == [.subscribed(packetID: id, reasonCodes: [.grantedQoS1])])
    }

    @Test func grantedSubscriptionsAreRestoredFirstAfterAReconnectWithoutSession() {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        let offers = MQTTSubscription(filter: "desktops/d/sessions/+/webrtc-offer", options: MQTTSubscriptionOptions(qos: .atLeastOnce))
        let candidates = MQTTSubscription(filter: "desktops/d/sessions/+/offer-ice-candidate")
        let id = try! h.machine.subscribe([offers, candidates], now: h.now)
        h.receive(.subAck(MQTTSubAck(packetID: id, reasonCodes: [.grantedQoS1, .grantedQoS0])))
        let pending = try! h.machine.publish(message("t", "x", qos: .atLeastOnce), now: h.now)!
        h.pump()
        _ = h.takeSent()

        let afterReconnect = reconnect(&h)
        #expect(afterReconnect.map(\.kind) == [.subscribe, .publish])
        guard case .subscribe(let resubscribe) = afterReconnect.first else {
            Issue.record("unexpected state")
            return
        }
        #expect(resubscribe.subscriptions == [offers, candidates])
        #expect(resubscribe.packetID != pending)
        _ = h.takeEvents()
        h.receive(.subAck(MQTTSubAck(packetID: resubscribe.packetID, reasonCodes: [.grantedQoS1, .grantedQoS0])))
        #expect(h.takeEvents() == [.resubscribed(subscriptions: [offers, candidates], reasonCodes: [.grantedQoS1, .grantedQoS0])])
    }

    @Test func nothingIsResubscribedWhenTheBrokerKeptTheSession() {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        let id = try! h.machine.subscribe([MQTTSubscription(filter: "a")], now: h.now)
        h.receive(.subAck(MQTTSubAck(packetID: id, reasonCodes: [.grantedQoS0])))
        #expect(reconnect(&h, sessionPresent: true).isEmpty)
    }

    @Test func refusedFiltersAreNeitherKeptNorRestored() {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        let id = try! h.machine.subscribe([MQTTSubscription(filter: "ok"), MQTTSubscription(filter: "denied")], now: h.now)
        h.receive(.subAck(MQTTSubAck(packetID: id, reasonCodes: [.grantedQoS0, .unspecifiedError])))
        guard case .subscribe(let first) = reconnect(&h).first else {
            Issue.record("no re-subscription")
            return
        }
        #expect(first.subscriptions.map(\.filter) == ["ok"])
        // The broker now refuses "ok" too: it is dropped, and the next reconnect sends nothing.
        h.receive(.subAck(MQTTSubAck(packetID: first.packetID, reasonCodes: [.unspecifiedError])))
        #expect(reconnect(&h).isEmpty)
    }

    @Test func anUnsubscribedFilterIsNotRestored() {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        let id = try! h.machine.subscribe([MQTTSubscription(filter: "a"), MQTTSubscription(filter: "b")], now: h.now)
        h.receive(.subAck(MQTTSubAck(packetID: id, reasonCodes: [.grantedQoS0, .grantedQoS0])))
        let unsubscribe = try! h.machine.unsubscribe(["a"], now: h.now)
        h.pump()
        #expect(h.takeSent().last == .unsubscribe(MQTTUnsubscribe(packetID: unsubscribe, filters: ["a"])))
        _ = h.takeEvents()
        h.receive(.unsubAck(MQTTUnsubAck(packetID: unsubscribe)))
        #expect(h.takeEvents() == [.unsubscribed(packetID: unsubscribe, reasonCodes: [])])
        guard case .subscribe(let resubscribe) = reconnect(&h).first else {
            Issue.record("unexpected state")
            return
        }
        #expect(resubscribe.subscriptions.map(\.filter) == ["b"])
    }

    @Test func requestsStillAwaitingTheirAckAreResentAfterTheResubscription() {
        var h = ClientHarness(ClientHarness.configuration())
        h.connect()
        let granted = try! h.machine.subscribe([MQTTSubscription(filter: "a")], now: h.now)
        h.receive(.subAck(MQTTSubAck(packetID: granted, reasonCodes: [.grantedQoS0])))
        let pending = try! h.machine.subscribe([MQTTSubscription(filter: "b")], now: h.now)
        h.pump()
        let sent = reconnect(&h)
        guard sent.count == 2, case .subscribe(let restore) = sent[0], case .subscribe(let again) = sent[1] else {
            Issue.record("sent \(sent)")
            return
        }
        #expect(restore.subscriptions.map(\.filter) == ["a"])
        #expect(again == MQTTSubscribe(packetID: pending, subscriptions: [MQTTSubscription(filter: "b")]))
        // The lost re-subscription is not sent twice after another loss.
        let next = reconnect(&h)
        #expect(next.count == 2)
    }
}
