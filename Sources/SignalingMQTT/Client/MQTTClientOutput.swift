public import NIOCore

/// What ``MQTTClientStateMachine`` asks its transport to do, in order.
public enum MQTTClientOutput: Hashable, Sendable {
    /// Open a new connection to the broker (TCP, TLS or WebSocket as configured), then report
    /// ``MQTTClientStateMachine/connectionOpened(now:)`` or
    /// ``MQTTClientStateMachine/connectionClosed(now:error:)``.
    case openConnection
    /// Write these bytes (one MQTT packet) to the current connection.
    case send(ByteBuffer)
    /// Close the current connection after writing what was sent before. The machine has already
    /// moved on; do not report its closing back.
    case closeConnection
    /// Something the application should know.
    case event(MQTTClientEvent)
}

/// What happened on the client, as reported by ``MQTTClientStateMachine``.
public enum MQTTClientEvent: Hashable, Sendable {
    /// A CONNACK accepted the connection. After a reconnect, subscriptions and unacknowledged
    /// QoS 1 messages have been re-sent by the time this is polled.
    case connected(sessionPresent: Bool)
    /// A connection or connection attempt ended. `reconnectAt` is when the next attempt starts;
    /// nil when the client stopped: after ``MQTTClientStateMachine/disconnect(now:)`` (reason
    /// ``MQTTClientError/Code/disconnected``) or when the first connection attempt failed.
    case disconnected(reason: MQTTClientError, reconnectAt: NIODeadline?)
    /// An application message from the broker. QoS 1 and 2 messages have been acknowledged.
    case message(MQTTPublish)
    /// PUBACK for the QoS 1 message with this packet identifier.
    case published(packetID: UInt16, reasonCode: MQTTReasonCode)
    /// SUBACK for a ``MQTTClientStateMachine/subscribe(_:now:)`` request.
    case subscribed(packetID: UInt16, reasonCodes: [MQTTReasonCode])
    /// UNSUBACK for a ``MQTTClientStateMachine/unsubscribe(_:now:)`` request (MQTT 3.1.1 gives no codes).
    case unsubscribed(packetID: UInt16, reasonCodes: [MQTTReasonCode])
    /// SUBACK for the automatic re-subscription after a reconnect; refused filters are no longer
    /// active.
    case resubscribed(subscriptions: [MQTTSubscription], reasonCodes: [MQTTReasonCode])
    /// A QoS 1 publish, subscribe or unsubscribe request that will not complete, because the
    /// client stopped.
    case requestFailed(packetID: UInt16, error: MQTTClientError)
}

/// Where the client is in its life, for observation.
public enum MQTTClientState: Hashable, Sendable {
    /// Not started, or the first connection attempt failed.
    case idle
    /// Opening the transport or waiting for CONNACK.
    case connecting
    case connected
    /// Waiting for the next reconnect attempt at this time.
    case waitingToReconnect(until: NIODeadline)
    /// ``MQTTClientStateMachine/disconnect(now:)`` was called.
    case stopped
}
