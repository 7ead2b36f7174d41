/// Why a packet could not be encoded: a value MQTT cannot carry, or one the decoder would reject.
///
/// Match on ``code``. Encoding that throws leaves the output buffer as it was. Whatever encodes
/// without throwing decodes to an equal packet, except for the normalisations documented on
/// ``MQTTPacket/encode(into:version:)``.
public struct MQTTEncodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case stringTooLong, invalidString, packetTooLarge, unsupportedInVersion, invalidValue
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A string or binary field longer than 65,535 bytes (MQTT 5.0 §1.5.4, §1.5.6).
        public static let stringTooLong = Code(.stringTooLong)
        /// A string containing U+0000, which MQTT strings must not carry (MQTT 5.0 §1.5.4).
        public static let invalidString = Code(.invalidString)
        /// A remaining length (or property length) over 268,435,455 (MQTT 5.0 §1.5.5, §2.1.4).
        public static let packetTooLarge = Code(.packetTooLarge)
        /// A packet the version has no form for, such as AUTH in MQTT 3.1.1.
        public static let unsupportedInVersion = Code(.unsupportedInVersion)
        /// A value the receiver would reject: packet identifier 0 or missing, a reason code the
        /// packet does not allow, an empty subscription list, a topic name with wildcards, …
        public static let invalidValue = Code(.invalidValue)

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// Which field failed, e.g. `PUBLISH.topicName` or `SUBSCRIBE.properties.subscriptionIdentifier`.
    public let field: String

    public init(_ code: Code, field: String) {
        self.code = code
        self.field = field
    }

    public var description: String { "MQTT encoding failed: \(code) in \(field)" }
}
