import NIOCore

/// SUBACK: one reason code per topic filter of the SUBSCRIBE it answers (MQTT 3.1.1 §3.9,
/// MQTT 5.0 §3.9).
///
/// MQTT 3.1.1 has only 0x00, 0x01, 0x02 and 0x80; encoding for 3.1.1 sends every failure as 0x80.
public struct MQTTSubAck: Hashable, Sendable {
    public var packetID: UInt16
    public var reasonCodes: [MQTTReasonCode]
    /// MQTT 5.0 only: Reason String and User Property.
    public var properties: MQTTProperties

    public init(packetID: UInt16, reasonCodes: [MQTTReasonCode], properties: MQTTProperties = MQTTProperties()) {
        self.packetID = packetID
        self.reasonCodes = reasonCodes
        self.properties = properties
    }
}

extension MQTTSubAck {
    static func decode(from reader: inout MQTTCodecReader, version: MQTTProtocolVersion) throws(MQTTDecodingError)
        -> MQTTSubAck
    {
        let packetID = try reader.readPacketIdentifier("SUBACK.packetID")
        let properties =
            version == .v5
            ? try MQTTProperties.decode(from: &reader, context: .subAck, field: "SUBACK.properties")
            : MQTTProperties()
        var reasonCodes: [MQTTReasonCode] = []
        reasonCodes.reserveCapacity(reader.remaining)
        while !reader.isAtEnd {
            let offset = reader.offset
            let code = MQTTReasonCode(rawValue: try reader.readByte("SUBACK.reasonCode"))
            guard code.isAllowed(in: .subAck, version: version) else {
                throw MQTTDecodingError(.invalidReasonCode, field: "SUBACK.reasonCode", offset: offset)
            }
            reasonCodes.append(code)
        }
        return MQTTSubAck(packetID: packetID, reasonCodes: reasonCodes, properties: properties)
    }

    func encodeBody(into buffer: inout ByteBuffer, version: MQTTProtocolVersion) throws(MQTTEncodingError) {
        guard packetID != 0 else { throw MQTTEncodingError(.invalidValue, field: "SUBACK.packetID") }
        buffer.writeInteger(packetID)
        if version == .v5 { try properties.encode(into: &buffer, context: .subAck, field: "SUBACK.properties") }
        for code in reasonCodes {
            let byte = version == .v5 ? code.rawValue : code.v3SubAckReturnCode
            guard MQTTReasonCode(rawValue: byte).isAllowed(in: .subAck, version: version) else {
                throw MQTTEncodingError(.invalidValue, field: "SUBACK.reasonCode")
            }
            buffer.writeInteger(byte)
        }
    }
}
