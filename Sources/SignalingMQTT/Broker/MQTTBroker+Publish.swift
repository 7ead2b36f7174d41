import NIOCore

extension MQTTBroker {
    /// Packets after CONNACK (MQTT 5.0 §3.3–§3.15).
    mutating func handleConnected(_ packet: MQTTPacket, clientID: String, on id: MQTTConnectionID, now: NIODeadline) {
        switch packet {
        case .connect:
            // MQTT 5.0 §3.1.0-2: a second CONNECT is a protocol error.
            violation(id, "second CONNECT", reason: .protocolError, now: now)
        case .publish(let publish):
            handlePublish(publish, clientID: clientID, on: id, now: now)
        case .pubAck(let ack):
            releaseInflight(clientID: clientID, packetID: ack.packetID, expecting: .awaitingAck, now: now)
        case .pubRec(let ack):
            guard let session = sessions[clientID], var inflight = session.inflight[ack.packetID], inflight.stage == .awaitingAck else {
                send(.pubRel(MQTTAck(packetID: ack.packetID, reasonCode: .packetIdentifierNotFound, properties: MQTTProperties())), to: id)
                return
            }
            if ack.reasonCode.isFailure {
                session.inflight[ack.packetID] = nil
                sessions[clientID] = session
                drainQueue(clientID: clientID, now: now)
                return
            }
            inflight.stage = .awaitingComp
            session.inflight[ack.packetID] = inflight
            sessions[clientID] = session
            send(.pubRel(MQTTAck(packetID: ack.packetID, reasonCode: .success, properties: MQTTProperties())), to: id)
        case .pubComp(let ack):
            releaseInflight(clientID: clientID, packetID: ack.packetID, expecting: .awaitingComp, now: now)
        case .pubRel(let ack):
            // MQTT 5.0 §4.3.3: complete an inbound QoS 2 exchange.
            var reason = MQTTReasonCode.success
            if let session = sessions[clientID] {
                if session.inboundQoS2.remove(ack.packetID) != nil {
                    if let connection = connections[id] {
                        connection.inboundUnacked = max(0, connection.inboundUnacked - 1)
                        connections[id] = connection
                    }
                } else {
                    reason = .packetIdentifierNotFound
                }
                sessions[clientID] = session
            }
            send(.pubComp(MQTTAck(packetID: ack.packetID, reasonCode: reason, properties: MQTTProperties())), to: id)
        case .subscribe(let subscribe):
            handleSubscribe(subscribe, clientID: clientID, on: id, now: now)
        case .unsubscribe(let unsubscribe):
            handleUnsubscribe(unsubscribe, clientID: clientID, on: id)
        case .pingReq:
            send(.pingResp, to: id)
        case .disconnect(let disconnect):
            handleDisconnect(disconnect, clientID: clientID, on: id, now: now)
        case .connAck, .subAck, .unsubAck, .pingResp, .auth:
            violation(id, "unexpected packet from a client", reason: .protocolError, now: now)
        }
    }

    private mutating func handleDisconnect(_ disconnect: MQTTDisconnect, clientID: String, on id: MQTTConnectionID, now: NIODeadline) {
        guard let connection = connections[id], let session = sessions[clientID] else { return }
        if let expiry = disconnect.properties.sessionExpiryInterval {
            // MQTT 5.0 §3.14.2.2.2: a session that was to end at disconnect cannot be extended here.
            if session.expiryInterval == 0 && expiry != 0 {
                violation(id, "session expiry set at DISCONNECT", reason: .protocolError, now: now)
                return
            }
            session.expiryInterval = min(expiry, configuration.maximumSessionExpiry)
            sessions[clientID] = session
        }
        // MQTT 5.0 §3.14.2.1: reason 0x04 asks for the will; any other DISCONNECT discards it.
        connection.disconnectedCleanly = disconnect.reasonCode != .disconnectWithWillMessage
        connections[id] = connection
        close(id, now: now)
    }

