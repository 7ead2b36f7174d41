import NIOCore

/// SUBSCRIBE: one or more topic filters to subscribe to (MQTT 3.1.1 §3.8, MQTT 5.0 §3.8).
public struct MQTTSubscribe: Hashable, Sendable {
    public var packetID: UInt16
    /// At least one (§3.8.3).
    public var subscriptions: [MQTTSubscription]
    /// MQTT 5.0 only: at most one Subscription Identifier, and User Property.
    public var properties: MQTTProperties

    public init(packetID: UInt16, subscriptions: [MQTTSubscription], properties: MQTTProperties = MQTTProperties()) {
        self.packetID = packetID
        self.subscriptions = subscriptions
        self.properties = properties
    }
}

extension MQTTSubscribe {
    static func decode(from reader: inout MQTTCodecReader, version: MQTTProtocolVersion) throws(MQTTDecodingError)
        -> MQTTSubscribe
    {
        let packetID = try reader.readPacketIdentifier("SUBSCRIBE.packetID")
        let properties =
            version == .v5
            ? try MQTTProperties.decode(from: &reader, context: .subscribe, field: "SUBSCRIBE.properties")
            : MQTTProperties()
        // 5.0 §3.8.3: "A SUBSCRIBE packet with no Payload is a Protocol Error."
        guard !reader.isAtEnd else {
            throw MQTTDecodingError(.noTopicFilters, field: "SUBSCRIBE.payload", offset: reader.offset)
        }
        var subscriptions: [MQTTSubscription] = []
        while !reader.isAtEnd {
            let filter = try reader.readString("SUBSCRIBE.topicFilter")
            let options = try MQTTSubscriptionOptions.decode(from: &reader, version: version)
            subscriptions.append(MQTTSubscription(filter: filter, options: options))
        }
        return MQTTSubscribe(packetID: packetID, subscriptions: subscriptions, properties: properties)
    }

    func encodeBody(into buffer: inout ByteBuffer, version: MQTTProtocolVersion) throws(MQTTEncodingError) {
        guard packetID != 0 else { throw MQTTEncodingError(.invalidValue, field: "SUBSCRIBE.packetID") }
        guard !subscriptions.isEmpty else { throw MQTTEncodingError(.invalidValue, field: "SUBSCRIBE.payload") }
        buffer.writeInteger(packetID)
        if version == .v5 { try properties.encode(into: &buffer, context: .subscribe, field: "SUBSCRIBE.properties") }
        for subscription in subscriptions {
            try buffer.writeMQTTString(subscription.filter, field: "SUBSCRIBE.topicFilter")
            buffer.writeInteger(try subscription.options.encoded(version: version))
        }
    }
}
