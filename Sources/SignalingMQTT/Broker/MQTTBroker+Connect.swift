import NIOCore

extension MQTTBroker {
    /// Dispatches one decoded packet by connection phase.
    mutating func handle(_ packet: MQTTPacket, on id: MQTTConnectionID, now: NIODeadline) {
        guard let connection = connections[id] else { return }
        switch connection.phase {
        case .awaitingConnect:
            guard case .connect(let connect) = packet else {
                // MQTT 5.0 §3.1: the first packet must be CONNECT.
                violation(id, "first packet is not CONNECT", reason: .protocolError, now: now)
                return
            }
            handleConnect(connect, on: id, now: now)
        case .authenticating:
            // Nothing but waiting is allowed until CONNACK (MQTT 5.0 §3.1.4-5 allows pipelining,
            // but we refuse to buffer work for an unauthenticated client).
            violation(id, "packet before CONNACK", reason: .protocolError, now: now)
        case .connected(let clientID):
            // The most frequent packet at QoS 1, handled without looking the session up.
            if case .pubAck(let ack) = packet, let session = connection.session, !session.isDiscarded {
                releaseInflight(session, packetID: ack.packetID, expecting: .awaitingAck, now: now)
                return
            }
            handleConnected(packet, clientID: clientID, on: id, now: now)
        case .closed:
            return
        }
    }

    private mutating func handleConnect(_ connect: MQTTConnect, on id: MQTTConnectionID, now: NIODeadline) {
        guard let connection = connections[id] else { return }
        connection.version = connect.version
        connection.decoder.version = connect.version
        connections[id] = connection
        // MQTT 5.0 §4.12: enhanced authentication is not offered.
        if connect.version == .v5, connect.properties.authenticationMethod != nil {
            refuse(id, clientID: connect.clientID, reason: .badAuthenticationMethod)
            return
        }
        // MQTT 3.1.1 §3.1.3.1: an empty client id needs a clean session.
        if connect.clientID.isEmpty && connect.version == .v3_1_1 && !connect.cleanStart {
            refuse(id, clientID: nil, reason: .clientIdentifierNotValid)
            return
        }
        if let will = connect.will {
            guard (try? MQTTTopicName(will.topic)) != nil else {
                refuse(id, clientID: connect.clientID, reason: connect.version == .v5 ? .topicNameInvalid : .notAuthorized)
                return
            }
        }
        if case .failure(let reason) = policy.identity(for: connect) {
            refuse(id, clientID: connect.clientID, reason: reason)
            return
        }
        connection.phase = .authenticating(connect, deadline: now + configuration.authenticationTimeout)
        connections[id] = connection
        noteDeadline(now + configuration.authenticationTimeout)
        emit(.authenticate(id, connect))
    }

