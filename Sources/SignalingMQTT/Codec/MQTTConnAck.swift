import NIOCore

/// CONNACK: the server's answer to CONNECT (MQTT 3.1.1 §3.2, MQTT 5.0 §3.2).
///
/// MQTT 3.1.1 return codes map to reason codes (§3.2.2.3): 0 ``MQTTReasonCode/success``,
/// 1 ``MQTTReasonCode/unsupportedProtocolVersion``, 2 ``MQTTReasonCode/clientIdentifierNotValid``,
/// 3 ``MQTTReasonCode/serverUnavailable``, 4 ``MQTTReasonCode/badUserNameOrPassword``,
/// 5 ``MQTTReasonCode/notAuthorized``. Encoding for 3.1.1 maps other failures to the nearest code:
/// bad authentication method to 4, banned to 5, everything else to 3.
public struct MQTTConnAck: Hashable, Sendable {
    /// Must be false when ``reasonCode`` is a failure (§3.2.2.1.1).
    public var sessionPresent: Bool
    public var reasonCode: MQTTReasonCode
    /// MQTT 5.0 only (§3.2.2.3).
    public var properties: MQTTProperties

    public init(
        sessionPresent: Bool = false, reasonCode: MQTTReasonCode = .success,
        properties: MQTTProperties = MQTTProperties()
    ) {
        self.sessionPresent = sessionPresent
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

extension MQTTConnAck {
    static func decode(from reader: inout MQTTCodecReader, version: MQTTProtocolVersion) throws(MQTTDecodingError)
        -> MQTTConnAck
    {
        // §3.2.2.1: bits 7–1 of the Connect Acknowledge Flags are reserved and MUST be 0.
        let flagsOffset = reader.offset
        let flags = try reader.readByte("CONNACK.flags")
        guard flags & 0xFE == 0 else {
            throw MQTTDecodingError(.invalidConnAckFlags, field: "CONNACK.flags", offset: flagsOffset)
        }
        let codeOffset = reader.offset
        let code = try reader.readByte("CONNACK.reasonCode")
        let reasonCode: MQTTReasonCode
        switch version {
        case .v3_1_1:
            guard let mapped = MQTTReasonCode(v3ConnectReturnCode: code) else {
                throw MQTTDecodingError(.invalidReasonCode, field: "CONNACK.returnCode", offset: codeOffset)
            }
            reasonCode = mapped
        case .v5:
            reasonCode = MQTTReasonCode(rawValue: code)
            guard reasonCode.isAllowed(in: .connAck, version: .v5) else {
                throw MQTTDecodingError(.invalidReasonCode, field: "CONNACK.reasonCode", offset: codeOffset)
            }
        }
        let properties =
            version == .v5
            ? try MQTTProperties.decode(from: &reader, context: .connAck, field: "CONNACK.properties")
            : MQTTProperties()
        try reader.expectEnd("CONNACK")
        return MQTTConnAck(sessionPresent: flags & 0x01 != 0, reasonCode: reasonCode, properties: properties)
    }

    func encodeBody(into buffer: inout ByteBuffer, version: MQTTProtocolVersion) throws(MQTTEncodingError) {
        buffer.writeInteger(UInt8(sessionPresent ? 1 : 0))
        switch version {
        case .v3_1_1:
            buffer.writeInteger(reasonCode.v3ConnectReturnCode)
        case .v5:
            guard reasonCode.isAllowed(in: .connAck, version: .v5) else {
                throw MQTTEncodingError(.invalidValue, field: "CONNACK.reasonCode")
            }
            buffer.writeInteger(reasonCode.rawValue)
            try properties.encode(into: &buffer, context: .connAck, field: "CONNACK.properties")
        }
    }
}
