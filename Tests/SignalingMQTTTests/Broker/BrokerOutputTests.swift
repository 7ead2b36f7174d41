import NIOCore
import SignalingMQTT
import Testing

/// How the broker hands its bytes to the transport: one send per connection per round, in
/// order, before a close; fanned-out QoS 1 copies each with their own packet identifier.
@Suite struct BrokerOutputTests {
    typealias Broker = MQTTBroker<OpenBrokerPolicy>
    static let now = NIODeadline.uptimeNanoseconds(1_000_000_000)

    /// Drains the outputs, answering authentication requests with success.
    static func drain(_ broker: inout Broker) -> [MQTTBrokerOutput] {
        var outputs: [MQTTBrokerOutput] = []
        while let output = broker.pollOutput() {
            if case .authenticate(let id, _) = output {
                broker.completeAuthentication(id, accepted: .success(()), now: now)
            }
            outputs.append(output)
        }
        return outputs
    }

    static func bytes(_ packets: [MQTTPacket], version: MQTTProtocolVersion) -> ByteBuffer {
        var buffer = ByteBuffer()
        for packet in packets { try! packet.encode(into: &buffer, version: version) }
        return buffer
    }

    static func connect(_ broker: inout Broker, _ id: UInt64, _ clientID: String, version: MQTTProtocolVersion, subscribe filter: String? = nil) -> MQTTConnectionID {
        let connection = MQTTConnectionID(id)
        broker.connectionOpened(connection, now: now)
        var input = bytes([.connect(MQTTConnect(version: version, cleanStart: true, keepAlive: 0, clientID: clientID))], version: version)
        broker.receive(connection, &input, now: now)
        _ = drain(&broker)
        if let filter {
            let options = MQTTSubscriptionOptions(qos: .atLeastOnce, noLocal: false, retainAsPublished: false, retainHandling: 0)
            var subscribe = bytes([.subscribe(MQTTSubscribe(packetID: 1, subscriptions: [MQTTSubscription(filter: filter, options: options)], properties: MQTTProperties()))], version: version)
            broker.receive(connection, &subscribe, now: now)
            _ = drain(&broker)
        }
        return connection
    }

    static func decode(_ buffer: ByteBuffer, version: MQTTProtocolVersion) -> [MQTTPacket] {
        var buffer = buffer
        var decoder = MQTTPacketDecoder(version: version)
        var packets: [MQTTPacket] = []
        while let packet = try! decoder.decode(buffer: &buffer) { packets.append(packet) }
        #expect(buffer.readableBytes == 0)
        return packets
    }

    static func publish(_ text: String, packetID: UInt16) -> MQTTPacket {
        .publish(MQTTPublish(topic: "t/x", payload: ByteBuffer(string: text), qos: .atLeastOnce, packetID: packetID))
    }

    @Test(arguments: [MQTTProtocolVersion.v3_1_1, .v5])
    func everyPacketOfOneRoundForAConnectionComesOutAsOneSendInOrder(version: MQTTProtocolVersion) {
        var broker = Broker(policy: OpenBrokerPolicy())
        let first = Self.connect(&broker, 1, "first", version: version, subscribe: "t/+")
        let second = Self.connect(&broker, 2, "second", version: .v5, subscribe: "t/#")
        let publisher = Self.connect(&broker, 3, "publisher", version: version)
        var input = Self.bytes((1...3).map { Self.publish("m\($0)", packetID: UInt16(10 + $0)) }, version: version)
        broker.receive(publisher, &input, now: Self.now)
        let outputs = Self.drain(&broker)
        var sends: [MQTTConnectionID: [ByteBuffer]] = [:]
        for case .send(let id, let buffer) in outputs { sends[id, default: []].append(buffer) }
        #expect(sends.count == 3)
        #expect(sends.values.allSatisfy { $0.count == 1 })
        for (id, subscriberVersion) in [(first, version), (second, MQTTProtocolVersion.v5)] {
            let packets = Self.decode(sends[id]?.first ?? ByteBuffer(), version: subscriberVersion)
            let publishes = packets.compactMap { packet -> MQTTPublish? in
                if case .publish(let publish) = packet { publish } else { nil }
            }
            #expect(publishes.map { String(buffer: $0.payload) } == ["m1", "m2", "m3"])
            #expect(publishes.map(\.topic) == ["t/x", "t/x", "t/x"])
            #expect(publishes.map(\.qos) == [.atLeastOnce, .atLeastOnce, .atLeastOnce])
            #expect(Set(publishes.compactMap(\.packetID)).count == 3)
        }
        let acks = Self.decode(sends[publisher]?.first ?? ByteBuffer(), version: version)
        #expect(acks == (11...13).map { .pubAck(MQTTAck(packetID: $0)) })
    }

    @Test func fannedOutQoS1CopiesCarryEachSubscribersOwnPacketIdentifier() {
        var broker = Broker(policy: OpenBrokerPolicy())
        let early = Self.connect(&broker, 1, "early", version: .v3_1_1, subscribe: "t/+")
        let publisher = Self.connect(&broker, 2, "publisher", version: .v5)
        // `early` gets one message (packet id 1) that it does not acknowledge.
        var one = Self.bytes([Self.publish("before", packetID: 1)], version: .v5)
        broker.receive(publisher, &one, now: Self.now)
        _ = Self.drain(&broker)
        let late = Self.connect(&broker, 3, "late", version: .v3_1_1, subscribe: "t/+")
        var two = Self.bytes([Self.publish("shared", packetID: 2)], version: .v5)
        broker.receive(publisher, &two, now: Self.now)
        var got: [MQTTConnectionID: MQTTPublish] = [:]
        for case .send(let id, let buffer) in Self.drain(&broker) where id != publisher {
            for case .publish(let publish) in Self.decode(buffer, version: .v3_1_1) { got[id] = publish }
        }
        #expect(got[early]?.packetID == 2)
        #expect(got[late]?.packetID == 1)
        #expect(got[early].map { String(buffer: $0.payload) } == "shared")
        #expect(got[late].map { String(buffer: $0.payload) } == "shared")
        // Acknowledging with those ids releases exactly those deliveries: nothing is resent.
        var ack = Self.bytes([.pubAck(MQTTAck(packetID: 1))], version: .v3_1_1)
        broker.receive(late, &ack, now: Self.now)
        #expect(Self.drain(&broker).isEmpty)
    }

    @Test func aRefusedConnectionGetsItsConnAckBeforeTheClose() {
        var broker = Broker(policy: OpenBrokerPolicy())
        let id = MQTTConnectionID(1)
        broker.connectionOpened(id, now: Self.now)
        // MQTT 3.1.1 §3.1.3.1: an empty client id without a clean session is refused.
        var input = Self.bytes([.connect(MQTTConnect(version: .v3_1_1, cleanStart: false, keepAlive: 0, clientID: ""))], version: .v3_1_1)
        broker.receive(id, &input, now: Self.now)
        let order = Self.drain(&broker).compactMap { output -> String? in
            switch output {
            case .send(let target, _) where target == id: "send"
            case .close(let target) where target == id: "close"
            default: nil
            }
        }
        #expect(order == ["send", "close"])
    }
}
