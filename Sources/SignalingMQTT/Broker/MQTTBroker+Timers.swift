public import NIOCore

extension MQTTBroker {
    /// When ``handleTimeout(now:)`` must next be called: a lower bound on the earliest connect
    /// or authentication timeout, keep-alive, delayed will or session expiry (kept up to date in
    /// O(1) as deadlines are added, made exact by each ``handleTimeout(now:)`` scan, so that
    /// busy brokers with many connections do not rescan them on every packet).
    public func nextTimeout() -> NIODeadline? { timerHint }

    /// Lowers the timer hint to a new deadline.
    mutating func noteDeadline(_ deadline: NIODeadline?) {
        guard let deadline else { return }
        if timerHint == nil || deadline < timerHint! { timerHint = deadline }
    }

    /// The exact earliest deadline, by a scan of every connection and offline session.
    func computeEarliestDeadline() -> NIODeadline? {
        var earliest: NIODeadline?
        func consider(_ deadline: NIODeadline?) {
            guard let deadline else { return }
            if earliest == nil || deadline < earliest! { earliest = deadline }
        }
        for connection in connections.values {
            switch connection.phase {
            case .awaitingConnect(let deadline), .authenticating(_, let deadline):
                consider(deadline)
            case .connected:
                if let keepAlive = connection.keepAlive { consider(connection.lastReceived + keepAlive) }
            case .closed:
                break
            }
        }
        for session in sessions.values where session.connection == nil {
            consider(session.willAt)
            consider(session.expiresAt)
        }
        return earliest
    }

    /// Acts on every deadline that has passed.
    public mutating func handleTimeout(now: NIODeadline) {
        guard let hint = timerHint, hint <= now else { return }
        defer { timerHint = computeEarliestDeadline() }
        for (id, connection) in connections {
            switch connection.phase {
            case .awaitingConnect(let deadline) where deadline <= now:
                // A CONNECT that never comes (slowloris): close (MQTT 5.0 §3.1.4).
                statistics.protocolViolations += 1
                emit(.event(.protocolViolation(id, description: "no CONNECT in time", reason: .maximumConnectTime)))
                close(id, now: now)
            case .authenticating(let connect, let deadline) where deadline <= now:
                statistics.authenticationFailures += 1
                refuse(id, clientID: connect.clientID, reason: .serverBusy)
            case .connected:
                if let keepAlive = connection.keepAlive, connection.lastReceived + keepAlive <= now {
                    // MQTT 5.0 §3.1.2.10: nothing for 1.5 × keep-alive.
                    emit(.event(.protocolViolation(id, description: "keep-alive expired", reason: .keepAliveTimeout)))
                    disconnect(id, reason: .keepAliveTimeout, now: now)
                }
            default:
                break
            }
        }
        for (clientID, session) in sessions where session.connection == nil {
            if let willAt = session.willAt, willAt <= now, let will = session.will {
                let updated = session
                updated.will = nil
                updated.willAt = nil
                sessions[clientID] = updated
                publishWill(will, identity: identity(of: session), clientID: clientID, now: now)
            }
            if let expiresAt = session.expiresAt, expiresAt <= now {
                discardSession(clientID, now: now, publishWill: true)
            }
        }
    }
}
