public import NIOCore

extension MQTTPacket.Kind {
    /// The packet type of a fixed header's first byte, with its flags checked (MQTT 5.0 §2.1.2,
    /// §2.1.3, §3.3.1; MQTT 3.1.1 §2.2).
    ///
    /// - Parameter version: the connection's version, nil before CONNECT.
    /// - Throws: `invalidPacketType` for type 0 (reserved) and for 15 in MQTT 3.1.1 (reserved
    ///   there); `connectExpected` for anything but CONNECT while the version is unknown;
    ///   `invalidFlags` for flags other than the type requires or DUP on a QoS 0 PUBLISH;
    ///   `invalidQoS` for PUBLISH QoS 3.
    static func validate(firstByte: UInt8, version: MQTTProtocolVersion?) throws(MQTTDecodingError) -> Self {
        guard let kind = Self(rawValue: firstByte >> 4), !(kind == .auth && version == .v3_1_1) else {
            throw MQTTDecodingError(.invalidPacketType, field: "fixedHeader.type", offset: 0)
        }
        guard version != nil || kind == .connect else {
            throw MQTTDecodingError(.connectExpected, field: "fixedHeader.type", offset: 0)
        }
        let flags = firstByte & 0x0F
        switch kind {
        case .publish:
            // §3.3.1.2: "A PUBLISH Packet MUST NOT have both QoS bits set to 1."
            guard flags & 0x06 != 0x06 else {
                throw MQTTDecodingError(.invalidQoS, field: "fixedHeader.qos", offset: 0)
            }
            // §3.3.1.1: "The DUP flag MUST be set to 0 for all QoS 0 messages."
            guard flags & 0x06 != 0 || flags & 0x08 == 0 else {
                throw MQTTDecodingError(.invalidFlags, field: "fixedHeader.dup", offset: 0)
            }
        case .pubRel, .subscribe, .unsubscribe:
            guard flags == 0b0010 else { throw MQTTDecodingError(.invalidFlags, field: "fixedHeader.flags", offset: 0) }
        default:
            guard flags == 0 else { throw MQTTDecodingError(.invalidFlags, field: "fixedHeader.flags", offset: 0) }
        }
        return kind
    }
}

extension MQTTPacket {
    /// Decodes exactly one whole packet.
    ///
    /// - Parameters:
    ///   - bytes: the packet's readable bytes, nothing before or after it.
    ///   - version: the connection's version; nil accepts only CONNECT, which carries its own.
    ///   - maximumPacketSize: the largest packet accepted, fixed header included.
    /// - Throws: ``MQTTDecodingError``; `truncated` when `bytes` end inside the packet,
    ///   `trailingBytes` when bytes follow it.
    public init(
        decoding bytes: ByteBuffer, version: MQTTProtocolVersion?,
        maximumPacketSize: Int = MQTTPacketDecoder.specMaximumPacketSize
    ) throws(MQTTDecodingError) {
        var decoder = MQTTPacketDecoder(version: version, maximumPacketSize: maximumPacketSize)
        var buffer = bytes
        guard let packet = try decoder.decode(buffer: &buffer) else {
            throw MQTTDecodingError(.truncated, field: "packet", offset: bytes.readableBytes)
        }
        guard buffer.readableBytes == 0 else {
            throw MQTTDecodingError(.trailingBytes, field: "packet", offset: bytes.readableBytes - buffer.readableBytes)
        }
        self = packet
    }

    /// Decodes the body of a whole packet whose fixed header has been checked.
    ///
    /// - Parameters:
    ///   - packet: the packet from its first byte (reader index 0) to its last.
    ///   - bodyStart: where the variable header starts (1 + the remaining length's size).
    ///   - version: the connection's version; not used for CONNECT.
    static func decodeBody(
        packet: ByteBuffer, bodyStart: Int, kind: Kind, version: MQTTProtocolVersion?
    ) throws(MQTTDecodingError) -> MQTTPacket {
        var reader = MQTTCodecReader(packet: packet, bodyStart: bodyStart)
        guard kind != .connect else { return .connect(try MQTTConnect.decode(from: &reader)) }
        // `validate(firstByte:version:)` lets only CONNECT through without a version.
        let version = version!
        let flags = packet.getInteger(at: 0, as: UInt8.self)! & 0x0F
        switch kind {
        case .connect: preconditionFailure("handled above")
        case .connAck: return .connAck(try MQTTConnAck.decode(from: &reader, version: version))
        case .publish: return .publish(try MQTTPublish.decode(from: &reader, flags: flags, version: version))
        case .pubAck: return .pubAck(try MQTTAck.decode(from: &reader, kind: kind, version: version))
        case .pubRec: return .pubRec(try MQTTAck.decode(from: &reader, kind: kind, version: version))
        case .pubRel: return .pubRel(try MQTTAck.decode(from: &reader, kind: kind, version: version))
        case .pubComp: return .pubComp(try MQTTAck.decode(from: &reader, kind: kind, version: version))
        case .subscribe: return .subscribe(try MQTTSubscribe.decode(from: &reader, version: version))
        case .subAck: return .subAck(try MQTTSubAck.decode(from: &reader, version: version))
        case .unsubscribe: return .unsubscribe(try MQTTUnsubscribe.decode(from: &reader, version: version))
        case .unsubAck: return .unsubAck(try MQTTUnsubAck.decode(from: &reader, version: version))
        case .pingReq:
            try reader.expectEnd("PINGREQ")
            return .pingReq
        case .pingResp:
            try reader.expectEnd("PINGRESP")
            return .pingResp
        case .disconnect: return .disconnect(try MQTTDisconnect.decode(from: &reader, version: version))
        case .auth: return .auth(try MQTTAuth.decode(from: &reader))
        }
    }
}
