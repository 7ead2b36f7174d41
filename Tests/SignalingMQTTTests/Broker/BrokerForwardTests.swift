import NIOCore
import Testing

@testable import SignalingMQTT

/// The short path for repeated plain QoS 0 messages (`MQTTBroker.forwardIfRouted`): it must
/// deliver exactly what the full path delivers, and step aside whenever the full path would do
/// something else.
@Suite struct BrokerForwardTests {
    typealias Harness = BrokerHarness<OpenBrokerPolicy>

    /// Whether the publisher's next plain message to its last topic would take the short path.
    static func routed(_ h: Harness, _ id: MQTTConnectionID) -> Bool {
        guard let route = h.broker.connections[id]?.forward else { return false }
        return route.epoch == h.broker.forwardEpoch
    }

    static func publishBytes(_ topic: String, _ texts: [String], version: MQTTProtocolVersion) -> ByteBuffer {
        var buffer = ByteBuffer()
        for text in texts {
            let publish = MQTTPublish(
                topic: topic, payload: ByteBuffer(string: text), qos: .atMostOnce, retain: false, dup: false, packetID: nil,
                properties: MQTTProperties())
            try! MQTTPacket.publish(publish).encode(into: &buffer, version: version)
        }
        return buffer
    }

    @Test(arguments: [MQTTProtocolVersion.v3_1_1, .v5])
    func repeatedMessagesReachEverySubscriberOnceAndInOrder(version: MQTTProtocolVersion) {
        var h = Harness(policy: OpenBrokerPolicy())
        let (a, _) = h.connect("a", version: version)
        _ = h.subscribe(a, "t/+")
        _ = h.subscribe(a, "t/x", packetID: 2)  // overlapping: still one copy
        let (b, _) = h.connect("b", version: version)
        _ = h.subscribe(b, "#")
        let (pub, _) = h.connect("pub", version: version)
        h.publish(pub, "t/x", "1")
        #expect(Self.routed(h, pub))
        h.publish(pub, "t/x", "2")
        h.publish(pub, "t/x", "3")
        for id in [a, b] {
            let got = h.publishes(id)
            #expect(got.map(\.text) == ["1", "2", "3"])
            #expect(got.allSatisfy { $0.topic == "t/x" && $0.qos == .atMostOnce && !$0.retain && $0.packetID == nil })
        }
        #expect(h.broker.statistics.messagesReceived == 3)
        #expect(h.broker.statistics.messagesDelivered == 6)
    }

    @Test(arguments: [MQTTProtocolVersion.v3_1_1, .v5])
    func severalMessagesInOneReadAndOneSplitAcrossReadsArriveWhole(version: MQTTProtocolVersion) {
        var h = Harness(policy: OpenBrokerPolicy())
        let (sub, _) = h.connect("sub", version: version)
        _ = h.subscribe(sub, "t")
        let (pub, _) = h.connect("pub", version: version)
        h.publish(pub, "t", "0")
        var bytes = Self.publishBytes("t", ["1", "2", "3", "4"], version: version)
        let cut = bytes.writerIndex - 3
        let head = bytes.readSlice(length: cut)!
        h.sendBytes(head, on: pub)
        #expect(h.publishes(sub).map(\.text) == ["0", "1", "2", "3"])
        h.sendBytes(bytes, on: pub)
        #expect(h.publishes(sub).map(\.text) == ["4"])
    }

