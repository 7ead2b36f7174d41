/// An MQTT 5.0 Reason Code (MQTT 5.0 §2.4): one byte where values below 0x80 mean success and
/// 0x80 or above mean failure.
///
/// A struct rather than an enum so that codes this library does not name still round-trip. Some
/// values have several names depending on the packet: 0x00 is ``success``, ``normalDisconnection``
/// and ``grantedQoS0``. Which codes a packet may carry is checked when decoding and encoding
/// (see `MQTTReasonCode+Packets.swift`).
public struct MQTTReasonCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// 0x80 or above (MQTT 5.0 §2.4).
    public var isFailure: Bool { rawValue >= 0x80 }

    /// 0x00 Success (CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK, AUTH).
    public static let success = MQTTReasonCode(rawValue: 0x00)
    /// 0x00 Normal disconnection (DISCONNECT).
    public static let normalDisconnection = MQTTReasonCode(rawValue: 0x00)
    /// 0x00 Granted QoS 0 (SUBACK).
    public static let grantedQoS0 = MQTTReasonCode(rawValue: 0x00)
    /// 0x01 Granted QoS 1 (SUBACK).
    public static let grantedQoS1 = MQTTReasonCode(rawValue: 0x01)
    /// 0x02 Granted QoS 2 (SUBACK).
    public static let grantedQoS2 = MQTTReasonCode(rawValue: 0x02)
    /// 0x04 Disconnect with Will Message (DISCONNECT).
    public static let disconnectWithWillMessage = MQTTReasonCode(rawValue: 0x04)
    /// 0x10 No matching subscribers (PUBACK, PUBREC).
    public static let noMatchingSubscribers = MQTTReasonCode(rawValue: 0x10)
    /// 0x11 No subscription existed (UNSUBACK).
    public static let noSubscriptionExisted = MQTTReasonCode(rawValue: 0x11)
    /// 0x18 Continue authentication (AUTH).
    public static let continueAuthentication = MQTTReasonCode(rawValue: 0x18)
    /// 0x19 Re-authenticate (AUTH).
    public static let reAuthenticate = MQTTReasonCode(rawValue: 0x19)
    /// 0x80 Unspecified error.
    public static let unspecifiedError = MQTTReasonCode(rawValue: 0x80)
    /// 0x81 Malformed Packet.
    public static let malformedPacket = MQTTReasonCode(rawValue: 0x81)
    /// 0x82 Protocol Error.
    public static let protocolError = MQTTReasonCode(rawValue: 0x82)
    /// 0x83 Implementation specific error.
    public static let implementationSpecificError = MQTTReasonCode(rawValue: 0x83)
    /// 0x84 Unsupported Protocol Version (CONNACK).
    public static let unsupportedProtocolVersion = MQTTReasonCode(rawValue: 0x84)
    /// 0x85 Client Identifier not valid (CONNACK).
    public static let clientIdentifierNotValid = MQTTReasonCode(rawValue: 0x85)
    /// 0x86 Bad User Name or Password (CONNACK).
    public static let badUserNameOrPassword = MQTTReasonCode(rawValue: 0x86)
    /// 0x87 Not authorized.
    public static let notAuthorized = MQTTReasonCode(rawValue: 0x87)
    /// 0x88 Server unavailable (CONNACK).
    public static let serverUnavailable = MQTTReasonCode(rawValue: 0x88)
    /// 0x89 Server busy.
    public static let serverBusy = MQTTReasonCode(rawValue: 0x89)
    /// 0x8A Banned (CONNACK).
    public static let banned = MQTTReasonCode(rawValue: 0x8A)
    /// 0x8B Server shutting down (DISCONNECT).
    public static let serverShuttingDown = MQTTReasonCode(rawValue: 0x8B)
    /// 0x8C Bad authentication method.
    public static let badAuthenticationMethod = MQTTReasonCode(rawValue: 0x8C)
    /// 0x8D Keep Alive timeout (DISCONNECT).
    public static let keepAliveTimeout = MQTTReasonCode(rawValue: 0x8D)
    /// 0x8E Session taken over (DISCONNECT).
    public static let sessionTakenOver = MQTTReasonCode(rawValue: 0x8E)
    /// 0x8F Topic Filter invalid.
    public static let topicFilterInvalid = MQTTReasonCode(rawValue: 0x8F)
    /// 0x90 Topic Name invalid.
    public static let topicNameInvalid = MQTTReasonCode(rawValue: 0x90)
    /// 0x91 Packet Identifier in use.
    public static let packetIdentifierInUse = MQTTReasonCode(rawValue: 0x91)
    /// 0x92 Packet Identifier not found.
    public static let packetIdentifierNotFound = MQTTReasonCode(rawValue: 0x92)
    /// 0x93 Receive Maximum exceeded (DISCONNECT).
    public static let receiveMaximumExceeded = MQTTReasonCode(rawValue: 0x93)
    /// 0x94 Topic Alias invalid (DISCONNECT).
    public static let topicAliasInvalid = MQTTReasonCode(rawValue: 0x94)
    /// 0x95 Packet too large.
    public static let packetTooLarge = MQTTReasonCode(rawValue: 0x95)
    /// 0x96 Message rate too high (DISCONNECT).
    public static let messageRateTooHigh = MQTTReasonCode(rawValue: 0x96)
    /// 0x97 Quota exceeded.
    public static let quotaExceeded = MQTTReasonCode(rawValue: 0x97)
    /// 0x98 Administrative action (DISCONNECT).
    public static let administrativeAction = MQTTReasonCode(rawValue: 0x98)
    /// 0x99 Payload format invalid.
    public static let payloadFormatInvalid = MQTTReasonCode(rawValue: 0x99)
    /// 0x9A Retain not supported.
    public static let retainNotSupported = MQTTReasonCode(rawValue: 0x9A)
    /// 0x9B QoS not supported.
    public static let qosNotSupported = MQTTReasonCode(rawValue: 0x9B)
    /// 0x9C Use another server.
    public static let useAnotherServer = MQTTReasonCode(rawValue: 0x9C)
    /// 0x9D Server moved.
    public static let serverMoved = MQTTReasonCode(rawValue: 0x9D)
    /// 0x9E Shared Subscriptions not supported.
    public static let sharedSubscriptionsNotSupported = MQTTReasonCode(rawValue: 0x9E)
    /// 0x9F Connection rate exceeded.
    public static let connectionRateExceeded = MQTTReasonCode(rawValue: 0x9F)
    /// 0xA0 Maximum connect time (DISCONNECT).
    public static let maximumConnectTime = MQTTReasonCode(rawValue: 0xA0)
    /// 0xA1 Subscription Identifiers not supported.
    public static let subscriptionIdentifiersNotSupported = MQTTReasonCode(rawValue: 0xA1)
    /// 0xA2 Wildcard Subscriptions not supported.
    public static let wildcardSubscriptionsNotSupported = MQTTReasonCode(rawValue: 0xA2)

    public var description: String {
        let hex = "0x" + String(rawValue, radix: 16, uppercase: true).leftPadded(to: 2)
        guard let name = Self.names[rawValue] else { return hex }
        return "\(name)(\(hex))"
    }

    /// One name per value, the most general one (MQTT 5.0 §2.4 Table 2-6).
    private static let names: [UInt8: String] = [
        0x00: "success", 0x01: "grantedQoS1", 0x02: "grantedQoS2", 0x04: "disconnectWithWillMessage",
        0x10: "noMatchingSubscribers", 0x11: "noSubscriptionExisted", 0x18: "continueAuthentication",
        0x19: "reAuthenticate", 0x80: "unspecifiedError", 0x81: "malformedPacket", 0x82: "protocolError",
        0x83: "implementationSpecificError", 0x84: "unsupportedProtocolVersion", 0x85: "clientIdentifierNotValid",
        0x86: "badUserNameOrPassword", 0x87: "notAuthorized", 0x88: "serverUnavailable", 0x89: "serverBusy",
        0x8A: "banned", 0x8B: "serverShuttingDown", 0x8C: "badAuthenticationMethod", 0x8D: "keepAliveTimeout",
        0x8E: "sessionTakenOver", 0x8F: "topicFilterInvalid", 0x90: "topicNameInvalid",
        0x91: "packetIdentifierInUse", 0x92: "packetIdentifierNotFound", 0x93: "receiveMaximumExceeded",
        0x94: "topicAliasInvalid", 0x95: "packetTooLarge", 0x96: "messageRateTooHigh", 0x97: "quotaExceeded",
        0x98: "administrativeAction", 0x99: "payloadFormatInvalid", 0x9A: "retainNotSupported",
        0x9B: "qosNotSupported", 0x9C: "useAnotherServer", 0x9D: "serverMoved",
        0x9E: "sharedSubscriptionsNotSupported", 0x9F: "connectionRateExceeded", 0xA0: "maximumConnectTime",
        0xA1: "subscriptionIdentifiersNotSupported", 0xA2: "wildcardSubscriptionsNotSupported",
    ]
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
