/// The properties of an MQTT 5.0 packet or will (MQTT 5.0 §2.2.2). `nil` or empty means absent.
///
/// One struct serves every packet; only the properties valid for a packet type (§2.2.2.2) are
/// encoded for it, the others are left out, and a property not allowed in the packet it arrives in
/// is a protocol error on decode. MQTT 3.1.1 packets carry no properties: they are ignored when
/// encoding for 3.1.1 and always empty when decoding 3.1.1.
public struct MQTTProperties: Hashable, Sendable {
    /// 0x01, PUBLISH and will: 0 unspecified bytes, 1 UTF-8 (§3.3.2.3.2).
    public var payloadFormatIndicator: UInt8?
    /// 0x02, PUBLISH and will: lifetime of the message in seconds (§3.3.2.3.3).
    public var messageExpiryInterval: UInt32?
    /// 0x03, PUBLISH and will: the MIME type of the payload (§3.3.2.3.9).
    public var contentType: String?
    /// 0x08, PUBLISH and will: the topic for a response (§3.3.2.3.5).
    public var responseTopic: String?
    /// 0x09, PUBLISH and will: correlation of a response with its request (§3.3.2.3.6).
    public var correlationData: [UInt8]?
    /// 0x0B, PUBLISH (any number, from server to client) and SUBSCRIBE (at most one): each in
    /// 1...268,435,455 (§3.3.2.3.8, §3.8.2.1.2).
    public var subscriptionIdentifiers: [Int]
    /// 0x11, CONNECT, CONNACK, DISCONNECT: seconds (§3.1.2.11.2).
    public var sessionExpiryInterval: UInt32?
    /// 0x12, CONNACK: the client identifier the server assigned (§3.2.2.3.7).
    public var assignedClientIdentifier: String?
    /// 0x13, CONNACK: the keep alive the client must use (§3.2.2.3.14).
    public var serverKeepAlive: UInt16?
    /// 0x15, CONNECT, CONNACK, AUTH: extended authentication method (§4.12).
    public var authenticationMethod: String?
    /// 0x16, CONNECT, CONNACK, AUTH: extended authentication data (§4.12).
    public var authenticationData: [UInt8]?
    /// 0x17, CONNECT: 0 or 1 (§3.1.2.11.7).
    public var requestProblemInformation: UInt8?
    /// 0x18, will: seconds before the will is published (§3.1.3.2.2).
    public var willDelayInterval: UInt32?
    /// 0x19, CONNECT: 0 or 1 (§3.1.2.11.6).
    public var requestResponseInformation: UInt8?
    /// 0x1A, CONNACK: basis for response topics (§3.2.2.3.15).
    public var responseInformation: String?
    /// 0x1C, CONNACK, DISCONNECT: another server to use (§4.11).
    public var serverReference: String?
    /// 0x1F, CONNACK, acks, SUBACK, UNSUBACK, DISCONNECT, AUTH: human-readable diagnostics.
    public var reasonString: String?
    /// 0x21, CONNECT, CONNACK: concurrent QoS 1 and 2 publications, not 0 (§3.1.2.11.3).
    public var receiveMaximum: UInt16?
    /// 0x22, CONNECT, CONNACK: highest topic alias accepted (§3.1.2.11.5).
    public var topicAliasMaximum: UInt16?
    /// 0x23, PUBLISH: not 0 (§3.3.2.3.4).
    public var topicAlias: UInt16?
    /// 0x24, CONNACK: 0 or 1; absent means QoS 2 is supported, so `.exactlyOnce` is encoded as
    /// absent (§3.2.2.3.4).
    public var maximumQoS: MQTTQoS?
    /// 0x25, CONNACK (§3.2.2.3.5).
    public var retainAvailable: Bool?
    /// 0x26, every packet but PINGREQ and PINGRESP, and the will: any number, in order (§3.1.2.11.8).
    public var userProperties: [MQTTUserProperty]
    /// 0x27, CONNECT, CONNACK: largest packet accepted, not 0 (§3.1.2.11.4).
    public var maximumPacketSize: UInt32?
    /// 0x28, CONNACK (§3.2.2.3.11).
    public var wildcardSubscriptionAvailable: Bool?
    /// 0x29, CONNACK (§3.2.2.3.12).
    public var subscriptionIdentifiersAvailable: Bool?
    /// 0x2A, CONNACK (§3.2.2.3.13).
    public var sharedSubscriptionAvailable: Bool?

    /// No properties.
    public init() {
        subscriptionIdentifiers = []
        userProperties = []
    }

    /// True when no property is present.
    public var isEmpty: Bool { self == MQTTProperties() }
}
