/// The Subscription Options byte of a SUBSCRIBE topic filter (MQTT 5.0 §3.8.3.1; MQTT 3.1.1
/// §3.8.3 has only the QoS). MQTT 3.1.1 encodes only ``qos``; decoding 3.1.1 gives the other
/// options their defaults.
public struct MQTTSubscriptionOptions: Hashable, Sendable {
    /// Maximum QoS the server may deliver with.
    public var qos: MQTTQoS
    /// Do not send the subscriber its own publications (MQTT 5.0).
    public var noLocal: Bool
    /// Keep the RETAIN flag of forwarded messages (MQTT 5.0).
    public var retainAsPublished: Bool
    /// 0: send retained messages on subscribe; 1: only if the subscription is new; 2: never
    /// (MQTT 5.0). 3 is a protocol error.
    public var retainHandling: UInt8

    public init(
        qos: MQTTQoS = .atMostOnce, noLocal: Bool = false, retainAsPublished: Bool = false, retainHandling: UInt8 = 0
    ) {
        self.qos = qos
        self.noLocal = noLocal
        self.retainAsPublished = retainAsPublished
        self.retainHandling = retainHandling
    }
}

/// One topic filter of a SUBSCRIBE with its options (MQTT 5.0 §3.8.3).
public struct MQTTSubscription: Hashable, Sendable {
    /// A topic filter; its syntax (wildcard placement, `$share/`) is checked by the broker, which
    /// answers a bad one with ``MQTTReasonCode/topicFilterInvalid`` in SUBACK.
    public var filter: String
    public var options: MQTTSubscriptionOptions

    public init(filter: String, options: MQTTSubscriptionOptions = MQTTSubscriptionOptions()) {
        self.filter = filter
        self.options = options
    }
}

extension MQTTSubscriptionOptions {
    static func decode(from reader: inout MQTTCodecReader, version: MQTTProtocolVersion) throws(MQTTDecodingError)
        -> Self
    {
        let offset = reader.offset
        let byte = try reader.readByte("SUBSCRIBE.options")
        // 5.0 §3.8.3.1: bits 6 and 7 are reserved; 3.1.1 §3.8.3.1: bits 2–7 are. Both: "The Server
        // MUST treat a SUBSCRIBE packet as malformed if any of Reserved bits in the Payload are non-zero".
        let reserved: UInt8 = version == .v5 ? 0xC0 : 0xFC
        guard byte & reserved == 0 else {
            throw MQTTDecodingError(.invalidSubscriptionOptions, field: "SUBSCRIBE.options", offset: offset)
        }
        guard let qos = MQTTQoS(rawValue: byte & 0x03) else {
            throw MQTTDecodingError(.invalidQoS, field: "SUBSCRIBE.options.qos", offset: offset)
        }
        // 5.0 §3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3."
        let retainHandling = (byte >> 4) & 0x03
        guard retainHandling != 3 else {
            throw MQTTDecodingError(.invalidRetainHandling, field: "SUBSCRIBE.options.retainHandling", offset: offset)
        }
        return MQTTSubscriptionOptions(
            qos: qos, noLocal: byte & 0x04 != 0, retainAsPublished: byte & 0x08 != 0, retainHandling: retainHandling)
    }

    func encoded(version: MQTTProtocolVersion) throws(MQTTEncodingError) -> UInt8 {
        guard version == .v5 else { return qos.rawValue }
        guard retainHandling <= 2 else {
            throw MQTTEncodingError(.invalidValue, field: "SUBSCRIBE.options.retainHandling")
        }
        var byte = qos.rawValue | retainHandling << 4
        if noLocal { byte |= 0x04 }
        if retainAsPublished { byte |= 0x08 }
        return byte
    }
}
