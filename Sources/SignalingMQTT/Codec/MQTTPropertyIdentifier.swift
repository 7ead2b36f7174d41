/// Where a property block sits: each packet type with properties, and the will (MQTT 5.0 §2.2.2.2).
enum MQTTPropertyContext: Hashable, Sendable {
    case connect, will, connAck, publish, ack, subscribe, subAck, unsubscribe, unsubAck, disconnect, auth

    /// The property context of `kind`'s variable header; PUBACK, PUBREC, PUBREL and PUBCOMP share one.
    init?(_ kind: MQTTPacket.Kind) {
        switch kind {
        case .connect: self = .connect
        case .connAck: self = .connAck
        case .publish: self = .publish
        case .pubAck, .pubRec, .pubRel, .pubComp: self = .ack
        case .subscribe: self = .subscribe
        case .subAck: self = .subAck
        case .unsubscribe: self = .unsubscribe
        case .unsubAck: self = .unsubAck
        case .disconnect: self = .disconnect
        case .auth: self = .auth
        case .pingReq, .pingResp: return nil
        }
    }
}

/// The property identifiers of MQTT 5.0 §2.2.2.2 Table 2-4.
enum MQTTPropertyIdentifier: UInt8, CaseIterable, Sendable {
    case payloadFormatIndicator = 0x01
    case messageExpiryInterval = 0x02
    case contentType = 0x03
    case responseTopic = 0x08
    case correlationData = 0x09
    case subscriptionIdentifier = 0x0B
    case sessionExpiryInterval = 0x11
    case assignedClientIdentifier = 0x12
    case serverKeepAlive = 0x13
    case authenticationMethod = 0x15
    case authenticationData = 0x16
    case requestProblemInformation = 0x17
    case willDelayInterval = 0x18
    case requestResponseInformation = 0x19
    case responseInformation = 0x1A
    case serverReference = 0x1C
    case reasonString = 0x1F
    case receiveMaximum = 0x21
    case topicAliasMaximum = 0x22
    case topicAlias = 0x23
    case maximumQoS = 0x24
    case retainAvailable = 0x25
    case userProperty = 0x26
    case maximumPacketSize = 0x27
    case wildcardSubscriptionAvailable = 0x28
    case subscriptionIdentifierAvailable = 0x29
    case sharedSubscriptionAvailable = 0x2A

    /// Whether the property may appear in `context` (MQTT 5.0 §2.2.2.2 Table 2-4).
    func isAllowed(in context: MQTTPropertyContext) -> Bool {
        switch self {
        case .payloadFormatIndicator, .messageExpiryInterval, .contentType, .responseTopic, .correlationData:
            context == .publish || context == .will
        case .subscriptionIdentifier: context == .publish || context == .subscribe
        case .sessionExpiryInterval: context == .connect || context == .connAck || context == .disconnect
        case .assignedClientIdentifier, .serverKeepAlive, .responseInformation, .maximumQoS, .retainAvailable,
            .wildcardSubscriptionAvailable, .subscriptionIdentifierAvailable, .sharedSubscriptionAvailable:
            context == .connAck
        case .authenticationMethod, .authenticationData:
            context == .connect || context == .connAck || context == .auth
        case .requestProblemInformation, .requestResponseInformation: context == .connect
        case .willDelayInterval: context == .will
        case .serverReference: context == .connAck || context == .disconnect
        case .reasonString:
            switch context {
            case .connAck, .ack, .subAck, .unsubAck, .disconnect, .auth: true
            case .connect, .will, .publish, .subscribe, .unsubscribe: false
            }
        case .receiveMaximum, .topicAliasMaximum, .maximumPacketSize: context == .connect || context == .connAck
        case .topicAlias: context == .publish
        case .userProperty: true
        }
    }

    /// Whether the property may appear more than once in `context`: User Property anywhere,
    /// Subscription Identifier in PUBLISH only (MQTT 5.0 §3.3.2.3.8, §3.8.2.1.2).
    func mayRepeat(in context: MQTTPropertyContext) -> Bool {
        self == .userProperty || (self == .subscriptionIdentifier && context == .publish)
    }
}
