public import NIOCore

/// A sans-IO MQTT 3.1.1 / 5.0 client: connection life cycle, keep-alive, QoS 0 and 1 (and
/// receiving QoS 2), automatic reconnect and re-subscription.
///
/// The transport reports ``connectionOpened(now:)``, ``receive(_:now:)``,
/// ``connectionClosed(now:error:)`` and ``handleTimeout(now:)``; the application calls
/// ``start(now:)``, ``publish(_:now:)``, ``subscribe(_:now:)``, ``unsubscribe(_:now:)`` and
/// ``disconnect(now:)``. Both drain ``pollOutput()`` afterwards and re-arm a timer for
/// ``nextTimeout()``. The machine never touches a socket or a clock.
///
/// Decisions:
/// - **Re-subscription.** The machine keeps every subscription the broker granted. After a
///   reconnect whose CONNACK says the session is not present (always, with the default clean
///   start), it sends one SUBSCRIBE with all of them before anything else; when the session is
///   present the broker still has them and nothing is sent (MQTT 5.0 §4.1).
/// - **QoS 1 across reconnects.** Unacknowledged QoS 1 PUBLISHes are re-sent after every
///   reconnect with DUP set and their original packet identifiers (MQTT 5.0 §4.4), also when the
///   session is new: the spec would let a clean start drop them, but `publish` promises at least
///   once. SUBSCRIBE and UNSUBSCRIBE requests still waiting for their ack are re-sent too.
/// - **Offline publishing.** While reconnecting, QoS 0 messages wait in a bounded queue and QoS 1
///   messages in the in-flight list; both go out after the next CONNACK.
/// - **First connection.** If the very first attempt after ``start(now:)`` fails, the machine
///   goes back to ``MQTTClientState/idle`` and reports it, so a misconfiguration surfaces at once;
///   after one success it reconnects until ``disconnect(now:)``.
/// - **Backoff.** Consecutive failed attempts climb ``MQTTReconnectBackoff``; the count restarts
///   only after a connection stayed up for ``Configuration/stableConnection``, so a broker that
///   accepts and immediately drops (e.g. two clients fighting over one client id) is not hammered.
/// - **Keep-alive.** PINGREQ goes out when nothing was sent *or* received for the keep-alive
///   (the server's Server Keep Alive wins, MQTT 5.0 §3.2.2.3.14), so a half-open connection is
///   noticed even while the client keeps publishing; no PINGRESP within ``Configuration/pingTimeout``
///   closes the connection.
public struct MQTTClientStateMachine: Sendable {
    /// Protocol and timing settings; fixed for the machine's life.
    public struct Configuration: Sendable {
        public var clientID: String
        public var username: String?
        public var password: [UInt8]?
        public var will: MQTTWill?
        /// Keep Alive, sent in CONNECT in whole seconds (rounded up, at most 65,535); zero turns
        /// keep-alive off.
        public var keepAlive: TimeAmount
        public var version: MQTTProtocolVersion
        /// Clean Start (5.0) / Clean Session (3.1.1), sent on every connection.
        public var cleanStart: Bool
        /// MQTT 5.0 Session Expiry Interval in seconds; nil sends none (the session ends with the
        /// connection).
        public var sessionExpiryInterval: UInt32?
        /// From opening the transport to CONNACK.
        public var connectTimeout: TimeAmount
        /// From PINGREQ to PINGRESP.
        public var pingTimeout: TimeAmount
        public var backoff: MQTTReconnectBackoff
        /// How long a connection must last for the backoff to start again from its first step.
        public var stableConnection: TimeAmount
        /// QoS 0 messages kept while not connected; publishing more throws `tooManyPending`.
        public var offlineQueueLimit: Int
        /// The largest packet accepted from the broker, fixed header included.
        public var maximumPacketSize: Int
        /// Seeds the jitter; give each client its own (``MQTTClient`` uses system randomness).
        public var randomSeed: UInt64