    private mutating func handlePublish(_ incoming: MQTTPublish, clientID: String, on id: MQTTConnectionID, now: NIODeadline) {
        guard let connection = connections[id], let session = sessions[clientID] else { return }
        let identity = identity(of: session)
        var publish = incoming
        // MQTT 5.0 §3.3.2.3.4: topic aliases.
        if let alias = publish.properties.topicAlias {
            guard alias != 0, alias <= configuration.topicAliasMaximum else {
                violation(id, "topic alias \(alias) out of range", reason: .topicAliasInvalid, now: now)
                return
            }
            if publish.topic.isEmpty {
                guard let topic = connection.topicAliases[alias] else {
                    violation(id, "unknown topic alias \(alias)", reason: .protocolError, now: now)
                    return
                }
                publish.topic = topic
            } else {
                connection.topicAliases[alias] = publish.topic
            }
            publish.properties.topicAlias = nil
        }
        guard let topic = try? MQTTTopicName(publish.topic), !topic.value.isEmpty else {
            violation(id, "invalid topic name", reason: .topicNameInvalid, now: now)
            return
        }
        if publish.qos != .atMostOnce {
            // MQTT 5.0 §3.3.4-7: more unacknowledged QoS 1/2 publishes than our Receive Maximum.
            if connection.inboundUnacked >= Int(configuration.receiveMaximum) && connection.version == .v5 {
                violation(id, "receive maximum exceeded", reason: .receiveMaximumExceeded, now: now)
                return
            }
        }
        statistics.messagesReceived += 1

        let allowed = policy.mayPublish(identity, topic: topic)
        if !allowed {
            statistics.publishesRefused += 1
            emit(.event(.publishRefused(id, clientID: clientID, topic: topic.value)))
        }
        let refusal: MQTTReasonCode = connection.version == .v5 ? .notAuthorized : .success

        switch publish.qos {
        case .atMostOnce:
            guard allowed else { return }
            // A plain message (no retain flag, no properties, so no topic alias): the next one
            // to this topic may take the short path (MQTT 5.0 §3.3.1, §3.3.2.3).
            let plain = configuration.forwardsRepeatedMessages && !incoming.retain && !incoming.dup && incoming.properties.isEmpty
            accept(publish, topic: topic, identity: identity, clientID: clientID, on: id, recordingRoute: plain, now: now)
        case .atLeastOnce:
            if allowed { accept(publish, topic: topic, identity: identity, clientID: clientID, on: id, now: now) }
            send(.pubAck(MQTTAck(packetID: publish.packetID ?? 0, reasonCode: allowed ? .success : refusal, properties: MQTTProperties())), to: id)
        case .exactlyOnce:
            let packetID = publish.packetID ?? 0
            guard let session = sessions[clientID] else { return }
            if !allowed {
                send(.pubRec(MQTTAck(packetID: packetID, reasonCode: refusal, properties: MQTTProperties())), to: id)
                return
            }
            // A retransmission of a PUBLISH we already hold is not delivered twice (§4.3.3).
            if !session.inboundQoS2.contains(packetID) {
                session.inboundQoS2.insert(packetID)
                sessions[clientID] = session
                if let updated = connections[id] {
                    updated.inboundUnacked += 1
                    connections[id] = updated
                }
                accept(publish, topic: topic, identity: identity, clientID: clientID, on: id, now: now)
            }
            send(.pubRec(MQTTAck(packetID: packetID, reasonCode: .success, properties: MQTTProperties())), to: id)
        }
    }

    /// An authorised publish: retain it if asked, then route it.
    /// - Parameter recordingRoute: record the route for the publisher's next plain message
    ///   (see ``recordForwardRoute(_:topic:targets:)``).
    private mutating func accept(
        _ publish: MQTTPublish, topic: MQTTTopicName, identity: Identity, clientID: String, on id: MQTTConnectionID,
        recordingRoute: Bool = false, now: NIODeadline
    ) {
        let expiresAt = publish.properties.messageExpiryInterval.map { now + .seconds(Int64($0)) }
        let message = MQTTMessage(
            topic: topic.value, payload: publish.payload, qos: publish.qos, retain: publish.retain,
            properties: publish.properties, expiresAt: expiresAt)
        if publish.retain {
            storeRetained(message, topic: topic, from: id)
            if policy.clearsRetainedOnDisconnect(identity, topic: topic), let connection = connections[id] {
                if publish.payload.readableBytes == 0 {
                    connection.retainedToClear.remove(topic.value)
                } else {
                    connection.retainedToClear.insert(topic.value)
                }
                connections[id] = connection
            }
        }
        route(message, topic: topic, from: clientID, recordingRouteOf: recordingRoute ? connections[id] : nil, now: now)
    }

