import NIOCore
import SignalingMQTT
import Testing

@Suite struct BrokerTests {
    typealias Harness = BrokerHarness<OpenBrokerPolicy>

    @Test(arguments: [MQTTProtocolVersion.v3_1_1, .v5])
    func aSubscriberReceivesWhatIsPublishedAtTheLowerQoS(version: MQTTProtocolVersion) {
        var h = Harness(policy: OpenBrokerPolicy())
        let (sub, ack) = h.connect("sub", version: version)
        #expect(ack?.reasonCode == .success)
        #expect(h.subscribe(sub, "a/+", qos: .atLeastOnce) == [.grantedQoS1])
        let (pub, _) = h.connect("pub", version: version)
        h.publish(pub, "a/b", "zero")
        h.publish(pub, "a/b", "two", qos: .exactlyOnce, packetID: 7)
        #expect(h.take(pub).contains(.pubRec(MQTTAck(packetID: 7, reasonCode: .success, properties: MQTTProperties()))))
        let got = h.publishes(sub)
        #expect(got.map(\.text) == ["zero", "two"])
        #expect(got.map(\.qos) == [.atMostOnce, .atLeastOnce])
    }

    @Test func qos2IsDeliveredOnceEvenWhenThePublisherRetransmits() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (sub, _) = h.connect("sub")
        _ = h.subscribe(sub, "t", qos: .exactlyOnce)
        let (pub, _) = h.connect("pub")
        h.publish(pub, "t", "x", qos: .exactlyOnce, packetID: 3)
        h.publish(pub, "t", "x", qos: .exactlyOnce, packetID: 3)
        h.send(.pubRel(MQTTAck(packetID: 3, reasonCode: .success, properties: MQTTProperties())), on: pub)
        #expect(h.take(pub).contains(.pubComp(MQTTAck(packetID: 3, reasonCode: .success, properties: MQTTProperties()))))
        let delivered = h.publishes(sub)
        #expect(delivered.count == 1)
        // The subscriber's side of QoS 2: PUBREC → PUBREL → PUBCOMP.
        let id = delivered[0].packetID!
        h.send(.pubRec(MQTTAck(packetID: id, reasonCode: .success, properties: MQTTProperties())), on: sub)
        #expect(h.take(sub) == [.pubRel(MQTTAck(packetID: id, reasonCode: .success, properties: MQTTProperties()))])
    }

    @Test func retainedMessagesReachLaterSubscribersAndAnEmptyPayloadClearsThem() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (pub, _) = h.connect("pub")
        h.publish(pub, "r/1", "kept", retain: true)
        let (sub, _) = h.connect("sub")
        _ = h.subscribe(sub, "r/#")
        let first = h.publishes(sub)
        #expect(first.map(\.text) == ["kept"])
        #expect(first.first?.retain == true)
        h.publish(pub, "r/1", "", retain: true)
        _ = h.publishes(sub)
        let (late, _) = h.connect("late")
        _ = h.subscribe(late, "r/#")
        #expect(h.publishes(late).isEmpty)
    }

    @Test func wildcardSubscriptionsDoNotSeeDollarTopics() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (sub, _) = h.connect("sub")
        _ = h.subscribe(sub, "#")
        try! h.broker.publish(topic: "$SYS/x", payload: ByteBuffer(string: "s"), now: h.now)
        h.pump()
        #expect(h.publishes(sub).isEmpty)
    }

    @Test func aWillIsPublishedWhenTheConnectionDropsButNotAfterDisconnect() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (sub, _) = h.connect("sub")
        _ = h.subscribe(sub, "will/#")
        let will = MQTTWill(topic: "will/a", payload: ByteBuffer(string: "gone"), qos: .atMostOnce, retain: false, properties: MQTTProperties())
        let (a, _) = h.connect("a", will: will)
        h.disconnectTransport(a)
        #expect(h.publishes(sub).map(\.text) == ["gone"])
        let (b, _) = h.connect("b", will: MQTTWill(topic: "will/b", payload: ByteBuffer(string: "x"), qos: .atMostOnce, retain: false, properties: MQTTProperties()))
        h.send(.disconnect(MQTTDisconnect(reasonCode: .success, properties: MQTTProperties())), on: b)
        #expect(h.publishes(sub).isEmpty)
    }

    @Test func aDelayedWillWaitsAndIsCancelledByAReconnect() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (sub, _) = h.connect("sub")
        _ = h.subscribe(sub, "will/#")
        var willProperties = MQTTProperties()
        willProperties.willDelayInterval = 2
        var session = MQTTProperties()
        session.sessionExpiryInterval = 60
        let will = MQTTWill(topic: "will/a", payload: ByteBuffer(string: "gone"), qos: .atMostOnce, retain: false, properties: willProperties)
        let (a, _) = h.connect("a", will: will, properties: session)
        h.disconnectTransport(a)
        h.advance(.milliseconds(1900))
        #expect(h.publishes(sub).isEmpty)
        h.advance(.milliseconds(200))
        #expect(h.publishes(sub).map(\.text) == ["gone"])
        // Reconnecting within the delay cancels it.
        let (a2, _) = h.connect("a2", will: will, properties: session)
        h.disconnectTransport(a2)
        h.advance(.seconds(1))
        _ = h.connect("a2", cleanStart: false, properties: session)
        h.advance(.seconds(5))
        #expect(h.publishes(sub).isEmpty)
    }

    @Test(arguments: [MQTTProtocolVersion.v3_1_1, .v5])
    func aPersistentSessionGetsQoS1MessagesQueuedWhileOffline(version: MQTTProtocolVersion) {
        var h = Harness(policy: OpenBrokerPolicy())
        var properties = MQTTProperties()
        if version == .v5 { properties.sessionExpiryInterval = 300 }
        let (sub, _) = h.connect("sub", version: version, cleanStart: false, properties: properties)
        _ = h.subscribe(sub, "q", qos: .atLeastOnce)
        h.disconnectTransport(sub)
        let (pub, _) = h.connect("pub", version: version)
        h.publish(pub, "q", "while away", qos: .atLeastOnce)
        h.publish(pub, "q", "dropped qos0")
        let (back, ack) = h.connect("sub", version: version, cleanStart: false, properties: properties)
        #expect(ack?.sessionPresent == true)
        #expect(h.publishes(back).map(\.text) == ["while away"])
    }

    @Test func keepAliveClosesASilentClientAfterOneAndAHalfIntervals() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (a, _) = h.connect("a", keepAlive: 10)
        h.advance(.seconds(14))
        #expect(!h.closed.contains(a))
        h.advance(.seconds(2))
        #expect(h.closed.contains(a))
        #expect(h.take(a).contains(.disconnect(MQTTDisconnect(reasonCode: .keepAliveTimeout, properties: MQTTProperties()))))
    }

    @Test func aConnectionThatNeverSendsConnectIsClosed() {
        var h = Harness(policy: OpenBrokerPolicy(), configuration: .init(connectTimeout: .seconds(5)))
        let id = h.open()
        h.advance(.seconds(4))
        #expect(!h.closed.contains(id))
        h.advance(.seconds(2))
        #expect(h.closed.contains(id))
    }

    @Test func aSecondConnectIsAProtocolError() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (a, _) = h.connect("a")
        h.send(.connect(MQTTConnect(version: .v5, cleanStart: true, keepAlive: 0, clientID: "a", username: nil, password: nil, will: nil, properties: MQTTProperties())), on: a)
        #expect(h.closed.contains(a))
        #expect(h.take(a).contains(.disconnect(MQTTDisconnect(reasonCode: .protocolError, properties: MQTTProperties()))))
    }

    @Test func garbageClosesOnlyThatConnection() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (good, _) = h.connect("good")
        _ = h.subscribe(good, "t")
        let bad = h.open()
        h.sendBytes(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF]), on: bad)
        #expect(h.closed.contains(bad))
        #expect(h.broker.statistics.malformedPackets == 1)
        let (pub, _) = h.connect("pub")
        h.publish(pub, "t", "still here")
        #expect(h.publishes(good).map(\.text) == ["still here"])
    }

    @Test func aSecondClientWithTheSameIDTakesTheSessionOver() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (first, _) = h.connect("same")
        let (second, ack) = h.connect("same")
        #expect(ack?.reasonCode == .success)
        #expect(h.closed.contains(first))
        #expect(h.take(first).contains(.disconnect(MQTTDisconnect(reasonCode: .sessionTakenOver, properties: MQTTProperties()))))
        #expect(!h.closed.contains(second))
    }

    @Test func topicAliasesAreResolved() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (sub, _) = h.connect("sub")
        _ = h.subscribe(sub, "long/topic/name")
        let (pub, _) = h.connect("pub")
        var alias = MQTTProperties()
        alias.topicAlias = 1
        h.publish(pub, "long/topic/name", "first", properties: alias)
        h.publish(pub, "", "second", properties: alias)
        #expect(h.publishes(sub).map(\.text) == ["first", "second"])
        var bad = MQTTProperties()
        bad.topicAlias = 999
        h.publish(pub, "x", "y", properties: bad)
        #expect(h.closed.contains(pub))
    }

    @Test func expiredMessagesAreNotDelivered() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (pub, _) = h.connect("pub")
        var expiring = MQTTProperties()
        expiring.messageExpiryInterval = 5
        h.publish(pub, "e", "short-lived", retain: true, properties: expiring)
        h.advance(.seconds(6))
        let (sub, _) = h.connect("sub")
        _ = h.subscribe(sub, "e")
        #expect(h.publishes(sub).isEmpty)
    }

    @Test func aStalledSubscriberIsDisconnectedWithoutSlowingOthers() {
        var h = Harness(policy: OpenBrokerPolicy(), configuration: .init(maximumQueuedMessages: 10))
        let (slow, _) = h.connect("slow")
        _ = h.subscribe(slow, "t")
        let (fast, _) = h.connect("fast")
        _ = h.subscribe(fast, "t")
        h.broker.connectionWritabilityChanged(slow, isWritable: false, now: h.now)
        let (pub, _) = h.connect("pub")
        for index in 0..<20 { h.publish(pub, "t", "\(index)") }
        #expect(h.publishes(fast).count == 20)
        #expect(h.closed.contains(slow))
        #expect(h.broker.statistics.slowClientsDisconnected == 1)
        #expect(h.broker.statistics.messagesDropped >= 1)
    }

    @Test func theReceiveMaximumOfAClientBoundsUnacknowledgedDeliveries() {
        var h = Harness(policy: OpenBrokerPolicy())
        var small = MQTTProperties()
        small.receiveMaximum = 2
        let (sub, _) = h.connect("sub", properties: small)
        _ = h.subscribe(sub, "t", qos: .atLeastOnce)
        let (pub, _) = h.connect("pub")
        for index in 0..<5 { h.publish(pub, "t", "\(index)", qos: .atLeastOnce, packetID: UInt16(index + 1)) }
        var got = h.publishes(sub)
        #expect(got.count == 2)
        h.send(.pubAck(MQTTAck(packetID: got[0].packetID!, reasonCode: .success, properties: MQTTProperties())), on: sub)
        got = h.publishes(sub)
        #expect(got.map(\.text) == ["2"])
    }

    @Test func unsubscribeStopsDelivery() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (sub, _) = h.connect("sub")
        _ = h.subscribe(sub, "t")
        h.send(.unsubscribe(MQTTUnsubscribe(packetID: 2, filters: ["t", "never"], properties: MQTTProperties())), on: sub)
        #expect(h.take(sub) == [.unsubAck(MQTTUnsubAck(packetID: 2, reasonCodes: [.success, .noSubscriptionExisted], properties: MQTTProperties()))])
        let (pub, _) = h.connect("pub")
        h.publish(pub, "t", "x")
        #expect(h.publishes(sub).isEmpty)
    }

    @Test func noLocalSuppressesAClientsOwnMessages() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (a, _) = h.connect("a")
        _ = h.subscribe(a, "t", noLocal: true)
        h.publish(a, "t", "mine")
        #expect(h.publishes(a).isEmpty)
    }

    @Test(arguments: [1, 7, 300])
    func packetsSplitAcrossReadsAreReassembled(chunk: Int) {
        var h = Harness(policy: OpenBrokerPolicy())
        let (sub, _) = h.connect("sub")
        _ = h.subscribe(sub, "t")
        let (pub, _) = h.connect("pub")
        var stream = ByteBuffer()
        for index in 0..<50 {
            let publish = MQTTPublish(topic: "t", payload: ByteBuffer(string: "message \(index)"), qos: .atMostOnce, retain: false, dup: false, packetID: nil, properties: MQTTProperties())
            try! MQTTPacket.publish(publish).encode(into: &stream, version: .v5)
        }
        while stream.readableBytes > 0 {
            h.sendBytes(stream.readSlice(length: min(chunk, stream.readableBytes))!, on: pub)
        }
        #expect(h.publishes(sub).map(\.text) == (0..<50).map { "message \($0)" })
    }
}
