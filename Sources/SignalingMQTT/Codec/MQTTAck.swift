import NIOCore

/// PUBACK, PUBREC, PUBREL and PUBCOMP: the QoS 1 and QoS 2 acknowledgements (MQTT 5.0 §3.4–§3.7;
/// MQTT 3.1.1 §3.4–§3.7). Which of the four is given by the ``MQTTPacket`` case.
///
/// MQTT 5.0 short forms (§3.4.2.1, §3.4.2.2.1): the reason code may be left out when it is success
/// and there are no properties (remaining length 2), and the property length when there are no
/// properties (remaining length 3). The encoder writes the shortest form; the decoder accepts all.
/// MQTT 3.1.1 carries only the packet identifier; reason code and properties are not encoded.
public struct MQTTAck: Hashable, Sendable {
    public var packetID: UInt16
    public var reasonCode: MQTTReasonCode
    /// MQTT 5.0 only: Reason String and User Property.
    public var properties: MQTTProperties

    public init(packetID: UInt16, reasonCode: MQTTReasonCode = .success, properties: MQTTProperties = MQTTProperties())
    {
        self.packetID = packetID
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

extension MQTTAck {
    static func decode(
        from reader: inout MQTTCodecReader, kind: MQTTPacket.Kind, version: MQTTProtocolVersion
    ) throws(MQTTDecodingError) -> MQTTAck {
        let name = kind.name
        let packetID = try reader.readPacketIdentifier(name + ".packetID")
        var ack = MQTTAck(packetID: packetID)
        if version == .v5 && !reader.isAtEnd {
            let codeOffset = reader.offset
            ack.reasonCode = MQTTReasonCode(rawValue: try reader.readByte(name + ".reasonCode"))
            guard ack.reasonCode.isAllowed(in: kind, version: .v5) else {
                throw MQTTDecodingError(.invalidReasonCode, field: name + ".reasonCode", offset: codeOffset)
            }
            if !reader.isAtEnd {
                ack.properties = try MQTTProperties.decode(from: &reader, context: .ack, field: name + ".properties")
            }
        }
        try reader.expectEnd(name)
        return ack
    }

    func encodeBody(into buffer: inout ByteBuffer, kind: MQTTPacket.Kind, version: MQTTProtocolVersion)
        throws(MQTTEncodingError)
    {
        guard packetID != 0 else { throw MQTTEncodingError(.invalidValue, field: kind.name + ".packetID") }
        buffer.writeInteger(packetID)
        guard version == .v5 else { return }
        guard reasonCode.isAllowed(in: kind, version: .v5) else {
            throw MQTTEncodingError(.invalidValue, field: kind.name + ".reasonCode")
        }
        let codeIndex = buffer.writerIndex
        buffer.writeInteger(reasonCode.rawValue)
        let length = try properties.encode(into: &buffer, context: .ack, field: kind.name + ".properties")
        if length == 0 {
            // No properties: drop the property length, and the reason code too if it is success.
            buffer.moveWriterIndex(to: reasonCode == .success ? codeIndex : codeIndex + 1)
        }
    }
}