    /// MQTT 5.0 §3.3.1.3: an empty retained payload clears the topic.
    mutating func storeRetained(_ message: MQTTMessage, topic: MQTTTopicName, from id: MQTTConnectionID?) {
        if message.payload.readableBytes == 0 {
            retained.remove(topic)
        } else {
            retained.set(topic, message)
        }
    }

    /// Delivers a message to every matching subscription (MQTT 5.0 §4.5, §4.7).
    /// - Parameter recordingRouteOf: the publisher's connection, to record where this message
    ///   went for its next one (see ``recordForwardRoute(_:topic:targets:)``).
    mutating func route(
        _ message: MQTTMessage, topic: MQTTTopicName, from publisher: String?,
        recordingRouteOf connection: MQTTConnectionState? = nil, now: NIODeadline
    ) {
        // Overlapping subscriptions of one client: one delivery at the highest QoS, with every
        // subscription identifier (MQTT 5.0 §3.3.4-2 and §3.3.4-3).
        // A session seen twice for one message is found by its mark, not by a dictionary.
        routeEpoch &+= 1
        let epoch = routeEpoch
        var targets: [(session: MQTTSession, qos: MQTTQoS, retainAsPublished: Bool, identifiers: [Int])] = []
        for (subscriber, _, stored) in subscriptions.matches(topic) {
            if stored.options.noLocal && subscriber == publisher { continue }
            guard let session = sessions[subscriber] else { continue }
            if session.routeMark == epoch, let index = targets.firstIndex(where: { $0.session === session }) {
                targets[index].qos = max(targets[index].qos, stored.options.qos)
                targets[index].retainAsPublished = targets[index].retainAsPublished || stored.options.retainAsPublished
                if let identifier = stored.identifier { targets[index].identifiers.append(identifier) }
                continue
            }
            session.routeMark = epoch
            targets.append((session, stored.options.qos, stored.options.retainAsPublished, stored.identifier.map { [$0] } ?? []))
        }
        fanOutEncodings = []
        defer { fanOutEncodings = nil }
        for target in targets where !target.session.isDiscarded {
            let queued = MQTTQueuedMessage(
                message: message, qos: min(message.qos, target.qos),
                retain: target.retainAsPublished && message.retain, subscriptionIdentifiers: target.identifiers)
            deliver(queued, to: target.session, now: now)
        }
        if let connection { recordForwardRoute(connection, topic: message.topic, targets: targets) }
    }

    /// Sends now if the client can take it, else queues within the session's bound.
    mutating func deliver(_ queued: MQTTQueuedMessage, to clientID: String, now: NIODeadline) {
        guard let session = sessions[clientID] else { return }
        deliver(queued, to: session, now: now)
    }

    mutating func deliver(_ queued: MQTTQueuedMessage, to target: MQTTSession, now: NIODeadline) {
        var session = target
        let clientID = session.clientID
        let connectionID = session.connection
        let connection = connectionID.flatMap { connections[$0] }
        let canSendNow = connection.map { state in
            state.isWritable && session.queuedCount == 0
                && (queued.qos == .atMostOnce || session.inflight.count < state.clientReceiveMaximum)
        } ?? false
        if canSendNow, let connectionID {
            transmit(queued, session: &session, on: connectionID, connection: connection, now: now)
            return
        }
        // Offline sessions keep only QoS 1/2 messages (MQTT 5.0 §4.1: QoS 0 may be dropped).
        if connection == nil && queued.qos == .atMostOnce { return }
        if session.queuedCount >= configuration.maximumQueuedMessages {
            statistics.messagesDropped += 1
            emit(.event(.messageDropped(clientID: clientID)))
            sessions[clientID] = session
            if let connectionID, connection != nil {
                statistics.slowClientsDisconnected += 1
                emit(.event(.slowClientDisconnected(connectionID, clientID: clientID)))
                disconnect(connectionID, reason: .quotaExceeded, now: now)
            }
            return
        }
        session.enqueue(queued)
    }

