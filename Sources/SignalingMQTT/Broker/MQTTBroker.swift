public import NIOCore

/// A sans-IO MQTT 3.1.1 / 5.0 broker.
///
/// The transport reports connections and bytes with the current time; the broker answers
/// through ``pollOutput()`` (bytes to send, connections to close, credentials to check) and
/// ``nextTimeout()``. It never touches a socket or a clock, so TCP, WebSocket and tests all
/// drive the same core.
public struct MQTTBroker<Policy: MQTTBrokerPolicy>: Sendable {
    public typealias Identity = Policy.Identity

    public let configuration: MQTTBrokerConfiguration
    public let policy: Policy
    public internal(set) var statistics = MQTTBrokerStatistics()

    var connections: [MQTTConnectionID: MQTTConnectionState] = [:]
    var sessions: [String: MQTTSession<Identity>] = [:]
    var subscriptions = SubscriptionTrie<String, MQTTStoredSubscription>()
    var retained = MQTTRetainedStore<MQTTMessage>()
    var outputs: [MQTTBrokerOutput] = []
    var outputHead = 0
    /// A lower bound on the next deadline; see ``nextTimeout()``.
    var timerHint: NIODeadline?
    /// While one message fans out: its QoS 0 encodings by protocol version and retain flag, so
    /// that each is encoded once rather than once per subscriber.
    var fanOutEncodings: [Int: ByteBuffer]?

    public init(configuration: MQTTBrokerConfiguration = .init(), policy: Policy) {
        self.configuration = configuration
        self.policy = policy
    }

    // MARK: Transport events

    /// A transport accepted a connection.
    public mutating func connectionOpened(_ id: MQTTConnectionID, now: NIODeadline) {
        connections[id] = MQTTConnectionState(
            id: id, phase: .awaitingConnect(deadline: now + configuration.connectTimeout),
            decoder: MQTTPacketDecoder(maximumPacketSize: configuration.maximumPacketSize), lastReceived: now)
        noteDeadline(now + configuration.connectTimeout)
    }

    /// Bytes arrived on a connection. Every whole packet is processed; a partial packet is kept
    /// until the rest arrives (the decoder never trusts a length: oversized packets fail early).
    public mutating func receive(_ id: MQTTConnectionID, _ bytes: inout ByteBuffer, now: NIODeadline) {
        guard var connection = connections[id] else { return }
        if case .closed = connection.phase { return }
        connection.lastReceived = now
        var buffer: ByteBuffer
        if connection.pendingBytes.readableBytes > 0 {
            buffer = connection.pendingBytes
            buffer.writeBuffer(&bytes)
            connection.pendingBytes = ByteBuffer()
        } else {
            buffer = bytes
            bytes.moveReaderIndex(to: bytes.writerIndex)
        }
        while true {
            let packet: MQTTPacket?
            do {
                packet = try connection.decoder.decode(buffer: &buffer)
            } catch {
                connections[id] = connection
                statistics.malformedPackets += 1
                emit(.event(.malformed(id, description: "\(error)", reason: error.reasonCode)))
                refuseOrDisconnect(id, reason: error.reasonCode, now: now)
                return
            }
            guard let packet else { break }
            connections[id] = connection
            handle(packet, on: id, now: now)
            guard let updated = connections[id] else { return }
            if case .closed = updated.phase { return }
            connection = updated
        }
        if buffer.readableBytes > 0 {
            buffer.discardReadBytes()
            connection.pendingBytes = buffer
        }
        connections[id] = connection
    }

    /// The transport's connection ended (EOF, error, or after a ``MQTTBrokerOutput/close(_:)``).
    public mutating func connectionClosed(_ id: MQTTConnectionID, now: NIODeadline) {
        guard let connection = connections.removeValue(forKey: id) else { return }
        if case .connected(let clientID) = connection.phase {
            endConnection(connection, clientID: clientID, reason: connection.disconnectedCleanly ? .success : .unspecifiedError, now: now)
        }
    }

