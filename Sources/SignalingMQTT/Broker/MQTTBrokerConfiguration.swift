public import NIOCore

/// Limits and timers of the broker; every value is a plain setting so tests can shrink them.
public struct MQTTBrokerConfiguration: Sendable, Hashable {
    /// Largest packet accepted from clients (MQTT 5.0 §3.2.2.3.6 Maximum Packet Size, sent in CONNACK).
    public var maximumPacketSize: Int
    /// QoS 1/2 publishes a client may have unacknowledged towards us (MQTT 5.0 §3.2.2.3.3).
    public var receiveMaximum: UInt16
    /// Topic aliases a client may use towards us (MQTT 5.0 §3.2.2.3.8); 0 disables them.
    public var topicAliasMaximum: UInt16
    /// Messages held per session while its client is offline, slow or at its receive maximum.
    /// Beyond this, messages are dropped and counted, and a connected client that cannot keep
    /// up is disconnected, so it never slows anyone else.
    public var maximumQueuedMessages: Int
    /// How long a new connection may take to send CONNECT (slowloris guard).
    public var connectTimeout: TimeAmount
    /// How long authentication may take before the connection is refused.
    public var authenticationTimeout: TimeAmount
    /// Upper bound on a v5 session expiry interval, in seconds.
    public var maximumSessionExpiry: UInt32
    /// Keep-alive the server imposes when a client asks for 0 (none) or more than this, in seconds;
    /// nil keeps the client's value (MQTT 5.0 §3.2.2.3.14 Server Keep Alive).
    public var maximumKeepAlive: UInt16?
    /// Forward a publisher's repeated plain QoS 0 messages to one topic as the bytes they arrived
    /// in, along the route the full path recorded (see `MQTTBroker+Forward.swift`); false sends
    /// every message through the full path (for differential tests: the deliveries are the same).
    public var forwardsRepeatedMessages: Bool

    public init(
        maximumPacketSize: Int = 1 << 20, receiveMaximum: UInt16 = 256, topicAliasMaximum: UInt16 = 32,
        maximumQueuedMessages: Int = 1000, connectTimeout: TimeAmount = .seconds(10),
        authenticationTimeout: TimeAmount = .seconds(10), maximumSessionExpiry: UInt32 = 24 * 3600,
        maximumKeepAlive: UInt16? = nil, forwardsRepeatedMessages: Bool = true
    ) {
        self.maximumPacketSize = maximumPacketSize
        self.receiveMaximum = receiveMaximum
        self.topicAliasMaximum = topicAliasMaximum
        self.maximumQueuedMessages = maximumQueuedMessages
        self.connectTimeout = connectTimeout
        self.authenticationTimeout = authenticationTimeout
        self.maximumSessionExpiry = maximumSessionExpiry
        self.maximumKeepAlive = maximumKeepAlive
        self.forwardsRepeatedMessages = forwardsRepeatedMessages
    }
}

/// Identifies one network connection to the broker; chosen by the transport.
public struct MQTTConnectionID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "#\(rawValue)" }
}
