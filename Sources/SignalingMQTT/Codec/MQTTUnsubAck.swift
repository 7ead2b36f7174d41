import NIOCore

/// UNSUBACK (MQTT 3.1.1 §3.11, MQTT 5.0 §3.11). MQTT 3.1.1 has no reason codes: it is encoded
/// with the packet identifier only, and decodes with ``reasonCodes`` empty.
public struct MQTTUnsubAck: Hashable, Sendable {
    public var packetID: UInt16
    /// MQTT 5.0: one per topic filter of the UNSUBSCRIBE.
    public var reasonCodes: [MQTTReasonCode]
    /// MQTT 5.0 only: Reason String and User Property.
    public var properties: MQTTProperties

    public init(packetID: UInt16, reasonCodes: [MQTTReasonCode] = [], properties: MQTTProperties = MQTTProperties()) {
        self.packetID = packetID
        self.reasonCodes = reasonCodes
        self.properties = properties
    }
}

extension MQTTUnsubAck {
    static func decode(from reader: inout MQTTCodecReader, version: MQTTProtocolVersion) throws(MQTTDecodingError)
        -> MQTTUnsubAck
    {
        let packetID = try reader.readPacketIdentifier("UNSUBACK.packetID")
        guard version == .v5 else {
            try reader.expectEnd("UNSUBACK")
            return MQTTUnsubAck(packetID: packetID)
        }
        let properties = try MQTTProperties.decode(from: &reader, context: .unsubAck, field: "UNSUBACK.properties")
        var reasonCodes: [MQTTReasonCode] = []
        reasonCodes.reserveCapacity(reader.remaining)
        while !reader.isAtEnd {
            let offset = reader.offset
            let code = MQTTReasonCode(rawValue: try reader.readByte("UNSUBACK.reasonCode"))
            guard code.isAllowed(in: .unsubAck, version: .v5) else {
                throw MQTTDecodingError(.invalidReasonCode, field: "UNSUBACK.reasonCode", offset: offset)
            }
            reasonCodes.append(code)
        }
        return MQTTUnsubAck(packetID: packetID, reasonCodes: reasonCodes, properties: properties)
    }

    func encodeBody(into buffer: inout ByteBuffer, version: MQTTProtocolVersion) throws(MQTTEncodingError) {
        guard packetID != 0 else { throw MQTTEncodingError(.invalidValue, field: "UNSUBACK.packetID") }
        buffer.writeInteger(packetID)
        guard version == .v5 else { return }
        try properties.encode(into: &buffer, context: .unsubAck, field: "UNSUBACK.properties")
        for code in reasonCodes {
            guard code.isAllowed(in: .unsubAck, version: .v5) else {
                throw MQTTEncodingError(.invalidValue, field: "UNSUBACK.reasonCode")
            }
            buffer.writeInteger(code.rawValue)
        }
    }
}
