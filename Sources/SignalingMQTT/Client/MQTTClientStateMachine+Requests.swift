public import NIOCore

extension MQTTClientStateMachine {
    // MARK: Application requests

    /// Publishes a message: at once when connected, after the next CONNACK otherwise.
    ///
    /// - Parameter message: topic, payload, QoS 0 or 1, retain and (MQTT 5.0) properties; its DUP
    ///   flag and packet identifier are ignored.
    /// - Returns: the packet identifier of a QoS 1 message, reported again by
    ///   ``MQTTClientEvent/published(packetID:reasonCode:)`` or
    ///   ``MQTTClientEvent/requestFailed(packetID:error:)``; nil for QoS 0.
    /// - Throws: `notConnected` before ``start(now:)`` or after ``disconnect(now:)``;
    ///   `invalidRequest` for QoS 2 or a message that cannot be encoded (topic empty or with
    ///   wildcards, …); `tooManyPending` when the identifiers or the offline queue run out.
    @discardableResult
    public mutating func publish(_ message: MQTTPublish, now: NIODeadline) throws(MQTTClientError) -> UInt16? {
        try checkRunning()
        var publish = message
        publish.dup = false
        switch publish.qos {
        case .exactlyOnce:
            throw MQTTClientError(.invalidRequest, detail: "publishing with QoS 2 is not supported; use QoS 0 or 1")
        case .atMostOnce:
            publish.packetID = nil
            let bytes = try encode(.publish(publish))
            if case .connected = phase {
                sendBytes(bytes, now: now)
            } else {
                guard queuedQoS0.count < configuration.offlineQueueLimit else {
                    throw MQTTClientError(.tooManyPending, detail: "\(queuedQoS0.count) QoS 0 messages already wait for the connection")
                }
                queuedQoS0.append(bytes)
            }
            return nil
        case .atLeastOnce:
            let id = try allocatePacketID()
            publish.packetID = id
            publishes[id] = OutgoingPublish(bytes: try encode(.publish(publish)))
            publishOrder.append(id)
            unsent.append(id)
            if case .connected = phase { sendPendingPublishes(now: now) }
            return id
        }
    }

    /// Subscribes; the broker's answer comes as ``MQTTClientEvent/subscribed(packetID:reasonCodes:)``,
    /// one reason code per subscription, and granted filters are re-subscribed after reconnects.
    /// - Returns: the SUBSCRIBE's packet identifier.
    /// - Throws: `notConnected`, `invalidRequest` (no subscriptions, a filter that cannot be
    ///   encoded), `tooManyPending`.
    @discardableResult
    public mutating func subscribe(_ subscriptions: [MQTTSubscription], now: NIODeadline) throws(MQTTClientError) -> UInt16 {
        try checkRunning()
        let id = try allocatePacketID()
        _ = try encode(.subscribe(MQTTSubscribe(packetID: id, subscriptions: subscriptions)))
        return addRequest(.subscribe(subscriptions), id: id, now: now)
    }

    /// Unsubscribes; the filters stop being re-subscribed at once, and the broker's answer comes as
    /// ``MQTTClientEvent/unsubscribed(packetID:reasonCodes:)``.
    /// - Returns: the UNSUBSCRIBE's packet identifier.
    /// - Throws: `notConnected`, `invalidRequest`, `tooManyPending`.
    @discardableResult
    public mutating func unsubscribe(_ filters: [String], now: NIODeadline) throws(MQTTClientError) -> UInt16 {
        try checkRunning()
        let id = try allocatePacketID()
        _ = try encode(.unsubscribe(MQTTUnsubscribe(packetID: id, filters: filters)))
        subscriptions.removeAll { filters.contains($0.filter) }
        return addRequest(.unsubscribe(filters), id: id, now: now)
    }

    private func checkRunning() throws(MQTTClientError) {
        guard isRunning else {
            throw MQTTClientError(.notConnected, detail: "connect first; the client is \(state)")
        }
    }

    private func encode(_ packet: MQTTPacket) throws(MQTTClientError) -> ByteBuffer {
        do {
            return try packet.encoded(version: configuration.version)
        } catch {
            throw MQTTClientError(.invalidRequest, detail: "\(error)")
        }
    }

