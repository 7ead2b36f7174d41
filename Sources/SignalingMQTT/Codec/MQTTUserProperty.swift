/// A User Property: a UTF-8 string pair that may appear any number of times, in order, in most
/// MQTT 5.0 packets (MQTT 5.0 §3.1.2.11.8 and §1.5.7). The same name may appear more than once.
public struct MQTTUserProperty: Hashable, Sendable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}
