public import NIOCore
import NIOPosix

/// An MQTT 3.1.1 / 5.0 client over TCP, TLS, WebSocket or secure WebSocket that stays connected:
/// after a connection is lost it reconnects with capped exponential backoff, re-subscribes, and
/// re-sends unacknowledged QoS 1 messages, until ``disconnect()``.
///
/// ```swift
/// let url = try MQTTClientURL(parsing: "tcp://localhost:1883")
/// let configuration = MQTTClientConfiguration(
///     url: url, clientID: "desktop:pa-desktop", username: "pa-desktop", password: psk,
///     will: MQTTWill(topic: "desktops/pa-desktop/status", payload: ByteBuffer(string: "offline"), qos: .atLeastOnce, retain: true))
/// let client = MQTTClient(configuration: configuration)
/// try await client.connect()
/// try await client.publish(topic: "desktops/pa-desktop/status", payload: "online", qos: .atLeastOnce, retain: true)
/// _ = try await client.subscribe("desktops/pa-desktop/sessions/+/webrtc-offer")
/// for await message in client.messages { … }
/// ```
///
/// The will is published by the broker on every connection loss, so a client that announces
/// itself (`online`) should do so again on each ``MQTTClientConnectionEvent/connected(sessionPresent:)``
/// from ``events``.
///
/// The protocol logic is ``MQTTClientStateMachine``; this class only drives it on an event loop.
/// Waiting calls are not cancelled with their task: they end with the broker's answer, or with
/// `disconnected` when ``disconnect()`` is called. The client keeps its connection (and
/// reconnects) until ``disconnect()``, also when no reference to it is left: always call it.
public final class MQTTClient: Sendable {
    public let configuration: MQTTClientConfiguration
    /// Every application message from the broker, in order; QoS 1 may repeat (at least once).
    /// One consumer; buffered without limit, so keep reading. Ends after ``disconnect()``.
    public let messages: AsyncStream<MQTTPublish>
    /// Connection changes, newest 64 kept if not read. Ends after ``disconnect()``.
    public let events: AsyncStream<MQTTClientConnectionEvent>
    private let connection: MQTTClientConnection

    /// Creates a client; nothing happens until ``connect()``.
    /// - Parameters:
    ///   - configuration: broker URL, identity, will, timing and TLS.
    ///   - eventLoopGroup: where to run; default the shared NIO group. One loop of it runs the client.
    public init(configuration: MQTTClientConfiguration, eventLoopGroup: (any EventLoopGroup)? = nil) {
        self.configuration = configuration
        let (messages, messageContinuation) = AsyncStream.makeStream(of: MQTTPublish.self, bufferingPolicy: .unbounded)
        let (events, eventContinuation) = AsyncStream.makeStream(
            of: MQTTClientConnectionEvent.self, bufferingPolicy: .bufferingNewest(64))
        self.messages = messages
        self.events = events
        connection = MQTTClientConnection(
            configuration: configuration, loop: (eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton).next(),
            messages: messageContinuation, events: eventContinuation)
    }

    /// Connects and returns once the broker accepted (CONNACK); from then on the client
    /// reconnects by itself until ``disconnect()``.
    /// - Throws: ``MQTTClientError`` if this first attempt fails (`transportFailed`,
    ///   `webSocketUpgradeFailed`, `connectionRefused` with the broker's reason code,
    ///   `connectTimeout`, …); the client is then idle and `connect()` may be called again.
    ///   `alreadyConnected` while running; `notConnected` after ``disconnect()``.
    public func connect() async throws(MQTTClientError) {
        try await run { $0.start() }
    }

    /// Publishes a message.
    ///
    /// QoS 0 returns once the message is handed to the connection (or queued while
    /// reconnecting); QoS 1 returns when the broker's PUBACK arrives, re-sending across
    /// reconnects until it does.
    /// - Parameters:
    ///   - topic: a topic name, no wildcards.
    ///   - payload: the message bytes.
    ///   - qos: `.atMostOnce` or `.atLeastOnce`.
    ///   - retain: whether the broker keeps it for future subscribers.
    ///   - properties: MQTT 5.0 properties (ignored in 3.1.1).
    /// - Throws: `invalidRequest` (bad topic, QoS 2), `rejected` (MQTT 5.0 PUBACK failure),
    ///   `notConnected`, `disconnected` (``disconnect()`` before the PUBACK), `tooManyPending`.
    public func publish(
        topic: String, payload: ByteBuffer, qos: MQTTQoS = .atMostOnce, retain: Bool = false,
        properties: MQTTProperties = MQTTProperties()
    ) async throws(MQTTClientError) {
        let message = MQTTPublish(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties)
        try await run { $0.publish(message) }
    }

