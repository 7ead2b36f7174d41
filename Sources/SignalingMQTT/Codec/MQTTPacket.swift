public import NIOCore

/// One MQTT control packet (MQTT 3.1.1 §2–§3, MQTT 5.0 §2–§3).
///
/// Decode with ``MQTTPacketDecoder`` (a stream) or ``init(decoding:version:maximumPacketSize:)``
/// (one whole packet); encode with ``encode(into:version:)``.
public enum MQTTPacket: Hashable, Sendable {
    case connect(MQTTConnect)
    case connAck(MQTTConnAck)
    case publish(MQTTPublish)
    case pubAck(MQTTAck)
    case pubRec(MQTTAck)
    case pubRel(MQTTAck)
    case pubComp(MQTTAck)
    case subscribe(MQTTSubscribe)
    case subAck(MQTTSubAck)
    case unsubscribe(MQTTUnsubscribe)
    case unsubAck(MQTTUnsubAck)
    case pingReq
    case pingResp
    case disconnect(MQTTDisconnect)
    /// MQTT 5.0 only.
    case auth(MQTTAuth)

    /// The MQTT Control Packet type of the fixed header (MQTT 5.0 §2.1.2).
    public enum Kind: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
        case connect = 1, connAck, publish, pubAck, pubRec, pubRel, pubComp, subscribe, subAck
        case unsubscribe, unsubAck, pingReq, pingResp, disconnect, auth

        /// The name the specifications use, e.g. `PUBACK`.
        public var name: String {
            switch self {
            case .connect: "CONNECT"
            case .connAck: "CONNACK"
            case .publish: "PUBLISH"
            case .pubAck: "PUBACK"
            case .pubRec: "PUBREC"
            case .pubRel: "PUBREL"
            case .pubComp: "PUBCOMP"
            case .subscribe: "SUBSCRIBE"
            case .subAck: "SUBACK"
            case .unsubscribe: "UNSUBSCRIBE"
            case .unsubAck: "UNSUBACK"
            case .pingReq: "PINGREQ"
            case .pingResp: "PINGRESP"
            case .disconnect: "DISCONNECT"
            case .auth: "AUTH"
            }
        }

        public var description: String { name }
    }

    /// The packet's type.
    public var kind: Kind {
        switch self {
        case .connect: .connect
        case .connAck: .connAck
        case .publish: .publish
        case .pubAck: .pubAck
        case .pubRec: .pubRec
        case .pubRel: .pubRel
        case .pubComp: .pubComp
        case .subscribe: .subscribe
        case .subAck: .subAck
        case .unsubscribe: .unsubscribe
        case .unsubAck: .unsubAck
        case .pingReq: .pingReq
        case .pingResp: .pingResp
        case .disconnect: .disconnect
        case .auth: .auth
        }
    }

    /// Encodes the packet, fixed header included, at the end of `buffer`.
    ///
    /// Encoding normalises what the wire cannot carry, so that the packet decodes to an equal one
    /// except for these: a CONNECT is encoded with its own ``MQTTConnect/version`` (the `version`
    /// parameter is ignored for it); a QoS 0 PUBLISH is encoded without DUP and packet identifier;
    /// properties a packet type does not allow are left out, and so is `maximumQoS` of
    /// `.exactlyOnce`; MQTT 3.1.1 leaves out all properties, ack and DISCONNECT reason codes,
    /// and subscription options other than QoS, and maps CONNACK and SUBACK failure codes to the
    /// nearest 3.1.1 return code (see ``MQTTConnAck`` and ``MQTTSubAck``).
    ///
    /// - Parameters:
    ///   - buffer: where to append; left as it was when encoding throws.
    ///   - version: the connection's protocol version.
    /// - Throws: ``MQTTEncodingError`` when a field cannot be represented (a string or binary field
    ///   over 65,535 bytes, a string with U+0000, a remaining length over 268,435,455, a packet the
    ///   version has no form for such as AUTH in 3.1.1), or holds a value the receiver must reject
    ///   (packet identifier 0 or missing for QoS 1 and 2, a reason code the packet does not allow,
    ///   no topic filters, a topic name with wildcards, Subscription Identifier 0, …).
    public func encode(into buffer: inout ByteBuffer, version: MQTTProtocolVersion) throws(MQTTEncodingError) {
        let start = buffer.writerIndex
        do throws(MQTTEncodingError) {
            try encodeUnchecked(into: &buffer, version: version)
        } catch {
            buffer.moveWriterIndex(to: start)
            throw error
        }
    }

    /// The packet's bytes; see ``encode(into:version:)``.
    public func encoded(version: MQTTProtocolVersion) throws(MQTTEncodingError) -> ByteBuffer {
        var buffer = ByteBuffer()
        try encode(into: &buffer, version: version)
        return buffer
    }

    private func encodeUnchecked(into buffer: inout ByteBuffer, version: MQTTProtocolVersion) throws(MQTTEncodingError)
    {
        let flags: UInt8
        switch self {
        case .publish(let publish): flags = publish.flags
        // §2.1.3: PUBREL, SUBSCRIBE and UNSUBSCRIBE have flags 0b0010, every other type 0.
        case .pubRel, .subscribe, .unsubscribe: flags = 0b0010
        case .auth where version == .v3_1_1: throw MQTTEncodingError(.unsupportedInVersion, field: "AUTH")
        default: flags = 0
        }
        buffer.writeInteger(kind.rawValue << 4 | flags)
        try buffer.writeMQTTLengthPrefixed(field: "fixedHeader.remainingLength") {
            (buffer: inout ByteBuffer) throws(MQTTEncodingError) in
            switch self {
            case .connect(let connect): try connect.encodeBody(into: &buffer)
            case .connAck(let connAck): try connAck.encodeBody(into: &buffer, version: version)
            case .publish(let publish): try publish.encodeBody(into: &buffer, version: version)
            case .pubAck(let ack), .pubRec(let ack), .pubRel(let ack), .pubComp(let ack):
                try ack.encodeBody(into: &buffer, kind: kind, version: version)
            case .subscribe(let subscribe): try subscribe.encodeBody(into: &buffer, version: version)
            case .subAck(let subAck): try subAck.encodeBody(into: &buffer, version: version)
            case .unsubscribe(let unsubscribe): try unsubscribe.encodeBody(into: &buffer, version: version)
            case .unsubAck(let unsubAck): try unsubAck.encodeBody(into: &buffer, version: version)
            case .pingReq, .pingResp: break
            case .disconnect(let disconnect): try disconnect.encodeBody(into: &buffer, version: version)
            case .auth(let auth): try auth.encodeBody(into: &buffer)
            }
        }
    }
}