    private mutating func allocatePacketID() throws(MQTTClientError) -> UInt16 {
        for _ in 0..<Int(UInt16.max) {
            let id = nextPacketID
            nextPacketID = id == UInt16.max ? 1 : id + 1
            if publishes[id] == nil && requests[id] == nil { return id }
        }
        throw MQTTClientError(.tooManyPending, detail: "all 65,535 packet identifiers are in use")
    }

    private mutating func addRequest(_ request: Request, id: UInt16, now: NIODeadline) -> UInt16 {
        requests[id] = request
        requestOrder.append(id)
        if case .connected = phase { send(packet(for: request, id: id), now: now) }
        return id
    }

    private func packet(for request: Request, id: UInt16) -> MQTTPacket {
        switch request {
        case .subscribe(let subscriptions), .resubscribe(let subscriptions):
            .subscribe(MQTTSubscribe(packetID: id, subscriptions: subscriptions))
        case .unsubscribe(let filters):
            .unsubscribe(MQTTUnsubscribe(packetID: id, filters: filters))
        }
    }

    /// Sends unsent QoS 1 messages in order while the broker's Receive Maximum allows
    /// (MQTT 5.0 §4.9); a message sent on an earlier connection goes with DUP set (§4.4).
    mutating func sendPendingPublishes(now: NIODeadline) {
        while inFlightCount < sendQuota && unsentHead < unsent.count {
            let id = unsent[unsentHead]
            unsentHead += 1
            guard var outgoing = publishes[id], !outgoing.sentOnThisConnection else { continue }
            var bytes = outgoing.bytes
            if outgoing.everSent {
                // §3.3.1.1: DUP is bit 3 of the first byte.
                bytes.setInteger(bytes.getInteger(at: bytes.readerIndex, as: UInt8.self)! | 0x08, at: bytes.readerIndex)
            }
            outgoing.everSent = true
            outgoing.sentOnThisConnection = true
            publishes[id] = outgoing
            inFlightCount += 1
            sendBytes(bytes, now: now)
        }
        if unsentHead == unsent.count {
            unsent.removeAll(keepingCapacity: true)
            unsentHead = 0
        } else if unsentHead >= 1024 {
            unsent.removeFirst(unsentHead)
            unsentHead = 0
        }
    }

    // MARK: Packets from the broker

    mutating func handle(_ packet: MQTTPacket, now: NIODeadline) {
        if case .awaitingConnAck = phase {
            // MQTT 5.0 §3.2: the first packet from the server is CONNACK.
            guard case .connAck(let connAck) = packet else {
                protocolError("expected CONNACK, received \(packet.kind)", now: now)
                return
            }
            handleConnAck(connAck, now: now)
            return
        }
        switch packet {
        case .publish(let publish):
            handleIncoming(publish, now: now)
        case .pubAck(let ack):
            guard let removed = publishes.removeValue(forKey: ack.packetID) else { return }
            // Acks come in order (§4.6), so this is usually the first element.
            if let index = publishOrder.firstIndex(of: ack.packetID) { publishOrder.remove(at: index) }
            if removed.sentOnThisConnection { inFlightCount -= 1 }
            emit(.event(.published(packetID: ack.packetID, reasonCode: ack.reasonCode)))
            sendPendingPublishes(now: now)
        case .pubRel(let ack):
            // §4.3.3: answer PUBCOMP even for an identifier we no longer hold.
            incomingQoS2.remove(ack.packetID)
            send(.pubComp(MQTTAck(packetID: ack.packetID)), now: now)
        case .subAck(let subAck):
            handleSubAck(subAck)
        case .unsubAck(let unsubAck):
            guard case .unsubscribe(let filters) = requests.removeValue(forKey: unsubAck.packetID) else { return }
            requestOrder.removeAll { $0 == unsubAck.packetID }
            // A SUBSCRIBE for these filters sent before the UNSUBSCRIBE was acked first.
            subscriptions.removeAll { filters.contains($0.filter) }
            emit(.event(.unsubscribed(packetID: unsubAck.packetID, reasonCodes: unsubAck.reasonCodes)))
        case .pingResp:
            link?.pingSentAt = nil
        case .disconnect(let disconnect):
            let detail = disconnect.properties.reasonString ?? "the broker sent DISCONNECT"
            connectionLost(
                MQTTClientError(.serverDisconnected, reasonCode: disconnect.reasonCode, detail: detail), close: true, now: now)
        case .connAck, .connect, .pubRec, .pubComp, .subscribe, .unsubscribe, .pingReq, .auth:
            // We never send QoS 2 or AUTH, and these others only go from client to server.
            protocolError("unexpected \(packet.kind) from the broker", now: now)
        }
    }

