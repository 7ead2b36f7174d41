import NIOCore
import SignalingMQTT

/// Drives an ``MQTTClientStateMachine`` with simulated time, playing the transport and the
/// broker: what the client sends is decoded into packets, what the broker sends is encoded.
struct ClientHarness {
    var machine: MQTTClientStateMachine
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    /// Packets the client sent since the last ``takeSent()``.
    var sent: [MQTTPacket] = []
    var events: [MQTTClientEvent] = []
    var opens = 0
    var closes = 0
    /// Bytes the client has not consumed yet (a partial packet).
    private var inbound = ByteBuffer()
    private var serverDecoder: MQTTPacketDecoder

    var version: MQTTProtocolVersion { machine.configuration.version }

    init(_ configuration: MQTTClientStateMachine.Configuration) {
        machine = MQTTClientStateMachine(configuration: configuration)
        serverDecoder = MQTTPacketDecoder(version: configuration.version)
    }

    /// A configuration without jitter, so reconnect times are exact.
    static func configuration(
        version: MQTTProtocolVersion = .v3_1_1, keepAlive: TimeAmount = .seconds(30), will: MQTTWill? = nil
    ) -> MQTTClientStateMachine.Configuration {
        MQTTClientStateMachine.Configuration(
            clientID: "desktop:pa-desktop", username: "pa-desktop", password: Array("psk".utf8), will: will,
            keepAlive: keepAlive, version: version, backoff: MQTTReconnectBackoff(jitter: 0))
    }

    // MARK: Transport

    mutating func start() {
        try! machine.start(now: now)
        pump()
    }

    mutating func transportOpened() {
        machine.connectionOpened(now: now)
        pump()
    }

    mutating func transportClosed(_ error: MQTTClientError? = nil) {
        inbound.clear()
        machine.connectionClosed(now: now, error: error)
        pump()
    }

    /// Feeds raw bytes, keeping what the client leaves of a partial packet.
    mutating func receiveBytes(_ bytes: ByteBuffer) {
        var bytes = bytes
        inbound.writeBuffer(&bytes)
        machine.receive(&inbound, now: now)
        pump()
    }

    /// The broker sends a packet.
    mutating func receive(_ packet: MQTTPacket) {
        receiveBytes(try! packet.encoded(version: version))
    }

    /// Start (if needed), open, answer CONNECT with CONNACK; returns what the client sent after CONNECT.
    @discardableResult
    mutating func connect(sessionPresent: Bool = false, properties: MQTTProperties = MQTTProperties()) -> [MQTTPacket] {
        if machine.state == .idle || machine.state == .stopped { start() }
        if case .waitingToReconnect(let until) = machine.state { advance(to: until) }
        transportOpened()
        precondition(sent.last?.kind == .connect, "expected CONNECT, client sent \(sent)")
        sent = []
        receive(.connAck(MQTTConnAck(sessionPresent: sessionPresent, properties: properties)))
        return takeSent()
    }

    // MARK: Time

    mutating func advance(by amount: TimeAmount) {
        advance(to: now + amount)
    }

    /// Runs every timeout up to `target`, in order.
    mutating func advance(to target: NIODeadline) {
        while let deadline = machine.nextTimeout(), deadline <= target {
            now = max(now, deadline)
            machine.handleTimeout(now: now)
            pump()
        }
        now = max(now, target)
    }

    // MARK: Output

    mutating func pump() {
        while let output = machine.pollOutput() {
            switch output {
            case .openConnection:
                opens += 1
            case .closeConnection:
                closes += 1
                inbound.clear()
            case .send(var bytes):
                while let packet = try! serverDecoder.decode(buffer: &bytes) { sent.append(packet) }
                precondition(bytes.readableBytes == 0, "the client sent a partial packet")
            case .event(let event):
                events.append(event)
            }
        }
    }

    mutating func takeSent() -> [MQTTPacket] {
        defer { sent = [] }
        return sent
    }

    mutating func takeEvents() -> [MQTTClientEvent] {
        defer { events = [] }
        return events
    }

    mutating func takePublishes() -> [MQTTPublish] {
        takeSent().compactMap { if case .publish(let publish) = $0 { publish } else { nil } }
    }
}

extension MQTTPublish {
    var payloadString: String { String(buffer: payload) }
}

extension MQTTClientEvent {
    var disconnectReason: MQTTClientError.Code? {
        if case .disconnected(let reason, _) = self { reason.code } else { nil }
    }
}
