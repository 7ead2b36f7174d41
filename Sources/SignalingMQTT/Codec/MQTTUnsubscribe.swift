import NIOCore

/// UNSUBSCRIBE: one or more topic filters to remove (MQTT 3.1.1 §3.10, MQTT 5.0 §3.10).
public struct MQTTUnsubscribe: Hashable, Sendable {
    public var packetID: UInt16
    /// At least one (§3.10.3).
    public var filters: [String]
    /// MQTT 5.0 only: User Property.
    public var properties: MQTTProperties

    public init(packetID: UInt16, filters: [String], properties: MQTTProperties = MQTTProperties()) {
        self.packetID = packetID
        self.filters = filters
        self.properties = properties
    }
}

extension MQTTUnsubscribe {
    static func decode(from reader: inout MQTTCodecReader, version: MQTTProtocolVersion) throws(MQTTDecodingError)
        -> MQTTUnsubscribe
    {
        let packetID = try reader.readPacketIdentifier("UNSUBSCRIBE.packetID")
        let properties =
            version == .v5
            ? try MQTTProperties.decode(from: &reader, context: .unsubscribe, field: "UNSUBSCRIBE.properties")
            : MQTTProperties()
        // 5.0 §3.10.3: "An UNSUBSCRIBE packet with no Payload is a Protocol Error."
        guard !reader.isAtEnd else {
            throw MQTTDecodingError(.noTopicFilters, field: "UNSUBSCRIBE.payload", offset: reader.offset)
        }
        var filters: [String] = []
        while !reader.isAtEnd {
            filters.append(try reader.readString("UNSUBSCRIBE.topicFilter"))
        }
        return MQTTUnsubscribe(packetID: packetID, filters: filters, properties: properties)
    }

    func encodeBody(into buffer: inout ByteBuffer, version: MQTTProtocolVersion) throws(MQTTEncodingError) {
        guard packetID != 0 else { throw MQTTEncodingError(.invalidValue, field: "UNSUBSCRIBE.packetID") }
        guard !filters.isEmpty else { throw MQTTEncodingError(.invalidValue, field: "UNSUBSCRIBE.payload") }
        buffer.writeInteger(packetID)
        if version == .v5 {
            try properties.encode(into: &buffer, context: .unsubscribe, field: "UNSUBSCRIBE.properties")
        }
        for filter in filters {
            try buffer.writeMQTTString(filter, field: "UNSUBSCRIBE.topicFilter")
        }
    }
}