        public init(
            clientID: String, username: String? = nil, password: [UInt8]? = nil, will: MQTTWill? = nil,
            keepAlive: TimeAmount = .seconds(60), version: MQTTProtocolVersion = .v3_1_1, cleanStart: Bool = true,
            sessionExpiryInterval: UInt32? = nil, connectTimeout: TimeAmount = .seconds(10),
            pingTimeout: TimeAmount = .seconds(10), backoff: MQTTReconnectBackoff = MQTTReconnectBackoff(),
            stableConnection: TimeAmount = .seconds(10), offlineQueueLimit: Int = 1024,
            maximumPacketSize: Int = 1 << 24, randomSeed: UInt64 = 0
        ) {
            self.clientID = clientID
            self.username = username
            self.password = password
            self.will = will
            self.keepAlive = keepAlive
            self.version = version
            self.cleanStart = cleanStart
            self.sessionExpiryInterval = sessionExpiryInterval
            self.connectTimeout = connectTimeout
            self.pingTimeout = pingTimeout
            self.backoff = backoff
            self.stableConnection = stableConnection
            self.offlineQueueLimit = offlineQueueLimit
            self.maximumPacketSize = maximumPacketSize
            self.randomSeed = randomSeed
        }

        /// The Keep Alive field of CONNECT.
        var keepAliveSeconds: UInt16 {
            guard keepAlive.nanoseconds > 0 else { return 0 }
            let seconds = (keepAlive.nanoseconds + 999_999_999) / 1_000_000_000
            return UInt16(clamping: seconds)
        }
    }

    enum Phase: Hashable, Sendable {
        case idle
        case opening(deadline: NIODeadline)
        case awaitingConnAck(deadline: NIODeadline)
        case connected
        case waiting(until: NIODeadline)
        case stopped
    }

    /// Keep-alive bookkeeping of the current connection.
    struct Link: Sendable {
        let since: NIODeadline
        var keepAlive: TimeAmount?
        var lastSent: NIODeadline
        var lastReceived: NIODeadline
        var pingSentAt: NIODeadline?
    }

    /// An outgoing QoS 1 PUBLISH until its PUBACK.
    struct OutgoingPublish: Sendable {
        /// Encoded with DUP 0; the DUP bit is set on a copy when re-sending.
        var bytes: ByteBuffer
        var everSent = false
        var sentOnThisConnection = false
    }

    /// A SUBSCRIBE or UNSUBSCRIBE until its ack.
    enum Request: Sendable {
        case subscribe([MQTTSubscription])
        case unsubscribe([String])
        case resubscribe([MQTTSubscription])
    }

    public let configuration: Configuration
    var phase = Phase.idle
    var link: Link?
    var hasConnected = false
    var failedAttempts = 0
    var decoder: MQTTPacketDecoder
    var random: SplitMix64
    var outputs: [MQTTClientOutput] = []
    var outputHead = 0

    // Session state, kept across reconnects until stop.
    var nextPacketID: UInt16 = 1
    var publishes: [UInt16: OutgoingPublish] = [:]
    var publishOrder: [UInt16] = []
    /// QoS 1 messages not yet sent on this connection, in order, from `unsentHead`.
    var unsent: [UInt16] = []
    var unsentHead = 0
    var inFlightCount = 0
    var sendQuota = Int(UInt16.max)
    var queuedQoS0: [ByteBuffer] = []
    var requests: [UInt16: Request] = [:]
    var requestOrder: [UInt16] = []
    /// Granted subscriptions, in the order first granted; one per filter.
    var subscriptions: [MQTTSubscription] = []
    /// QoS 2 messages received and PUBREC'd, waiting for PUBREL (MQTT 5.0 §4.3.3).
    var incomingQoS2: Set<UInt16> = []

    /// The client identifier the server assigned when ``Configuration/clientID`` was empty (MQTT 5.0).
    public internal(set) var assignedClientID: String?

    public init(configuration: Configuration) {
        self.configuration = configuration
        decoder = MQTTPacketDecoder(version: configuration.version, maximumPacketSize: configuration.maximumPacketSize)
        random = SplitMix64(seed: configuration.randomSeed)
    }

    /// Where the client is.
    public var state: MQTTClientState {
        switch phase {
        case .idle: .idle
        case .opening, .awaitingConnAck: .connecting
        case .connected: .connected
        case .waiting(let until): .waitingToReconnect(until: until)
        case .stopped: .stopped
        }
    }

    var isRunning: Bool {
        switch phase {
        case .idle, .stopped: false
        case .opening, .awaitingConnAck, .connected, .waiting: true
        }
    }

    // MARK: Life cycle

    /// Starts connecting: polls ``MQTTClientOutput/openConnection``.
    /// - Throws: `alreadyConnected` unless idle or stopped.
    public mutating func start(now: NIODeadline) throws(MQTTClientError) {
        guard !isRunning else { throw MQTTClientError(.alreadyConnected, detail: "the client is already running") }
        hasConnected = false
        failedAttempts = 0
        open(now: now)
    }

