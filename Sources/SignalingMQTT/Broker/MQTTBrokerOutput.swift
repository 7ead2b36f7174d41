public import NIOCore

/// What the broker asks its transport to do; drained with ``MQTTBroker/pollOutput()``.
public enum MQTTBrokerOutput: Sendable {
    /// Write these bytes to the connection.
    case send(MQTTConnectionID, ByteBuffer)
    /// Flush and close the connection (after any bytes queued before this output).
    case close(MQTTConnectionID)
    /// Check this CONNECT's credentials, then call ``MQTTBroker/completeAuthentication(_:accepted:now:)``.
    case authenticate(MQTTConnectionID, MQTTConnect)
    /// Something worth logging and counting.
    case event(MQTTBrokerEvent)
}

/// Notable things that happened, for logs and metrics.
public enum MQTTBrokerEvent: Sendable, Hashable {
    case connected(MQTTConnectionID, clientID: String, kind: String, version: MQTTProtocolVersion, sessionPresent: Bool)
    case refused(MQTTConnectionID, clientID: String?, reason: MQTTReasonCode)
    case disconnected(MQTTConnectionID, clientID: String, kind: String, reason: MQTTReasonCode)
    /// The connection sent something that is not MQTT; it is closed.
    case malformed(MQTTConnectionID, description: String, reason: MQTTReasonCode)
    case protocolViolation(MQTTConnectionID, description: String, reason: MQTTReasonCode)
    case publishRefused(MQTTConnectionID, clientID: String, topic: String)
    case subscribeRefused(MQTTConnectionID, clientID: String, filter: String)
    /// A message was dropped because a session's queue was full.
    case messageDropped(clientID: String)
    /// A client that could not keep up was disconnected.
    case slowClientDisconnected(MQTTConnectionID, clientID: String)
    case willPublished(clientID: String, topic: String)
}

/// Running totals.
public struct MQTTBrokerStatistics: Sendable, Hashable {
    public var connectionsAccepted = 0
    public var connectionsRefused = 0
    public var authenticationFailures = 0
    public var malformedPackets = 0
    public var protocolViolations = 0
    public var messagesReceived = 0
    public var messagesDelivered = 0
    public var messagesDropped = 0
    public var publishesRefused = 0
    public var slowClientsDisconnected = 0
    public var willsPublished = 0

    public init() {}
}
