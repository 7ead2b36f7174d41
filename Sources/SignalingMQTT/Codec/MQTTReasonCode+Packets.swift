/// Which reason codes each packet type may carry, and the MQTT 3.1.1 CONNACK return codes.
extension MQTTReasonCode {
    /// The MQTT 5.0 reason codes `kind` may carry: CONNACK §3.2.2.2, PUBACK §3.4.2.1, PUBREC
    /// §3.5.2.1, PUBREL §3.6.2.1, PUBCOMP §3.7.2.1, SUBACK §3.9.3, UNSUBACK §3.11.3,
    /// DISCONNECT §3.14.2.1, AUTH §3.15.2.1. Empty for packets without a reason code.
    static func allowed(in kind: MQTTPacket.Kind) -> Set<UInt8> {
        switch kind {
        case .connAck: connAckCodes
        case .pubAck, .pubRec: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]
        case .pubRel, .pubComp: [0x00, 0x92]
        case .subAck: [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2]
        case .unsubAck: [0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91]
        case .disconnect: disconnectCodes
        case .auth: [0x00, 0x18, 0x19]
        default: []
        }
    }

    /// Whether this code may appear in a `kind` packet of `version` (MQTT 3.1.1 SUBACK allows
    /// only 0x00, 0x01, 0x02 and 0x80, §3.9.3).
    func isAllowed(in kind: MQTTPacket.Kind, version: MQTTProtocolVersion) -> Bool {
        if version == .v3_1_1 && kind == .subAck { return [0x00, 0x01, 0x02, 0x80].contains(rawValue) }
        return Self.allowed(in: kind).contains(rawValue)
    }

    private static let connAckCodes: Set<UInt8> = [
        0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99,
        0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
    ]

    private static let disconnectCodes: Set<UInt8> = [
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96,
        0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
    ]

    /// The reason code for an MQTT 3.1.1 CONNACK return code (§3.2.2.3): 0 accepted,
    /// 1 unacceptable protocol version, 2 identifier rejected, 3 server unavailable,
    /// 4 bad user name or password, 5 not authorized; nil for the reserved values 6–255.
    init?(v3ConnectReturnCode code: UInt8) {
        switch code {
        case 0: self = .success
        case 1: self = .unsupportedProtocolVersion
        case 2: self = .clientIdentifierNotValid
        case 3: self = .serverUnavailable
        case 4: self = .badUserNameOrPassword
        case 5: self = .notAuthorized
        default: return nil
        }
    }

    /// The MQTT 3.1.1 CONNACK return code nearest to this reason code (§3.2.2.3). Codes without a
    /// 3.1.1 equivalent become 3, server unavailable.
    var v3ConnectReturnCode: UInt8 {
        switch self {
        case .success: 0
        case .unsupportedProtocolVersion: 1
        case .clientIdentifierNotValid: 2
        case .badUserNameOrPassword, .badAuthenticationMethod: 4
        case .notAuthorized, .banned: 5
        default: 3
        }
    }

    /// The MQTT 3.1.1 SUBACK return code for this reason code: 0x00–0x02 as they are, every
    /// failure as 0x80 (§3.9.3).
    var v3SubAckReturnCode: UInt8 { isFailure ? 0x80 : rawValue }
}