    /// Credentials are good: take over or create the session and send CONNACK (MQTT 5.0 §3.1.4).
    mutating func accept(_ connectPacket: MQTTConnect, on id: MQTTConnectionID, now: NIODeadline) {
        guard let connection = connections[id], case .success(let identity) = policy.identity(for: connectPacket) else { return }
        var connect = connectPacket
        var assignedID: String?
        if connect.clientID.isEmpty {
            connect.clientID = "auto-\(id.rawValue)-\(now.uptimeNanoseconds % 1_000_000_007)"
            assignedID = connect.clientID
        }
        if let will = connect.will, let topic = try? MQTTTopicName(will.topic), !policy.mayPublish(identity, topic: topic) {
            refuse(id, clientID: connect.clientID, reason: .notAuthorized)
            return
        }
        let clientID = connect.clientID

        // MQTT 5.0 §3.1.4-3: a second connection with the same client id takes the session over.
        if let existing = sessions[clientID]?.connection, existing != id {
            if connections[existing]?.version == .v5 {
                send(.disconnect(MQTTDisconnect(reasonCode: .sessionTakenOver, properties: MQTTProperties())), to: existing)
            }
            close(existing, now: now)
        }

        let expiry: UInt32
        if connect.version == .v5 {
            expiry = min(connect.properties.sessionExpiryInterval ?? 0, configuration.maximumSessionExpiry)
        } else {
            expiry = connect.cleanStart ? 0 : UInt32.max
        }
        var sessionPresent = false
        if connect.cleanStart || sessions[clientID] == nil {
            if sessions[clientID] != nil { discardSession(clientID, now: now, publishWill: false) }
            sessions[clientID] = MQTTSession(clientID: clientID, identity: identity, version: connect.version, expiryInterval: expiry)
        } else {
            sessionPresent = true
        }
        let session = sessions[clientID]!
        // A pending delayed will is cancelled by a reconnect (MQTT 5.0 §3.1.3.2.2).
        session.will = connect.will
        session.willAt = nil
        session.identityValue = identity
        session.version = connect.version
        session.expiryInterval = expiry
        session.expiresAt = nil
        session.connection = id
        sessions[clientID] = session

        connection.phase = .connected(clientID: clientID)
        connection.session = session
        invalidateForwardRoutes()
        var keepAlive = connect.keepAlive
        var serverKeepAlive: UInt16?
        if let maximum = configuration.maximumKeepAlive, keepAlive == 0 || keepAlive > maximum {
            keepAlive = maximum
            serverKeepAlive = maximum
        }
        connection.keepAlive = keepAlive == 0 ? nil : .milliseconds(Int64(keepAlive) * 1500)
        if let interval = connection.keepAlive { noteDeadline(now + interval) }
        if connect.version == .v5 {
            connection.clientReceiveMaximum = Int(connect.properties.receiveMaximum ?? UInt16.max)
            connection.clientMaximumPacketSize = Int(connect.properties.maximumPacketSize ?? UInt32.max)
        }
        connections[id] = connection

        var properties = MQTTProperties()
        if connect.version == .v5 {
            properties.receiveMaximum = configuration.receiveMaximum
            properties.maximumPacketSize = UInt32(configuration.maximumPacketSize)
            properties.topicAliasMaximum = configuration.topicAliasMaximum
            properties.retainAvailable = true
            properties.wildcardSubscriptionAvailable = true
            properties.subscriptionIdentifiersAvailable = true
            properties.sharedSubscriptionAvailable = false
            properties.assignedClientIdentifier = assignedID
            properties.serverKeepAlive = serverKeepAlive
            if let requested = connect.properties.sessionExpiryInterval, requested > expiry {
                properties.sessionExpiryInterval = expiry
            }
        }
        send(.connAck(MQTTConnAck(sessionPresent: sessionPresent, reasonCode: .success, properties: properties)), to: id)
        statistics.connectionsAccepted += 1
        emit(.event(.connected(id, clientID: clientID, kind: policy.kind(of: identity), version: connect.version, sessionPresent: sessionPresent)))

        // MQTT 5.0 §4.4: resend unacknowledged messages with DUP, then what was queued.
        resendInflight(clientID: clientID)
        drainQueue(clientID: clientID, now: now)
    }

    /// Refuses a CONNECT with CONNACK and closes (MQTT 5.0 §3.2.2.2).
    mutating func refuse(_ id: MQTTConnectionID, clientID: String?, reason: MQTTReasonCode) {
        statistics.connectionsRefused += 1
        send(.connAck(MQTTConnAck(sessionPresent: false, reasonCode: reason, properties: MQTTProperties())), to: id)
        emit(.event(.refused(id, clientID: clientID, reason: reason)))
        if let connection = connections[id] {
            connection.phase = .closed
            connections[id] = connection
        }
        invalidateForwardRoutes()
        emitClose(id)
    }

    /// A decoding failure: before CONNECT it is a refusal (where a CONNACK makes sense), after it a
    /// DISCONNECT with the reason (v5 only, MQTT 5.0 §4.13).
    mutating func refuseOrDisconnect(_ id: MQTTConnectionID, reason: MQTTReasonCode, now: NIODeadline) {
        guard let connection = connections[id] else { return }
        switch connection.phase {
        case .awaitingConnect:
            if reason == .unsupportedProtocolVersion {
                refuse(id, clientID: nil, reason: reason)
            } else {
                close(id, now: now)
            }
        default:
            disconnect(id, reason: reason, now: now)
        }
    }