    /// Ends the session: sends DISCONNECT if connected (so the broker discards the will), closes
    /// the connection, stops reconnecting and fails every pending request with `disconnected`.
    public mutating func disconnect(now: NIODeadline) {
        switch phase {
        case .idle, .stopped:
            phase = .stopped
            return
        case .connected:
            send(.disconnect(MQTTDisconnect()), now: now)
            emit(.closeConnection)
        case .opening, .awaitingConnAck:
            emit(.closeConnection)
        case .waiting:
            break
        }
        let reason = MQTTClientError(.disconnected, detail: "disconnect() was called")
        phase = .stopped
        link = nil
        emit(.event(.disconnected(reason: reason, reconnectAt: nil)))
        discardSession(failingWith: reason)
    }

    private mutating func open(now: NIODeadline) {
        phase = .opening(deadline: now + configuration.connectTimeout)
        emit(.openConnection)
    }

    // MARK: Transport input

    /// The transport opened the connection asked for by ``MQTTClientOutput/openConnection``
    /// (after the TLS handshake or WebSocket upgrade, if any): sends CONNECT.
    public mutating func connectionOpened(now: NIODeadline) {
        guard case .opening(let deadline) = phase else { return }
        decoder = MQTTPacketDecoder(version: configuration.version, maximumPacketSize: configuration.maximumPacketSize)
        phase = .awaitingConnAck(deadline: deadline)
        send(.connect(makeConnect()), now: now)
    }

    /// The connection closed or could not be opened.
    /// - Parameter error: why, if the transport knows (`transportFailed`, `webSocketUpgradeFailed`);
    ///   nil means an orderly close by the peer (`connectionClosed`).
    public mutating func connectionClosed(now: NIODeadline, error: MQTTClientError? = nil) {
        switch phase {
        case .opening, .awaitingConnAck, .connected:
            connectionLost(error ?? MQTTClientError(.connectionClosed, detail: "the broker closed the connection"), close: false, now: now)
        case .idle, .waiting, .stopped:
            break
        }
    }

    /// Bytes arrived. Every whole packet in them is handled; a partial one stays in `bytes`' owner
    /// (the decoder keeps nothing), so pass the same accumulating buffer again with more bytes.
    public mutating func receive(_ bytes: inout ByteBuffer, now: NIODeadline) {
        switch phase {
        case .awaitingConnAck, .connected: break
        case .idle, .opening, .waiting, .stopped: return
        }
        link?.lastReceived = now
        while true {
            let packet: MQTTPacket?
            do {
                packet = try decoder.decode(buffer: &bytes)
            } catch {
                protocolError("\(error)", reasonCode: error.reasonCode, now: now)
                return
            }
            guard let packet else { return }
            handle(packet, now: now)
            switch phase {
            case .awaitingConnAck, .connected: continue
            case .idle, .opening, .waiting, .stopped: return
            }
        }
    }

    // MARK: Time

    /// The next time ``handleTimeout(now:)`` has work: a connect deadline, a reconnect, a PINGREQ
    /// to send or a PINGRESP overdue; nil when nothing is scheduled.
    public func nextTimeout() -> NIODeadline? {
        switch phase {
        case .opening(let deadline), .awaitingConnAck(let deadline): return deadline
        case .waiting(let until): return until
        case .connected:
            guard let link else { return nil }
            if let pingSentAt = link.pingSentAt { return pingSentAt + configuration.pingTimeout }
            guard let keepAlive = link.keepAlive else { return nil }
            return min(link.lastSent, link.lastReceived) + keepAlive
        case .idle, .stopped: return nil
        }
    }

    /// Acts on every deadline that has passed.
    public mutating func handleTimeout(now: NIODeadline) {
        switch phase {
        case .opening(let deadline), .awaitingConnAck(let deadline):
            guard deadline <= now else { return }
            let detail = "no CONNACK within \(configuration.connectTimeout.seconds) s"
            connectionLost(MQTTClientError(.connectTimeout, detail: detail), close: true, now: now)
        case .waiting(let until):
            guard until <= now else { return }
            open(now: now)
        case .connected:
            guard let current = link else { return }
            if let pingSentAt = current.pingSentAt {
                guard pingSentAt + configuration.pingTimeout <= now else { return }
                let detail = "no PINGRESP within \(configuration.pingTimeout.seconds) s"
                connectionLost(MQTTClientError(.keepAliveTimeout, detail: detail), close: true, now: now)
            } else if let keepAlive = current.keepAlive, min(current.lastSent, current.lastReceived) + keepAlive <= now {
                // MQTT 5.0 §3.1.2.10: the client must send something within each keep-alive period.
                send(.pingReq, now: now)
                link?.pingSentAt = now
            }
        case .idle, .stopped:
            return
        }
    }

