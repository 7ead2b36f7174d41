import NIOCore

/// DISCONNECT (MQTT 3.1.1 §3.14, MQTT 5.0 §3.14). In MQTT 5.0 either side may send it, with a
/// reason code; MQTT 3.1.1 DISCONNECT is empty, so reason code and properties are not encoded
/// and decode as ``MQTTReasonCode/normalDisconnection`` and none.
///
/// MQTT 5.0 short forms (§3.14.2.1, §3.14.2.2.1): remaining length 0 means normal disconnection
/// without properties, 1 a reason code without properties. The encoder writes the shortest form.
public struct MQTTDisconnect: Hashable, Sendable {
    public var reasonCode: MQTTReasonCode
    /// MQTT 5.0 only: Session Expiry Interval, Reason String, User Property, Server Reference.
    public var properties: MQTTProperties

    public init(reasonCode: MQTTReasonCode = .normalDisconnection, properties: MQTTProperties = MQTTProperties()) {
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

extension MQTTDisconnect {
    static func decode(from reader: inout MQTTCodecReader, version: MQTTProtocolVersion) throws(MQTTDecodingError)
        -> MQTTDisconnect
    {
        var disconnect = MQTTDisconnect()
        if version == .v5 && !reader.isAtEnd {
            let offset = reader.offset
            disconnect.reasonCode = MQTTReasonCode(rawValue: try reader.readByte("DISCONNECT.reasonCode"))
            guard disconnect.reasonCode.isAllowed(in: .disconnect, version: .v5) else {
                throw MQTTDecodingError(.invalidReasonCode, field: "DISCONNECT.reasonCode", offset: offset)
            }
            if !reader.isAtEnd {
                disconnect.properties = try MQTTProperties.decode(
                    from: &reader, context: .disconnect, field: "DISCONNECT.properties")
            }
        }
        try reader.expectEnd("DISCONNECT")
        return disconnect
    }

    func encodeBody(into buffer: inout ByteBuffer, version: MQTTProtocolVersion) throws(MQTTEncodingError) {
        guard version == .v5 else { return }
        guard reasonCode.isAllowed(in: .disconnect, version: .v5) else {
            throw MQTTEncodingError(.invalidValue, field: "DISCONNECT.reasonCode")
        }
        let codeIndex = buffer.writerIndex
        buffer.writeInteger(reasonCode.rawValue)
        let length = try properties.encode(into: &buffer, context: .disconnect, field: "DISCONNECT.properties")
        if length == 0 {
            buffer.moveWriterIndex(to: reasonCode == .normalDisconnection ? codeIndex : codeIndex + 1)
        }
    }
}