    /// Publishes a UTF-8 text message; otherwise like the `ByteBuffer` form.
    public func publish(topic: String, payload: String, qos: MQTTQoS = .atMostOnce, retain: Bool = false) async throws(MQTTClientError) {
        try await publish(topic: topic, payload: ByteBuffer(string: payload), qos: qos, retain: retain)
    }

    /// Subscribes to one topic filter; it stays subscribed across reconnects.
    /// - Parameters:
    ///   - filter: a topic filter, wildcards allowed.
    ///   - qos: the highest QoS to receive with.
    /// - Returns: the QoS the broker granted.
    /// - Throws: `rejected` when the broker refused the filter; `invalidRequest`, `notConnected`,
    ///   `disconnected`, `tooManyPending`.
    @discardableResult
    public func subscribe(_ filter: String, qos: MQTTQoS = .atLeastOnce) async throws(MQTTClientError) -> MQTTQoS {
        let codes = try await subscribe([MQTTSubscription(filter: filter, options: MQTTSubscriptionOptions(qos: qos))])
        guard let code = codes.first, !code.isFailure, let granted = MQTTQoS(rawValue: code.rawValue) else {
            throw MQTTClientError(.rejected, reasonCode: codes.first, detail: "the broker refused the subscription to \(filter)")
        }
        return granted
    }

    /// Subscribes to several filters in one SUBSCRIBE.
    /// - Returns: the broker's reason code for each, in order (granted QoS, or a failure ≥ 0x80).
    /// - Throws: `invalidRequest`, `notConnected`, `disconnected`, `tooManyPending`.
    public func subscribe(_ subscriptions: [MQTTSubscription]) async throws(MQTTClientError) -> [MQTTReasonCode] {
        try await run { $0.subscribe(subscriptions) }
    }

    /// Unsubscribes from topic filters; they are no longer re-subscribed after reconnects.
    /// - Throws: `rejected` if the broker answered a failure for any (MQTT 5.0); `invalidRequest`,
    ///   `notConnected`, `disconnected`, `tooManyPending`.
    public func unsubscribe(_ filters: [String]) async throws(MQTTClientError) {
        let codes = try await run { $0.unsubscribe(filters) }
        if let failure = codes.first(where: \.isFailure) {
            throw MQTTClientError(.rejected, reasonCode: failure, detail: "the broker refused to unsubscribe")
        }
    }

    /// Unsubscribes from one topic filter; otherwise like the array form.
    public func unsubscribe(_ filter: String) async throws(MQTTClientError) {
        try await unsubscribe([filter])
    }

    /// Sends DISCONNECT (so the broker discards the will), closes the connection and stops
    /// reconnecting; pending calls fail with `disconnected`, ``messages`` and ``events`` end.
    /// Returns when the connection is closed. The client cannot be connected again.
    public func disconnect() async {
        let connection = self.connection
        try? await connection.loop.flatSubmit { connection.stop() }.get()
    }

    /// Where the client is now.
    public var state: MQTTClientState {
        get async {
            let connection = self.connection
            return (try? await connection.loop.submit { connection.state }.get()) ?? .stopped
        }
    }

    /// Testing only: closes the current connection without DISCONNECT, as a crash or network
    /// loss would, so the broker publishes the will. The client then reconnects as usual.
    public func _dropConnection() async {
        let connection = self.connection
        try? await connection.loop.flatSubmit { connection.dropConnection() }.get()
    }

    private func run<T: Sendable>(
        _ body: @escaping @Sendable (MQTTClientConnection) -> EventLoopFuture<T>
    ) async throws(MQTTClientError) -> T {
        let connection = self.connection
        do {
            return try await connection.loop.flatSubmit { body(connection) }.get()
        } catch {
            throw MQTTClientConnection.describe(error)
        }
    }
}

/// A change of the client's connection, from ``MQTTClient/events``.
public enum MQTTClientConnectionEvent: Hashable, Sendable {
    /// The broker accepted a connection (the first or a reconnect). Subscriptions are being
    /// restored and queued messages sent.
    case connected(sessionPresent: Bool)
    /// The connection or an attempt ended; `reconnecting` is false once the client has stopped.
    case disconnected(reason: MQTTClientError, reconnecting: Bool)
    /// The broker answered the automatic re-subscription; refused filters are dropped.
    case resubscribed(subscriptions: [MQTTSubscription], reasonCodes: [MQTTReasonCode])
}
