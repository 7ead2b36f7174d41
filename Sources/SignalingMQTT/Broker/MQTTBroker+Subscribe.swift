import NIOCore

extension MQTTBroker {
    /// MQTT 5.0 §3.8.4: answer each filter, then send matching retained messages.
    mutating func handleSubscribe(_ subscribe: MQTTSubscribe, clientID: String, on id: MQTTConnectionID, now: NIODeadline) {
        guard let connection = connections[id], let session = sessions[clientID] else { return }
        let v5 = connection.version == .v5
        var codes: [MQTTReasonCode] = []
        var retainedToSend: [(MQTTTopicFilter, MQTTStoredSubscription)] = []
        for subscription in subscribe.subscriptions {
            guard let filter = try? MQTTTopicFilter(subscription.filter) else {
                codes.append(v5 ? .topicFilterInvalid : .unspecifiedError)
                continue
            }
            if filter.shareGroup != nil {
                codes.append(v5 ? .sharedSubscriptionsNotSupported : .unspecifiedError)
                continue
            }
            guard policy.maySubscribe(identity(of: session), filter: filter) else {
                emit(.event(.subscribeRefused(id, clientID: clientID, filter: filter.value)))
                codes.append(v5 ? .notAuthorized : .unspecifiedError)
                continue
            }
            let stored = MQTTStoredSubscription(options: subscription.options, identifier: subscribe.properties.subscriptionIdentifiers.first)
            let existed = session.subscriptions[filter.value] != nil
            session.subscriptions[filter.value] = stored
            subscriptions.insert(filter, subscriber: clientID, value: stored)
            invalidateForwardRoutes()
            codes.append(MQTTReasonCode(rawValue: subscription.options.qos.rawValue))
            // Retain Handling (MQTT 5.0 §3.8.3.1): 0 always, 1 only for a new subscription, 2 never.
            switch subscription.options.retainHandling {
            case 0: retainedToSend.append((filter, stored))
            case 1 where !existed: retainedToSend.append((filter, stored))
            default: break
            }
        }
        sessions[clientID] = session
        send(.subAck(MQTTSubAck(packetID: subscribe.packetID, reasonCodes: codes, properties: MQTTProperties())), to: id)
        for (filter, stored) in retainedToSend {
            for (_, message) in retained.matching(filter) {
                if let expiresAt = message.expiresAt, expiresAt <= now { continue }
                let queued = MQTTQueuedMessage(
                    message: message, qos: min(message.qos, stored.options.qos), retain: true,
                    subscriptionIdentifiers: stored.identifier.map { [$0] } ?? [])
                deliver(queued, to: clientID, now: now)
            }
        }
    }

    mutating func handleUnsubscribe(_ unsubscribe: MQTTUnsubscribe, clientID: String, on id: MQTTConnectionID) {
        guard let session = sessions[clientID] else { return }
        var codes: [MQTTReasonCode] = []
        for text in unsubscribe.filters {
            guard let filter = try? MQTTTopicFilter(text) else {
                codes.append(.topicFilterInvalid)
                continue
            }
            let existed = session.subscriptions.removeValue(forKey: filter.value) != nil
            _ = subscriptions.remove(filter, subscriber: clientID)
            invalidateForwardRoutes()
            codes.append(existed ? .success : .noSubscriptionExisted)
        }
        sessions[clientID] = session
        send(.unsubAck(MQTTUnsubAck(packetID: unsubscribe.packetID, reasonCodes: codes, properties: MQTTProperties())), to: id)
    }
}
