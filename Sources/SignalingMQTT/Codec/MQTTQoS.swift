/// Quality of service of a message or subscription (MQTT 3.1.1 §4.3, MQTT 5.0 §4.3).
///
/// Ordered by strength, so `min(publish.qos, subscription.qos)` is the delivered QoS
/// (MQTT 5.0 §3.8.4).
public enum MQTTQoS: UInt8, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    case atMostOnce = 0
    case atLeastOnce = 1
    case exactlyOnce = 2

    public static func < (lhs: MQTTQoS, rhs: MQTTQoS) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "QoS \(rawValue)" }
}