    // MARK: Output

    /// The next thing to do, or nil when there is nothing.
    public mutating func pollOutput() -> MQTTClientOutput? {
        guard outputHead < outputs.count else { return nil }
        let output = outputs[outputHead]
        outputHead += 1
        if outputHead == outputs.count {
            outputs.removeAll(keepingCapacity: true)
            outputHead = 0
        }
        return output
    }

    mutating func emit(_ output: MQTTClientOutput) {
        outputs.append(output)
    }

    /// Encodes and queues one packet of our own making (which always encodes).
    mutating func send(_ packet: MQTTPacket, now: NIODeadline) {
        do {
            sendBytes(try packet.encoded(version: configuration.version), now: now)
        } catch {
            assertionFailure("client packet failed to encode: \(error)")
        }
    }

    mutating func sendBytes(_ bytes: ByteBuffer, now: NIODeadline) {
        emit(.send(bytes))
        link?.lastSent = now
    }

    // MARK: Connection loss

    mutating func protocolError(_ detail: String, reasonCode: MQTTReasonCode = .protocolError, now: NIODeadline) {
        if configuration.version == .v5, case .connected = phase {
            // MQTT 5.0 §4.13.1: a client may send DISCONNECT with the reason before closing.
            send(.disconnect(MQTTDisconnect(reasonCode: reasonCode)), now: now)
        }
        connectionLost(MQTTClientError(.protocolError, reasonCode: reasonCode, detail: detail), close: true, now: now)
    }

    /// The current connection or attempt is over: schedule the next attempt, or go idle if the
    /// first attempt failed.
    mutating func connectionLost(_ reason: MQTTClientError, close: Bool, now: NIODeadline) {
        if close { emit(.closeConnection) }
        if let link, now - link.since >= configuration.stableConnection { failedAttempts = 0 }
        link = nil
        // Per-connection state: nothing is in flight on a closed connection.
        inFlightCount = 0
        for id in publishOrder { publishes[id]?.sentOnThisConnection = false }
        unsent = publishOrder
        unsentHead = 0
        for id in requestOrder {
            if case .resubscribe = requests[id] { requests[id] = nil }
        }
        requestOrder.removeAll { requests[$0] == nil }

        guard hasConnected else {
            phase = .idle
            emit(.event(.disconnected(reason: reason, reconnectAt: nil)))
            discardSession(failingWith: reason)
            return
        }
        failedAttempts += 1
        let at = now + configuration.backoff.delay(attempt: failedAttempts, random: random.nextUnit())
        phase = .waiting(until: at)
        emit(.event(.disconnected(reason: reason, reconnectAt: at)))
    }

    /// Forgets everything of the session, failing what callers still wait for.
    mutating func discardSession(failingWith error: MQTTClientError) {
        for id in publishOrder { emit(.event(.requestFailed(packetID: id, error: error))) }
        for id in requestOrder {
            if case .resubscribe = requests[id] { continue }
            emit(.event(.requestFailed(packetID: id, error: error)))
        }
        publishes = [:]
        publishOrder = []
        unsent = []
        unsentHead = 0
        inFlightCount = 0
        queuedQoS0 = []
        requests = [:]
        requestOrder = []
        subscriptions = []
        incomingQoS2 = []
    }

    private func makeConnect() -> MQTTConnect {
        var properties = MQTTProperties()
        if configuration.version == .v5 {
            properties.sessionExpiryInterval = configuration.sessionExpiryInterval
            if configuration.maximumPacketSize < MQTTPacketDecoder.specMaximumPacketSize {
                properties.maximumPacketSize = UInt32(clamping: configuration.maximumPacketSize)
            }
        }
        return MQTTConnect(
            version: configuration.version, cleanStart: configuration.cleanStart,
            keepAlive: configuration.keepAliveSeconds, clientID: configuration.clientID,
            username: configuration.username, password: configuration.password, will: configuration.will,
            properties: properties)
    }
}

extension TimeAmount {
    /// Seconds with a fraction, for messages.
    fileprivate var seconds: Double { Double(nanoseconds) / 1e9 }
}
