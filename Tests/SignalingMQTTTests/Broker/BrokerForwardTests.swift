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

/// Random traffic through two brokers, one with the forward route and one without: every
/// connection must receive the same packets, the same connections must close, and the counters
/// must agree. A seeded generator, so a failure names its seed and replays.
@Suite struct BrokerForwardDifferentialTests {
    /// The test target's SplitMix64 generator, so a failing seed replays exactly.
    typealias Generator = CodecSeededGenerator

    /// Both brokers, driven with the same operations.
    struct Pair {
        var forwarding = BrokerHarness<OpenBrokerPolicy>(
            policy: OpenBrokerPolicy(), configuration: MQTTBrokerConfiguration(maximumQueuedMessages: 8))
        var plain = BrokerHarness<OpenBrokerPolicy>(
            policy: OpenBrokerPolicy(), configuration: MQTTBrokerConfiguration(maximumQueuedMessages: 8, forwardsRepeatedMessages: false))

        mutating func both(_ body: (inout BrokerHarness<OpenBrokerPolicy>) -> Void) {
            body(&forwarding)
            body(&plain)
        }

        mutating func connect(_ clientID: String, version: MQTTProtocolVersion) -> MQTTConnectionID {
            let (a, _) = forwarding.connect(clientID, version: version, cleanStart: false)
            let (b, _) = plain.connect(clientID, version: version, cleanStart: false)
            #expect(a == b)
            return a
        }

        /// Retained messages sent on a new subscription come in the retained store's order, which
        /// is a dictionary's and differs between two brokers; live messages (RETAIN 0 here) do
        /// not. Sorts each run of RETAIN 1 messages by topic and payload.
        static func normalized(_ packets: [MQTTPacket]) -> [MQTTPacket] {
            var result: [MQTTPacket] = []
            var run: [MQTTPublish] = []
            func flush() {
                result += run.sorted { ($0.topic, $0.text) < ($1.topic, $1.text) }.map { MQTTPacket.publish($0) }
                run = []
            }
            for packet in packets {
                if case .publish(let publish) = packet, publish.retain {
                    run.append(publish)
                } else {
                    flush()
                    result.append(packet)
                }
            }
            flush()
            return result
        }

        /// Compares what each connection received since the last check (then forgets it), the
        /// closed connections and the counters; returns a description of the first difference.
        mutating func difference() -> String? {
            defer {
                forwarding.received = [:]
                plain.received = [:]
            }
            for id in Set(forwarding.received.keys).union(plain.received.keys).sorted(by: { $0.rawValue < $1.rawValue }) {
                let a = Self.normalized(forwarding.received[id] ?? [])
                let b = Self.normalized(plain.received[id] ?? [])
                if a != b {
                    let index = Array(zip(a, b)).firstIndex { $0.0 != $0.1 } ?? min(a.count, b.count)
                    let describe = { (packets: [MQTTPacket]) -> String in
                        index < packets.count ? "\(packets[index].kind) \(packets[index])".prefix(160).description : "nothing"
                    }
                    return "\(id): \(a.count) packets with the route, \(b.count) without; at \(index): \(describe(a)) / \(describe(b))"
                }
            }
            if forwarding.closed != plain.closed { return "closed \(forwarding.closed) / \(plain.closed)" }
            if forwarding.broker.statistics != plain.broker.statistics {
                return "statistics \(forwarding.broker.statistics) / \(plain.broker.statistics)"
            }
            return nil
        }
    }

    /// Mostly one topic per publisher (the route's case), its neighbours, and one topic both
    /// use. The 3.1.1 publisher's family is `a/`, the 5.0 one's `c/`; subscribers start on their
    /// own version's family, and random subscriptions mix them (a route with subscribers of two
    /// versions is not recorded).
    static let topics: [MQTTProtocolVersion: [String]] = [
        .v3_1_1: ["a/b", "a/b", "a/b", "a/b", "a/b", "a/b", "a/c", "a/b/c", "x"],
        .v5: ["c/d", "c/d", "c/d", "c/d", "c/d", "c/d", "c/e", "c/d/e", "x"],
    ]
    static let initialFilters = ["a/#", "c/#", "a/b", "c/+", "+/b", "+/d"]
    static let filters = ["#", "a/+", "a/b", "c/#", "c/d", "+/b", "x"]

