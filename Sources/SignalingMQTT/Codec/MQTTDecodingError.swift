/// Why bytes could not be decoded as an MQTT packet, with the field and byte offset that failed.
///
/// Match on ``code``; the message text is for people. Every error ends the connection: the
/// stream cannot be resynchronised. ``reasonCode`` is what to close with: an MQTT 5.0 server
/// sends DISCONNECT (or, for a bad CONNECT, CONNACK) with it first (MQTT 5.0 §4.13); an
/// MQTT 3.1.1 server just closes (MQTT 3.1.1 §4.8), except that an unsupported protocol level
/// is answered with a 3.1.1 CONNACK return code 1 (§3.1.2.2).
public struct MQTTDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case invalidPacketType, invalidFlags, invalidQoS, malformedVariableByteInteger
            case truncated, trailingBytes, invalidUTF8, nullCharacter
            case invalidProtocolName, unsupportedProtocolVersion, invalidConnectFlags, invalidConnAckFlags
            case invalidSubscriptionOptions, invalidRetainHandling, zeroPacketIdentifier, noTopicFilters
            case invalidReasonCode, unknownProperty, duplicateProperty, propertyNotAllowed, invalidPropertyValue
            case invalidTopicName, missingTopicName, invalidTopicAlias, packetTooLarge, connectExpected
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Packet type 0, or 15 (AUTH) on an MQTT 3.1.1 connection (MQTT 3.1.1 §2.2.1).
        public static let invalidPacketType = Code(.invalidPacketType)
        /// Fixed-header flags other than the type requires (MQTT 5.0 §2.1.3), or DUP set on a QoS 0
        /// PUBLISH (MQTT 5.0 §3.3.1.1).
        public static let invalidFlags = Code(.invalidFlags)
        /// A QoS of 3 in PUBLISH, the will or a subscription (MQTT 5.0 §3.3.1.2, §3.1.2.6, §3.8.3.1).
        public static let invalidQoS = Code(.invalidQoS)
        /// A Variable Byte Integer longer than 4 bytes or not in its shortest form (MQTT 5.0 §1.5.5).
        public static let malformedVariableByteInteger = Code(.malformedVariableByteInteger)
        /// A field runs past the end of the packet or of its property block (the remaining length
        /// or a nested length is too short).
        public static let truncated = Code(.truncated)
        /// Bytes are left over after the last field (the remaining length is too long).
        public static let trailingBytes = Code(.trailingBytes)
        /// A UTF-8 Encoded String is not well-formed UTF-8 (MQTT 5.0 §1.5.4).
        public static let invalidUTF8 = Code(.invalidUTF8)
        /// A UTF-8 Encoded String contains U+0000 (MQTT 5.0 §1.5.4).
        public static let nullCharacter = Code(.nullCharacter)
        /// The CONNECT protocol name is not "MQTT" (MQTT 5.0 §3.1.2.1).
        public static let invalidProtocolName = Code(.invalidProtocolName)
        /// The CONNECT protocol level is not 4 or 5, or the name is MQTT 3.1's "MQIsdp" (§3.1.2.2).
        public static let unsupportedProtocolVersion = Code(.unsupportedProtocolVersion)
        /// The CONNECT reserved flag is set, will QoS or will retain are set without the will flag,
        /// or (MQTT 3.1.1 only) the password flag is set without the user name flag (§3.1.2.3–§3.1.2.9).
        public static let invalidConnectFlags = Code(.invalidConnectFlags)
        /// A reserved CONNACK acknowledge flag is set (MQTT 5.0 §3.2.2.1).
        public static let invalidConnAckFlags = Code(.invalidConnAckFlags)
        /// A reserved bit of a subscription's options is set (MQTT 5.0 §3.8.3.1; 3.1.1 §3.8.3.1).
        public static let invalidSubscriptionOptions = Code(.invalidSubscriptionOptions)
        /// Retain Handling of 3 (MQTT 5.0 §3.8.3.1).
        public static let invalidRetainHandling = Code(.invalidRetainHandling)
        /// A packet identifier of 0 where one is required (MQTT 5.0 §2.2.1).
        public static let zeroPacketIdentifier = Code(.zeroPacketIdentifier)
        /// SUBSCRIBE or UNSUBSCRIBE without a topic filter (MQTT 5.0 §3.8.3, §3.10.3).
        public static let noTopicFilters = Code(.noTopicFilters)
        /// A reason code (or MQTT 3.1.1 return code) the packet type does not define (MQTT 5.0 §2.4).
        public static let invalidReasonCode = Code(.invalidReasonCode)
        /// A property identifier MQTT 5.0 does not define (§2.2.2.2).
        public static let unknownProperty = Code(.unknownProperty)
        /// A property given twice that may appear only once (MQTT 5.0 §2.2.2.2).
        public static let duplicateProperty = Code(.duplicateProperty)
        /// A property the packet type does not allow (MQTT 5.0 §2.2.2.2).
        public static let propertyNotAllowed = Code(.propertyNotAllowed)
        /// A property value out of its range, e.g. Receive Maximum 0 or Subscription Identifier 0.
        public static let invalidPropertyValue = Code(.invalidPropertyValue)
        /// A topic name with a wildcard, or an empty will topic (MQTT 5.0 §3.3.2.1, §4.7.3).
        public static let invalidTopicName = Code(.invalidTopicName)
        /// An empty PUBLISH topic name without a Topic Alias (MQTT 5.0 §3.3.2.3.4; 3.1.1 §4.7.3).
        public static let missingTopicName = Code(.missingTopicName)
        /// A Topic Alias of 0 (MQTT 5.0 §3.3.2.3.4).
        public static let invalidTopicAlias = Code(.invalidTopicAlias)
        /// The packet is larger than the decoder's maximum packet size (MQTT 5.0 §3.1.2.11.4).
        public static let packetTooLarge = Code(.packetTooLarge)
        /// The decoder does not know the protocol version yet and the packet is not a CONNECT
        /// (MQTT 5.0 §3.1: the first packet from a client is CONNECT).
        public static let connectExpected = Code(.connectExpected)

        /// The reason code MQTT 5.0 §4.13 says to close with for this error.
        public var reasonCode: MQTTReasonCode {
            switch base {
            case .invalidPacketType, .invalidFlags, .invalidQoS, .malformedVariableByteInteger, .truncated,
                .trailingBytes, .invalidUTF8, .nullCharacter, .invalidConnectFlags, .invalidConnAckFlags,
                .invalidSubscriptionOptions, .unknownProperty:
                .malformedPacket
            case .invalidRetainHandling, .zeroPacketIdentifier, .noTopicFilters, .invalidReasonCode,
                .duplicateProperty, .propertyNotAllowed, .invalidPropertyValue, .missingTopicName, .connectExpected:
                .protocolError
            case .invalidProtocolName, .unsupportedProtocolVersion: .unsupportedProtocolVersion
            case .invalidTopicName: .topicNameInvalid
            case .invalidTopicAlias: .topicAliasInvalid
            case .packetTooLarge: .packetTooLarge
            }
        }

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// Which field failed, e.g. `fixedHeader.flags`, `CONNECT.protocolLevel` or
    /// `PUBLISH.properties.topicAlias`.
    public let field: String
    /// Byte offset of the failing field from the first byte of the packet (its fixed header).
    public let offset: Int

    /// The MQTT 5.0 reason code to close with: malformedPacket (0x81), protocolError (0x82),
    /// packetTooLarge (0x95), topicNameInvalid (0x90), topicAliasInvalid (0x94) or
    /// unsupportedProtocolVersion (0x84).
    public var reasonCode: MQTTReasonCode { code.reasonCode }

    public init(_ code: Code, field: String, offset: Int) {
        self.code = code
        self.field = field
        self.offset = offset
    }

    public var description: String { "MQTT decoding failed: \(code) in \(field) at byte \(offset)" }
}