    @Test func aNewSubscriberGetsTheNextMessageAndAnUnsubscribedOneDoesNot() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (first, _) = h.connect("first")
        _ = h.subscribe(first, "t")
        let (pub, _) = h.connect("pub")
        h.publish(pub, "t", "1")
        h.publish(pub, "t", "2")
        let (second, _) = h.connect("second")
        _ = h.subscribe(second, "t")
        #expect(!Self.routed(h, pub))
        h.publish(pub, "t", "3")
        h.send(.unsubscribe(MQTTUnsubscribe(packetID: 5, filters: ["t"], properties: MQTTProperties())), on: first)
        h.publish(pub, "t", "4")
        #expect(h.publishes(first).map(\.text) == ["1", "2", "3"])
        #expect(h.publishes(second).map(\.text) == ["3", "4"])
    }

    @Test func aSubscriberThatWentAwayIsSkippedAndTheOthersCarryOn() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (gone, _) = h.connect("gone")
        _ = h.subscribe(gone, "t")
        let (stays, _) = h.connect("stays")
        _ = h.subscribe(stays, "t")
        let (pub, _) = h.connect("pub")
        h.publish(pub, "t", "1")
        h.disconnectTransport(gone)
        _ = h.take(gone)
        h.publish(pub, "t", "2")
        h.publish(pub, "t", "3")
        #expect(h.publishes(stays).map(\.text) == ["1", "2", "3"])
        #expect(h.take(gone).isEmpty)
    }

    @Test func aClientIDTakeoverMovesTheMessagesToTheNewConnection() {
        var h = Harness(policy: OpenBrokerPolicy())
        // 3.1.1 without clean session: the session (and its subscription) outlives the connection.
        let (old, _) = h.connect("sub", version: .v3_1_1, cleanStart: false)
        _ = h.subscribe(old, "t")
        let (pub, _) = h.connect("pub", version: .v3_1_1)
        h.publish(pub, "t", "1")
        let (new, _) = h.connect("sub", version: .v3_1_1, cleanStart: false)
        h.publish(pub, "t", "2")
        h.publish(pub, "t", "3")
        #expect(h.publishes(old).map(\.text) == ["1"])
        #expect(h.publishes(new).map(\.text) == ["2", "3"])
    }

    @Test func aSubscriberThatCannotTakeMoreGetsItsMessagesQueuedInOrder() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (slow, _) = h.connect("slow")
        _ = h.subscribe(slow, "t")
        let (pub, _) = h.connect("pub")
        h.publish(pub, "t", "1")
        h.broker.connectionWritabilityChanged(slow, isWritable: false, now: h.now)
        h.pump()
        h.publish(pub, "t", "2")
        h.publish(pub, "t", "3")
        #expect(h.publishes(slow).map(\.text) == ["1"])
        h.broker.connectionWritabilityChanged(slow, isWritable: true, now: h.now)
        h.pump()
        // Writable again, with an empty queue: the short path resumes behind the queued ones.
        h.publish(pub, "t", "4")
        h.publish(pub, "t", "5")
        #expect(h.publishes(slow).map(\.text) == ["2", "3", "4", "5"])
    }

    @Test func subscribersOfAnotherVersionGetTheirOwnEncoding() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (v5, _) = h.connect("v5", version: .v5)
        _ = h.subscribe(v5, "t")
        let (v3, _) = h.connect("v3", version: .v3_1_1)
        _ = h.subscribe(v3, "t")
        let (pub, _) = h.connect("pub", version: .v3_1_1)
        h.publish(pub, "t", "1")
        h.publish(pub, "t", "2")
        #expect(!Self.routed(h, pub))
        // The harness decodes each connection's bytes with its own version (and traps on
        // anything else).
        #expect(h.publishes(v5).map(\.text) == ["1", "2"])
        #expect(h.publishes(v3).map(\.text) == ["1", "2"])
    }

    @Test func subscriptionIdentifiersStillReachTheSubscriber() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (sub, _) = h.connect("sub", version: .v5)
        var properties = MQTTProperties()
        properties.subscriptionIdentifiers = [9]
        let options = MQTTSubscriptionOptions(qos: .atMostOnce, noLocal: false, retainAsPublished: false, retainHandling: 0)
        h.send(.subscribe(MQTTSubscribe(packetID: 1, subscriptions: [MQTTSubscription(filter: "t", options: options)], properties: properties)), on: sub)
        _ = h.take(sub)
        let (pub, _) = h.connect("pub", version: .v5)
        h.publish(pub, "t", "1")
        h.publish(pub, "t", "2")
        let got = h.publishes(sub)
        #expect(got.map(\.text) == ["1", "2"])
        #expect(got.allSatisfy { $0.properties.subscriptionIdentifiers == [9] })
    }

    @Test func aMessageLargerThanASubscribersMaximumPacketSizeIsNotSentToIt() {
        var h = Harness(policy: OpenBrokerPolicy())
        var limit = MQTTProperties()
        limit.maximumPacketSize = 64
        let (small, _) = h.connect("small", version: .v5, properties: limit)
        _ = h.subscribe(small, "t")
        let (large, _) = h.connect("large", version: .v5)
        _ = h.subscribe(large, "t")
        let (pub, _) = h.connect("pub", version: .v5)
        h.publish(pub, "t", "short")
        let big = String(repeating: "x", count: 100)
        h.publish(pub, "t", big)
        h.publish(pub, "t", "short again")
        #expect(h.publishes(small).map(\.text) == ["short", "short again"])
        #expect(h.publishes(large).map(\.text) == ["short", big, "short again"])
    }

    @Test func retainedQoS1AndOtherTopicsTakeTheFullPath() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (sub, _) = h.connect("sub")
        _ = h.subscribe(sub, "#")
        let (pub, _) = h.connect("pub")
        h.publish(pub, "t", "1")
        h.publish(pub, "t", "kept", retain: true)
        h.publish(pub, "t", "acked", qos: .atLeastOnce, packetID: 4)
        #expect(h.take(pub).contains(.pubAck(MQTTAck(packetID: 4, reasonCode: .success, properties: MQTTProperties()))))
        h.publish(pub, "u", "other")
        #expect(h.publishes(sub).map(\.text) == ["1", "kept", "acked", "other"])
        let (late, _) = h.connect("late")
        _ = h.subscribe(late, "t")
        #expect(h.publishes(late).map(\.text) == ["kept"])
    }

    @Test func aDesktopsForbiddenTopicIsStillRefusedAfterAnAllowedOne() {
        var h = BrokerHarness<PodArcadeBrokerPolicy>(policy: PodArcadeBrokerPolicy())
        let (user, _) = h.connect("user:watcher")
        _ = h.subscribe(user, "desktops/#")
        let (desktop, _) = h.connect("desktop:a", username: "a")
        h.publish(desktop, "desktops/a/status", "online")
        h.publish(desktop, "desktops/a/status", "still online")
        h.publish(desktop, "desktops/b/status", "forged")
        #expect(h.publishes(user).map(\.text) == ["online", "still online"])
        #expect(h.broker.statistics.publishesRefused == 1)
    }

    @Test func aTopicThatOnlyMatchesInLengthIsNotForwarded() {
        var h = Harness(policy: OpenBrokerPolicy())
        let (ab, _) = h.connect("ab")
        _ = h.subscribe(ab, "a/b")
        let (ac, _) = h.connect("ac")
        _ = h.subscribe(ac, "a/c")
        let (pub, _) = h.connect("pub")
        h.publish(pub, "a/b", "1")
        h.publish(pub, "a/c", "2")
        h.publish(pub, "a/c", "3")
        #expect(h.publishes(ab).map(\.text) == ["1"])
        #expect(h.publishes(ac).map(\.text) == ["2", "3"])
    }
}
