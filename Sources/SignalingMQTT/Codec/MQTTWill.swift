public import NIOCore

/// The Will Message of a CONNECT (MQTT 5.0 §3.1.2.5, §3.1.3.2–§3.1.3.4): published by the server
/// when the connection ends without a normal DISCONNECT.
public struct MQTTWill: Hashable, Sendable {
    /// A topic name: not empty, no wildcards (MQTT 5.0 §3.1.3.3, §4.7.3).
    public var topic: String
    public var payload: ByteBuffer
    public var qos: MQTTQoS
    public var retain: Bool
    /// Will properties, MQTT 5.0 only (§3.1.3.2): Will Delay Interval, Payload Format Indicator,
    /// Message Expiry Interval, Content Type, Response Topic, Correlation Data, User Property.
    public var properties: MQTTProperties

    public init(
        topic: String, payload: ByteBuffer, qos: MQTTQoS = .atMostOnce, retain: Bool = false,
        properties: MQTTProperties = MQTTProperties()
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
    }
}

/// Topic name checks shared by PUBLISH and the will (MQTT 5.0 §4.7.1, §4.7.3).
enum MQTTTopicNameCheck {
    /// Whether a topic name contains a wildcard character, which topic names must not (§3.3.2.1).
    static func hasWildcard(_ topic: String) -> Bool {
        topic.utf8.contains(UInt8(ascii: "+")) || topic.utf8.contains(UInt8(ascii: "#"))
    }
}