    /// Writes one PUBLISH; QoS 1/2 get a packet id and wait for their acknowledgement.
    mutating func transmit(
        _ queued: MQTTQueuedMessage, session: inout MQTTSession, on id: MQTTConnectionID, connection known: MQTTConnectionState? = nil,
        now: NIODeadline
    ) {
        if let expiresAt = queued.message.expiresAt, expiresAt <= now {
            // MQTT 5.0 §3.3.2.3.3: drop what has expired.
            return
        }
        var packetID: UInt16?
        if queued.qos != .atMostOnce {
            guard let id = session.allocatePacketID() else { return }
            packetID = id
            session.inflight[id] = MQTTInflight(queued: queued, stage: .awaitingAck)
        }
        guard let connection = known ?? connections[id] else { return }
        let makePublish = { () -> MQTTPublish in
            var properties = queued.message.properties
            properties.topicAlias = nil
            properties.subscriptionIdentifiers = queued.subscriptionIdentifiers
            if let expiresAt = queued.message.expiresAt {
                // MQTT 5.0 §3.3.2.3.3: forward the remaining lifetime.
                properties.messageExpiryInterval = UInt32((expiresAt - now).nanoseconds / 1_000_000_000)
            }
            return MQTTPublish(
                topic: queued.message.topic, payload: queued.message.payload, qos: queued.qos, retain: queued.retain,
                dup: false, packetID: packetID, properties: properties)
        }
        // Copies of one message differ only by version, QoS, retain flag and packet identifier
        // (unless they carry subscription identifiers or a remaining lifetime).
        let sent: Bool
        if queued.subscriptionIdentifiers.isEmpty && queued.message.expiresAt == nil {
            let key = Int(queued.qos.rawValue) &* 2 &+ (queued.retain ? 1 : 0)
            sent = sendFanOut(key: key, packetID: packetID, to: connection, makePublish)
        } else {
            sent = send(.publish(makePublish()), to: connection)
        }
        if sent { statistics.messagesDelivered += 1 }
    }

    mutating func releaseInflight(clientID: String, packetID: UInt16, expecting stage: MQTTInflight.Stage, now: NIODeadline) {
        guard let session = sessions[clientID] else { return }
        releaseInflight(session, packetID: packetID, expecting: stage, now: now)
    }

    mutating func releaseInflight(_ session: MQTTSession, packetID: UInt16, expecting stage: MQTTInflight.Stage, now: NIODeadline) {
        let clientID = session.clientID
        if let inflight = session.inflight[packetID], inflight.stage == stage {
            session.inflight[packetID] = nil
            if session.queuedCount > 0 { drainQueue(clientID: clientID, now: now) }
        }
    }

    /// Sends queued messages while the client can take them.
    mutating func drainQueue(clientID: String, now: NIODeadline) {
        guard var session = sessions[clientID], let id = session.connection, var connection = connections[id] else { return }
        while connection.isWritable, session.queuedCount > 0 {
            guard let next = session.queue.dropFirst(session.queueHead).first else { break }
            if next.qos != .atMostOnce && session.inflight.count >= connection.clientReceiveMaximum { break }
            _ = session.dequeue()
            transmit(next, session: &session, on: id, connection: connection, now: now)
            connection = connections[id] ?? connection
        }
    }

    /// After a reconnect, unacknowledged messages go out again with DUP (MQTT 5.0 §4.4).
    mutating func resendInflight(clientID: String) {
        guard let session = sessions[clientID], let id = session.connection else { return }
        for (packetID, inflight) in session.inflight.sorted(by: { $0.key < $1.key }) {
            switch inflight.stage {
            case .awaitingAck:
                let queued = inflight.queued
                let publish = MQTTPublish(
                    topic: queued.message.topic, payload: queued.message.payload, qos: queued.qos, retain: queued.retain,
                    dup: true, packetID: packetID, properties: queued.message.properties)
                send(.publish(publish), to: id)
            case .awaitingComp:
                send(.pubRel(MQTTAck(packetID: packetID, reasonCode: .success, properties: MQTTProperties())), to: id)
            }
        }
    }
}