    /// The socket's send buffer filled up (false) or drained (true). While not writable, messages
    /// wait in the session queue; if it overflows the client is disconnected.
    public mutating func connectionWritabilityChanged(_ id: MQTTConnectionID, isWritable: Bool, now: NIODeadline) {
        guard let connection = connections[id] else { return }
        connection.isWritable = isWritable
        connections[id] = connection
        if isWritable, case .connected(let clientID) = connection.phase {
            drainQueue(clientID: clientID, now: now)
        }
    }

    /// The result of an ``MQTTBrokerOutput/authenticate(_:_:)`` request.
    public mutating func completeAuthentication(_ id: MQTTConnectionID, accepted: Result<Void, MQTTReasonCode>, now: NIODeadline) {
        guard let connection = connections[id], case .authenticating(let connect, _) = connection.phase else { return }
        switch accepted {
        case .success:
            accept(connect, on: id, now: now)
        case .failure(let reason):
            statistics.authenticationFailures += 1
            refuse(id, clientID: connect.clientID, reason: reason)
        }
    }

    /// Publishes a message as the server itself (no ACL; e.g. `server/ice-servers`).
    public mutating func publish(
        topic: String, payload: ByteBuffer, qos: MQTTQoS = .atMostOnce, retain: Bool = false, now: NIODeadline
    ) throws(MQTTTopicError) {
        let name = try MQTTTopicName(topic)
        let message = MQTTMessage(topic: name.value, payload: payload, qos: qos, retain: retain, properties: MQTTProperties(), expiresAt: nil)
        if retain { storeRetained(message, topic: name, from: nil) }
        route(message, topic: name, from: nil, now: now)
    }

    /// The next output, if any.
    public mutating func pollOutput() -> MQTTBrokerOutput? {
        guard outputHead < outputs.count else {
            if !outputs.isEmpty {
                outputs.removeAll(keepingCapacity: true)
                outputHead = 0
            }
            return nil
        }
        let output = outputs[outputHead]
        outputHead += 1
        return output
    }

    // MARK: Queries

    /// Client ids of connected clients, by kind.
    public var connectedClients: [String: Int] {
        var counts: [String: Int] = [:]
        for session in sessions.values where session.connection != nil {
            counts[policy.kind(of: session.identity), default: 0] += 1
        }
        return counts
    }

    public var sessionCount: Int { sessions.count }
    public var retainedCount: Int { retained.count }

    /// The retained messages whose topics match `filter`, as topic and payload.
    public func retainedPayloads(matching filter: MQTTTopicFilter) -> [(topic: String, payload: ByteBuffer)] {
        retained.matching(filter).map { ($0.message.topic, $0.message.payload) }
    }

    // MARK: Internals shared by the extensions

    mutating func emit(_ output: MQTTBrokerOutput) { outputs.append(output) }

    /// Encodes and queues a packet for a connection; packets too large for the client are skipped.
    @discardableResult
    mutating func send(_ packet: MQTTPacket, to id: MQTTConnectionID, fanOutKey: Int? = nil) -> Bool {
        guard let connection = connections[id] else { return false }
        let key = fanOutKey.map { $0 * 8 + Int(connection.version.rawValue) }
        var buffer: ByteBuffer
        if let key, let cached = fanOutEncodings?[key] {
            buffer = cached
        } else {
            buffer = ByteBuffer()
            do {
                try packet.encode(into: &buffer, version: connection.version)
            } catch {
                emit(.event(.protocolViolation(id, description: "could not encode \(packet): \(error)", reason: .implementationSpecificError)))
                return false
            }
            if let key { fanOutEncodings?[key] = buffer }
        }
        // MQTT 5.0 §3.1.2.11.4: never send a packet larger than the client's Maximum Packet Size.
        guard buffer.readableBytes <= connection.clientMaximumPacketSize else { return false }
        emit(.send(id, buffer))
        return true
    }

    mutating func close(_ id: MQTTConnectionID, now: NIODeadline) {
        guard let connection = connections[id] else { return }
        if case .closed = connection.phase { return }
        let previous = connection.phase
        connection.phase = .closed
        connections[id] = connection
        emit(.close(id))
        if case .connected(let clientID) = previous {
            endConnection(connection, clientID: clientID, reason: connection.disconnectedCleanly ? .success : .unspecifiedError, now: now)
        }
    }
}
