public import NIOCore

/// PUBLISH: an application message (MQTT 3.1.1 §3.3, MQTT 5.0 §3.3).
public struct MQTTPublish: Hashable, Sendable {
    /// A topic name without wildcards. May be empty in MQTT 5.0 when ``properties`` carries a Topic
    /// Alias (§3.3.2.3.4).
    public var topic: String
    public var payload: ByteBuffer
    public var qos: MQTTQoS
    public var retain: Bool
    /// Only meaningful for QoS 1 and 2; a QoS 0 PUBLISH is encoded with DUP 0 (§3.3.1.1).
    public var dup: Bool
    /// Required (non-zero) for QoS 1 and 2; absent for QoS 0, where it is not encoded (§2.2.1).
    public var packetID: UInt16?
    /// MQTT 5.0 only (§3.3.2.3).
    public var properties: MQTTProperties

    public init(
        topic: String, payload: ByteBuffer, qos: MQTTQoS = .atMostOnce, retain: Bool = false, dup: Bool = false,
        packetID: UInt16? = nil, properties: MQTTProperties = MQTTProperties()
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.dup = dup
        self.packetID = packetID
        self.properties = properties
    }
}

extension MQTTPublish {
    /// The fixed-header flags: DUP, QoS, RETAIN (§3.3.1). DUP is 0 for QoS 0.
    var flags: UInt8 {
        var flags = qos.rawValue << 1
        if retain { flags |= 0x01 }
        if dup && qos != .atMostOnce { flags |= 0x08 }
        return flags
    }

    /// - Parameter flags: fixed-header flags already checked by `MQTTPacket.Kind.validate(firstByte:version:)`.
    static func decode(
        from reader: inout MQTTCodecReader, flags: UInt8, version: MQTTProtocolVersion
    ) throws(MQTTDecodingError) -> MQTTPublish {
        let qos = MQTTQoS(rawValue: (flags >> 1) & 0x03)!
        let topicOffset = reader.offset
        let topic = try reader.readString("PUBLISH.topicName")
        // §3.3.2.1: "The Topic Name in the PUBLISH packet MUST NOT contain wildcard characters."
        if MQTTTopicNameCheck.hasWildcard(topic) {
            throw MQTTDecodingError(.invalidTopicName, field: "PUBLISH.topicName", offset: topicOffset)
        }
        let packetID = qos == .atMostOnce ? nil : try reader.readPacketIdentifier("PUBLISH.packetID")
        let properties =
            version == .v5
            ? try MQTTProperties.decode(from: &reader, context: .publish, field: "PUBLISH.properties")
            : MQTTProperties()
        // 5.0 §3.3.2.3.4: "It is a Protocol Error if the Topic Name is zero length and there is no
        // Topic Alias." 3.1.1 §4.7.3: topic names are at least one character long.
        if topic.isEmpty && properties.topicAlias == nil {
            throw MQTTDecodingError(.missingTopicName, field: "PUBLISH.topicName", offset: topicOffset)
        }
        return MQTTPublish(
            topic: topic, payload: reader.readRest(), qos: qos, retain: flags & 0x01 != 0, dup: flags & 0x08 != 0,
            packetID: packetID, properties: properties)
    }

    func encodeBody(into buffer: inout ByteBuffer, version: MQTTProtocolVersion) throws(MQTTEncodingError) {
        if MQTTTopicNameCheck.hasWildcard(topic)
            || (topic.isEmpty && (version == .v3_1_1 || properties.topicAlias == nil))
        {
            throw MQTTEncodingError(.invalidValue, field: "PUBLISH.topicName")
        }
        try buffer.writeMQTTString(topic, field: "PUBLISH.topicName")
        if qos != .atMostOnce {
            guard let packetID, packetID != 0 else { throw MQTTEncodingError(.invalidValue, field: "PUBLISH.packetID") }
            buffer.writeInteger(packetID)
        }
        if version == .v5 { try properties.encode(into: &buffer, context: .publish, field: "PUBLISH.properties") }
        buffer.writeImmutableBuffer(payload)
    }
}
