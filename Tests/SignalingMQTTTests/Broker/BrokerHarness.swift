import NIOCore
import SignalingMQTT

/// Drives an ``MQTTBroker`` with simulated time and decoded client views of its output.
struct BrokerHarness<Policy: MQTTBrokerPolicy> {
    var broker: MQTTBroker<Policy>
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    /// Packets each connection received, decoded with the connection's version.
    var received: [MQTTConnectionID: [MQTTPacket]] = [:]
    var closed: Set<MQTTConnectionID> = []
    var events: [MQTTBrokerEvent] = []
    var versions: [MQTTConnectionID: MQTTProtocolVersion] = [:]
    private var decoders: [MQTTConnectionID: MQTTPacketDecoder] = [:]
    private var nextID: UInt64 = 1
    /// Authentication answer for each CONNECT.
    var authenticate: (MQTTConnect) -> Result<Void, MQTTReasonCode> = { _ in .success(()) }

    init(policy: Policy, configuration: MQTTBrokerConfiguration = .init()) {
        broker = MQTTBroker(configuration: configuration, policy: policy)
    }

    mutating func open(version: MQTTProtocolVersion = .v5) -> MQTTConnectionID {
        let id = MQTTConnectionID(nextID)
        nextID += 1
        versions[id] = version
        decoders[id] = MQTTPacketDecoder(version: version)
        broker.connectionOpened(id, now: now)
        pump()
        return id
    }

    mutating func send(_ packet: MQTTPacket, on id: MQTTConnectionID) {
        var buffer = ByteBuffer()
        try! packet.encode(into: &buffer, version: versions[id]!)
        sendBytes(buffer, on: id)
    }

    mutating func sendBytes(_ buffer: ByteBuffer, on id: MQTTConnectionID) {
        var bytes = buffer
        broker.receive(id, &bytes, now: now)
        pump()
    }

    /// Opens a connection and completes CONNECT; returns it with the CONNACK.
    mutating func connect(
        _ clientID: String, version: MQTTProtocolVersion = .v5, cleanStart: Bool = true, keepAlive: UInt16 = 0,
        username: String? = nil, password: String? = nil, will: MQTTWill? = nil, properties: MQTTProperties = MQTTProperties()
    ) -> (MQTTConnectionID, MQTTConnAck?) {
        let id = open(version: version)
        let connect = MQTTConnect(
            version: version, cleanStart: cleanStart, keepAlive: keepAlive, clientID: clientID, username: username,
            password: password.map { Array($0.utf8) }, will: will, properties: properties)
        send(.connect(connect), on: id)
        var ack: MQTTConnAck?
        if let index = received[id]?.firstIndex(where: { if case .connAck = $0 { true } else { false } }),
            case .connAck(let found) = received[id]!.remove(at: index)
        {
            ack = found
        }
        return (id, ack)
    }

    mutating func advance(_ amount: TimeAmount) {
        let target = now + amount
        while let deadline = broker.nextTimeout(), deadline <= target {
            now = max(now, deadline)
            broker.handleTimeout(now: now)
            pump()
        }
        now = target
    }

    mutating func disconnectTransport(_ id: MQTTConnectionID) {
        broker.connectionClosed(id, now: now)
        closed.insert(id)
        pump()
    }

    /// Drains broker outputs into per-connection packet lists.
    mutating func pump() {
        while let output = broker.pollOutput() {
            switch output {
            case .send(let id, var buffer):
                var decoder = decoders[id]!
                while let packet = try! decoder.decode(buffer: &buffer) { received[id, default: []].append(packet) }
                decoders[id] = decoder
            case .close(let id):
                closed.insert(id)
                broker.connectionClosed(id, now: now)
            case .authenticate(let id, let connect):
                broker.completeAuthentication(id, accepted: authenticate(connect), now: now)
            case .event(let event):
                events.append(event)
            }
        }
    }

    /// Returns and clears what a connection received.
    mutating func take(_ id: MQTTConnectionID) -> [MQTTPacket] {
        defer { received[id] = [] }
        return received[id] ?? []
    }

    mutating func publishes(_ id: MQTTConnectionID) -> [MQTTPublish] {
        take(id).compactMap { if case .publish(let publish) = $0 { return publish } else { return nil } }
    }

    mutating func subscribe(_ id: MQTTConnectionID, _ filter: String, qos: MQTTQoS = .atMostOnce, packetID: UInt16 = 1, retainHandling: UInt8 = 0, noLocal: Bool = false) -> [MQTTReasonCode] {
        let options = MQTTSubscriptionOptions(qos: qos, noLocal: noLocal, retainAsPublished: false, retainHandling: retainHandling)
        send(.subscribe(MQTTSubscribe(packetID: packetID, subscriptions: [MQTTSubscription(filter: filter, options: options)], properties: MQTTProperties())), on: id)
        let packets = received[id] ?? []
        for (index, packet) in packets.enumerated() {
            if case .subAck(let ack) = packet {
                received[id]!.remove(at: index)
                return ack.reasonCodes
            }
        }
        return []
    }

    mutating func publish(_ id: MQTTConnectionID, _ topic: String, _ payload: String, qos: MQTTQoS = .atMostOnce, retain: Bool = false, packetID: UInt16? = nil, properties: MQTTProperties = MQTTProperties()) {
        let publish = MQTTPublish(
            topic: topic, payload: ByteBuffer(string: payload), qos: qos, retain: retain, dup: false,
            packetID: qos == .atMostOnce ? nil : (packetID ?? 1), properties: properties)
        send(.publish(publish), on: id)
    }
}

extension MQTTPublish {
    var text: String { String(buffer: payload) }
}
