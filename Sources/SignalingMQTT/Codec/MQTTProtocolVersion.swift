/// The protocol level a connection speaks, as carried in CONNECT (MQTT 3.1.1 §3.1.2.2,
/// MQTT 5.0 §3.1.2.2). MQTT 3.1 ("MQIsdp", level 3) is not supported.
public enum MQTTProtocolVersion: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// OASIS MQTT 3.1.1, protocol level 4.
    case v3_1_1 = 4
    /// OASIS MQTT 5.0, protocol level 5.
    case v5 = 5

    public var description: String {
        switch self {
        case .v3_1_1: "MQTT 3.1.1"
        case .v5: "MQTT 5.0"
        }
    }
}