    /// Sends DISCONNECT (v5) and closes.
    mutating func disconnect(_ id: MQTTConnectionID, reason: MQTTReasonCode, now: NIODeadline) {
        if let connection = connections[id], connection.version == .v5, case .connected = connection.phase {
            send(.disconnect(MQTTDisconnect(reasonCode: reason, properties: MQTTProperties())), to: id)
        }
        close(id, now: now)
    }

    mutating func violation(_ id: MQTTConnectionID, _ description: String, reason: MQTTReasonCode, now: NIODeadline) {
        statistics.protocolViolations += 1
        emit(.event(.protocolViolation(id, description: description, reason: reason)))
        disconnect(id, reason: reason, now: now)
    }

    /// The connection of a session ended: will, retained clearing, session expiry.
    mutating func endConnection(_ connection: MQTTConnectionState, clientID: String, reason: MQTTReasonCode, now: NIODeadline) {
        guard var session = sessions[clientID], session.connection == connection.id else { return }
        session.connection = nil
        invalidateForwardRoutes()
        emit(.event(.disconnected(connection.id, clientID: clientID, kind: policy.kind(of: identity(of: session)), reason: reason)))
        // protocol.md: retained session topics are cleared when the session's client goes away.
        for topic in connection.retainedToClear { retained.remove(try! MQTTTopicName(topic)) }
        if !connection.disconnectedCleanly, let will = session.will {
            let delay = UInt64(will.properties.willDelayInterval ?? 0)
            if delay == 0 || session.expiryInterval == 0 {
                session.will = nil
                sessions[clientID] = session
                publishWill(will, identity: identity(of: session), clientID: clientID, now: now)
                session = sessions[clientID] ?? session
            } else {
                session.willAt = now + .seconds(Int64(min(delay, UInt64(session.expiryInterval))))
                noteDeadline(session.willAt)
            }
        } else {
            session.will = nil
        }
        if session.expiryInterval == 0 {
            sessions[clientID] = session
            discardSession(clientID, now: now, publishWill: false)
        } else {
            if session.expiryInterval != UInt32.max {
                session.expiresAt = now + .seconds(Int64(session.expiryInterval))
                noteDeadline(session.expiresAt)
            }
            sessions[clientID] = session
        }
    }

    mutating func publishWill(_ will: MQTTWill, identity: Identity, clientID: String, now: NIODeadline) {
        guard let topic = try? MQTTTopicName(will.topic), policy.mayPublish(identity, topic: topic) else { return }
        statistics.willsPublished += 1
        emit(.event(.willPublished(clientID: clientID, topic: will.topic)))
        var properties = will.properties
        properties.willDelayInterval = nil
        let expiresAt = will.properties.messageExpiryInterval.map { now + .seconds(Int64($0)) }
        let message = MQTTMessage(topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain, properties: properties, expiresAt: expiresAt)
        if will.retain {
            // A retained will on a topic that is cleared when its client goes away is delivered
            // live but not kept (protocol.md: stale sessions must not pile up).
            if policy.clearsRetainedOnDisconnect(identity, topic: topic) {
                retained.remove(topic)
            } else {
                storeRetained(message, topic: topic, from: nil)
            }
        }
        route(message, topic: topic, from: nil, now: now)
    }

    /// Removes a session and its subscriptions; its will, if still pending, is published
    /// (MQTT 5.0 §3.1.3.2.2: the will goes out when the session ends, if not before).
    mutating func discardSession(_ clientID: String, now: NIODeadline, publishWill: Bool) {
        guard let session = sessions.removeValue(forKey: clientID) else { return }
        session.isDiscarded = true
        invalidateForwardRoutes()
        subscriptions.removeAll(clientID)
        if publishWill, session.connection == nil, session.willAt != nil, let will = session.will {
            self.publishWill(will, identity: identity(of: session), clientID: clientID, now: now)
        }
    }
}