    static func publishBytes(_ generator: inout Generator, version: MQTTProtocolVersion) -> ByteBuffer {
        var properties = MQTTProperties()
        if version == .v5 && generator.chance(10) { properties.messageExpiryInterval = 60 }
        let qos: MQTTQoS = generator.chance(15) ? .atLeastOnce : .atMostOnce
        let publish = MQTTPublish(
            topic: topics[version]![generator.below(topics[version]!.count)], payload: ByteBuffer(string: "m\(generator.next() % 1000)"), qos: qos,
            retain: generator.chance(5), dup: false, packetID: qos == .atMostOnce ? nil : UInt16(1 + generator.below(100)),
            properties: properties)
        var buffer = ByteBuffer()
        try! MQTTPacket.publish(publish).encode(into: &buffer, version: version)
        return buffer
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func randomTrafficGivesTheSameDeliveriesWithAndWithoutTheForwardRoute(seed: UInt64) {
        var generator = Generator(seed: seed)
        var pair = Pair()
        var subscribers: [(id: MQTTConnectionID, clientID: String, version: MQTTProtocolVersion)] = []
        for index in 0..<Self.initialFilters.count {
            let version: MQTTProtocolVersion = index % 2 == 0 ? .v3_1_1 : .v5
            let clientID = "sub\(index)"
            let id = pair.connect(clientID, version: version)
            let filter = Self.initialFilters[index]
            pair.both { _ = $0.subscribe(id, filter) }
            subscribers.append((id, clientID, version))
        }
        let publishers = [(pair.connect("pub3", version: .v3_1_1), MQTTProtocolVersion.v3_1_1), (pair.connect("pub5", version: .v5), .v5)]
        for step in 0..<400 {
            let roll = generator.below(100)
            if roll < 85 {
                // One or more publishes in one read, sometimes cut in two reads.
                let (publisher, version) = publishers[generator.below(publishers.count)]
                var bytes = ByteBuffer()
                for _ in 0...generator.below(3) {
                    var one = Self.publishBytes(&generator, version: version)
                    bytes.writeBuffer(&one)
                }
                if generator.chance(30) {
                    let cut = 1 + generator.below(bytes.readableBytes - 1)
                    let head = bytes.getSlice(at: 0, length: cut)!
                    let tail = bytes.getSlice(at: cut, length: bytes.readableBytes - cut)!
                    pair.both { $0.sendBytes(head, on: publisher) }
                    pair.both { $0.sendBytes(tail, on: publisher) }
                } else {
                    pair.both { $0.sendBytes(bytes, on: publisher) }
                }
            } else if roll < 89 {
                let subscriber = subscribers[generator.below(subscribers.count)]
                let filter = Self.filters[generator.below(Self.filters.count)]
                if generator.chance(50) {
                    pair.both { _ = $0.subscribe(subscriber.id, filter, packetID: 9) }
                } else {
                    pair.both { $0.send(.unsubscribe(MQTTUnsubscribe(packetID: 9, filters: [filter])), on: subscriber.id) }
                }
            } else if roll < 94 {
                let subscriber = subscribers[generator.below(subscribers.count)]
                let writable = generator.chance(85)
                pair.both { h in
                    h.broker.connectionWritabilityChanged(subscriber.id, isWritable: writable, now: h.now)
                    h.pump()
                }
            } else {
                // A subscriber's connection drops and comes back (its session stays).
                let index = generator.below(subscribers.count)
                let subscriber = subscribers[index]
                pair.both { $0.disconnectTransport(subscriber.id) }
                subscribers[index].id = pair.connect(subscriber.clientID, version: subscriber.version)
            }
            if let difference = pair.difference() {
                Issue.record("seed \(seed), step \(step) (operation roll \(roll)): \(difference)")
                return
            }
        }
        // The route was taken, or this test compares nothing new.
        #expect(pair.forwarding.broker.forwardedMessages > 30, "seed \(seed): only \(pair.forwarding.broker.forwardedMessages) forwarded")
        #expect(pair.plain.broker.forwardedMessages == 0)
    }
}

extension CodecSeededGenerator {
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}
