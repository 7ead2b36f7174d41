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
    var sessions: [String: MQTTSession] = [:]
    var subscriptions = SubscriptionTrie<String, MQTTStoredSubscription>()
    var retained = MQTTRetainedStore<MQTTMessage>()
    var outputs: [MQTTBrokerOutput] = []
    var outputHead = 0
    /// Connections whose ``MQTTConnectionState/outgoing`` bytes wait for ``pollOutput()``, in the
    /// order they first got some since the last drain.
    var withOutgoing: [MQTTConnectionState] = []
    var withOutgoingHead = 0
    /// A lower bound on the next deadline; see ``nextTimeout()``.
    var timerHint: NIODeadline?
    /// While one message fans out: its encodings by QoS, retain flag and protocol version, so
    /// that each is encoded once rather than once per subscriber (QoS 1/2 copies differ only in
    /// their packet identifier, patched in per subscriber). At most a handful of entries.
    var fanOutEncodings: [MQTTFanOutEncoding]?
    /// Counts routed messages; see ``MQTTSession/routeMark``.
    var routeEpoch: UInt64 = 0
    /// Counts changes to what decides where messages go; see ``forwardIfRouted(_:_:)``.
    var forwardEpoch: UInt64 = 0
    /// Messages that took the forward route (for tests).
    var forwardedMessages = 0

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
        let continuesPending = connection.pendingBytes.readableBytes > 0
        if continuesPending {
            buffer = connection.pendingBytes
            connection.pendingBytes = ByteBuffer()  // so that appending does not copy
            buffer.writeBuffer(&bytes)
        } else {
            buffer = bytes
            bytes.moveReaderIndex(to: bytes.writerIndex)
        }
        while true {
            if connection.forward != nil, forwardIfRouted(connection, &buffer) { continue }
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
            handle(packet, on: id, now: now)
            guard let updated = connections[id] else { return }
            if case .closed = updated.phase { return }
            connection = updated
        }
        if buffer.readableBytes > 0 {
            if continuesPending {
                buffer.discardReadBytes()
                connection.pendingBytes = buffer
            } else {
                // Copy the partial packet out rather than keep the transport's (larger, maybe
                // pooled) receive buffer alive.
                var rest = ByteBufferAllocator().buffer(capacity: buffer.readableBytes)
                rest.writeBuffer(&buffer)
                connection.pendingBytes = rest
            }
        }
    }

    /// The transport's connection ended (EOF, error, or after a ``MQTTBrokerOutput/close(_:)``).
    public mutating func connectionClosed(_ id: MQTTConnectionID, now: NIODeadline) {
        guard let connection = connections.removeValue(forKey: id) else { return }
        invalidateForwardRoutes()
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
        invalidateForwardRoutes()
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
    ///
    /// All packets for one connection since the last drain come as one ``MQTTBrokerOutput/send(_:_:)``
    /// (in order, and before a ``MQTTBrokerOutput/close(_:)`` of that connection), so that a
    /// transport writes each connection once per processing round.
    public mutating func pollOutput() -> MQTTBrokerOutput? {
        if outputHead < outputs.count {
            let output = outputs[outputHead]
            outputHead += 1
            return output
        }
        while withOutgoingHead < withOutgoing.count {
            let connection = withOutgoing[withOutgoingHead]
            withOutgoingHead += 1
            connection.hasOutgoing = false
            guard connection.outgoing.readableBytes > 0 else { continue }
            let bytes = connection.outgoing
            connection.outgoing = ByteBuffer()
            return .send(connection.id, bytes)
        }
        if !outputs.isEmpty {
            outputs.removeAll(keepingCapacity: true)
            outputHead = 0
        }
        if !withOutgoing.isEmpty {
            withOutgoing.removeAll(keepingCapacity: true)
            withOutgoingHead = 0
        }
        return nil
    }

    // MARK: Queries

    /// Client ids of connected clients, by kind.
    public var connectedClients: [String: Int] {
        var counts: [String: Int] = [:]
        for session in sessions.values where session.connection != nil {
            counts[policy.kind(of: identity(of: session)), default: 0] += 1
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

    /// The policy identity a session was created with.
    func identity(of session: MQTTSession) -> Identity {
        // Sessions are created only by `accept(_:on:now:)`, from `policy.identity(for:)`.
        session.identityValue as! Identity
    }

    mutating func emit(_ output: MQTTBrokerOutput) { outputs.append(output) }

    /// Encodes and queues a packet for a connection; packets too large for the client are skipped.
    @discardableResult
    mutating func send(_ packet: MQTTPacket, to id: MQTTConnectionID) -> Bool {
        guard let connection = connections[id] else { return false }
        return send(packet, to: connection)
    }

    /// Encodes a packet straight into the connection's outgoing bytes.
    @discardableResult
    mutating func send(_ packet: MQTTPacket, to connection: MQTTConnectionState) -> Bool {
        let start = connection.outgoing.writerIndex
        do {
            try packet.encode(into: &connection.outgoing, version: connection.version)
        } catch {
            emit(.event(.protocolViolation(connection.id, description: "could not encode \(packet): \(error)", reason: .implementationSpecificError)))
            return false
        }
        // MQTT 5.0 §3.1.2.11.4: never send a packet larger than the client's Maximum Packet Size.
        guard connection.outgoing.writerIndex - start <= connection.clientMaximumPacketSize else {
            connection.outgoing.moveWriterIndex(to: start)
            return false
        }
        noteOutgoing(connection)
        return true
    }

    /// Sends a PUBLISH that fans out: encoded once per key while ``fanOutEncodings`` is active,
    /// then copied, with the subscriber's packet identifier patched in (MQTT 5.0 §3.3.2.2).
    /// `makePublish` builds the packet only when it has to be encoded.
    mutating func sendFanOut(
        key: Int, packetID: UInt16?, to connection: MQTTConnectionState, _ makePublish: () -> MQTTPublish
    ) -> Bool {
        guard fanOutEncodings != nil else { return send(.publish(makePublish()), to: connection) }
        let fullKey = key &* 8 &+ Int(connection.version.rawValue)
        var encoding: MQTTFanOutEncoding?
        for entry in fanOutEncodings! where entry.key == fullKey {
            encoding = entry
            break
        }
        if encoding == nil {
            let publish = makePublish()
            var bytes = ByteBuffer()
            do {
                try MQTTPacket.publish(publish).encode(into: &bytes, version: connection.version)
            } catch {
                emit(.event(.protocolViolation(connection.id, description: "could not encode \(publish): \(error)", reason: .implementationSpecificError)))
                return false
            }
            // Fixed header: one type byte, then the Remaining Length (MQTT 5.0 §2.1.4); the
            // packet identifier follows the topic name (§3.3.2).
            var headerLength = 2
            while let byte = bytes.getInteger(at: headerLength - 1, as: UInt8.self), byte & 0x80 != 0 { headerLength += 1 }
            let packetIDOffset = publish.qos == .atMostOnce ? nil : headerLength + 2 + publish.topic.utf8.count
            encoding = MQTTFanOutEncoding(key: fullKey, bytes: bytes, packetIDOffset: packetIDOffset)
            fanOutEncodings!.append(encoding!)
        }
        let shared = encoding!
        guard shared.bytes.readableBytes <= connection.clientMaximumPacketSize else { return false }
        let start = connection.outgoing.writerIndex
        connection.outgoing.writeImmutableBuffer(shared.bytes)
        if let offset = shared.packetIDOffset, let packetID {
            connection.outgoing.setInteger(packetID, at: start + offset)
        }
        noteOutgoing(connection)
        return true
    }

    @inline(__always)
    mutating func noteOutgoing(_ connection: MQTTConnectionState) {
        if !connection.hasOutgoing {
            connection.hasOutgoing = true
            withOutgoing.append(connection)
        }
    }

    /// Queues a close, after the connection's outgoing bytes.
    mutating func emitClose(_ id: MQTTConnectionID) {
        if let connection = connections[id], connection.outgoing.readableBytes > 0 {
            outputs.append(.send(id, connection.outgoing))
            connection.outgoing = ByteBuffer()
        }
        emit(.close(id))
    }

    mutating func close(_ id: MQTTConnectionID, now: NIODeadline) {
        guard let connection = connections[id] else { return }
        if case .closed = connection.phase { return }
        let previous = connection.phase
        connection.phase = .closed
        invalidateForwardRoutes()
        connections[id] = connection
        emitClose(id)
        if case .connected(let clientID) = previous {
            endConnection(connection, clientID: clientID, reason: connection.disconnectedCleanly ? .success : .unspecifiedError, now: now)
        }
    }
}

/// One shared encoding of a PUBLISH while it fans out; see ``MQTTBroker/fanOutEncodings``.
struct MQTTFanOutEncoding {
    var key: Int
    var bytes: ByteBuffer
    /// Where the packet identifier sits in ``bytes`` (QoS 1 and 2).
    var packetIDOffset: Int?
}