    private mutating func handleConnAck(_ connAck: MQTTConnAck, now: NIODeadline) {
        guard !connAck.reasonCode.isFailure else {
            let detail = connAck.properties.reasonString ?? "the broker refused the connection"
            connectionLost(
                MQTTClientError(.connectionRefused, reasonCode: connAck.reasonCode, detail: detail), close: true, now: now)
            return
        }
        let keepAliveSeconds = connAck.properties.serverKeepAlive ?? configuration.keepAliveSeconds
        link = Link(
            since: now, keepAlive: keepAliveSeconds == 0 ? nil : .seconds(Int64(keepAliveSeconds)),
            lastSent: now, lastReceived: now)
        sendQuota = Int(connAck.properties.receiveMaximum ?? UInt16.max)
        if let assigned = connAck.properties.assignedClientIdentifier { assignedClientID = assigned }
        phase = .connected
        hasConnected = true
        if !connAck.sessionPresent { incomingQoS2 = [] }
        emit(.event(.connected(sessionPresent: connAck.sessionPresent)))

        // Re-subscribe first, so that messages published below are routed back to us.
        if !connAck.sessionPresent && !subscriptions.isEmpty, let id = try? allocatePacketID() {
            requests[id] = .resubscribe(subscriptions)
            requestOrder.insert(id, at: 0)
        }
        for id in requestOrder {
            if let request = requests[id] { send(packet(for: request, id: id), now: now) }
        }
        sendPendingPublishes(now: now)
        for bytes in queuedQoS0 { sendBytes(bytes, now: now) }
        queuedQoS0 = []
    }

    private mutating func handleIncoming(_ publish: MQTTPublish, now: NIODeadline) {
        switch publish.qos {
        case .atMostOnce:
            emit(.event(.message(publish)))
        case .atLeastOnce:
            // §4.3.2: deliver, then PUBACK; a DUP may be delivered twice (at least once).
            emit(.event(.message(publish)))
            send(.pubAck(MQTTAck(packetID: publish.packetID!)), now: now)
        case .exactlyOnce:
            // §4.3.3 method B: deliver on the first PUBLISH, PUBREC every time, forget on PUBREL.
            let id = publish.packetID!
            if incomingQoS2.insert(id).inserted { emit(.event(.message(publish))) }
            send(.pubRec(MQTTAck(packetID: id)), now: now)
        }
    }

    private mutating func handleSubAck(_ subAck: MQTTSubAck) {
        let id = subAck.packetID
        switch requests[id] {
        case .subscribe(let requested):
            // Keep what was asked for, not what was granted: a re-subscription asks again.
            for (subscription, code) in zip(requested, subAck.reasonCodes) where !code.isFailure {
                if let index = subscriptions.firstIndex(where: { $0.filter == subscription.filter }) {
                    subscriptions[index] = subscription
                } else {
                    subscriptions.append(subscription)
                }
            }
            emit(.event(.subscribed(packetID: id, reasonCodes: subAck.reasonCodes)))
        case .resubscribe(let requested):
            let refused = Set(zip(requested, subAck.reasonCodes).filter { $0.1.isFailure }.map { $0.0.filter })
            subscriptions.removeAll { refused.contains($0.filter) }
            emit(.event(.resubscribed(subscriptions: requested, reasonCodes: subAck.reasonCodes)))
        case .unsubscribe, nil:
            // Not a SUBSCRIBE of ours: ignore it.
            return
        }
        requests[id] = nil
        requestOrder.removeAll { $0 == id }
    }
}
