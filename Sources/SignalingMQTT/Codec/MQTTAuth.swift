import NIOCore

/// AUTH: extended authentication exchange, MQTT 5.0 only (§3.15, §4.12). MQTT 3.1.1 has no AUTH:
/// packet type 15 is malformed there and encoding it for 3.1.1 throws.
///
/// Short form (§3.15.2.1): remaining length 0 means success without properties. Otherwise both
/// the reason code and the property length are present.
public struct MQTTAuth: Hashable, Sendable {
    /// ``MQTTReasonCode/success``, ``MQTTReasonCode/continueAuthentication`` or
    /// ``MQTTReasonCode/reAuthenticate``.
    public var reasonCode: MQTTReasonCode
    /// Authentication Method, Authentication Data, Reason String, User Property.
    public var properties: MQTTProperties

    public init(reasonCode: MQTTReasonCode = .success, properties: MQTTProperties = MQTTProperties()) {
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

extension MQTTAuth {
    static func decode(from reader: inout MQTTCodecReader) throws(MQTTDecodingError) -> MQTTAuth {
        guard !reader.isAtEnd else { return MQTTAuth() }
        let offset = reader.offset
        let reasonCode = MQTTReasonCode(rawValue: try reader.readByte("AUTH.reasonCode"))
        guard reasonCode.isAllowed(in: .auth, version: .v5) else {
            throw MQTTDecodingError(.invalidReasonCode, field: "AUTH.reasonCode", offset: offset)
        }
        let properties = try MQTTProperties.decode(from: &reader, context: .auth, field: "AUTH.properties")
        try reader.expectEnd("AUTH")
        return MQTTAuth(reasonCode: reasonCode, properties: properties)
    }

    func encodeBody(into buffer: inout ByteBuffer) throws(MQTTEncodingError) {
        guard reasonCode.isAllowed(in: .auth, version: .v5) else {
            throw MQTTEncodingError(.invalidValue, field: "AUTH.reasonCode")
        }
        let codeIndex = buffer.writerIndex
        buffer.writeInteger(reasonCode.rawValue)
        let length = try properties.encode(into: &buffer, context: .auth, field: "AUTH.properties")
        if length == 0 && reasonCode == .success { buffer.moveWriterIndex(to: codeIndex) }
    }
}
