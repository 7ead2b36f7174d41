import NIOCore

/// CONNECT: the first packet a client sends (MQTT 3.1.1 §3.1, MQTT 5.0 §3.1).
///
/// It carries its own protocol version, so it is encoded with ``version`` whatever version the
/// encoder is asked for, and decoded with the level it carries.
public struct MQTTConnect: Hashable, Sendable {
    public var version: MQTTProtocolVersion
    /// Clean Start (5.0) or Clean Session (3.1.1) (§3.1.2.4).
    public var cleanStart: Bool
    /// Seconds; 0 turns keep alive off (§3.1.2.10).
    public var keepAlive: UInt16
    /// May be empty; then the server assigns one (5.0 §3.1.3.1) or, in 3.1.1 with Clean Session 0,
    /// must reject the connection with return code 2 (3.1.1 §3.1.3.1) — the broker's decision.
    public var clientID: String
    public var username: String?
    /// Binary Data; 3.1.1 allows it only with a user name (§3.1.2.9).
    public var password: [UInt8]?
    public var will: MQTTWill?
    /// MQTT 5.0 only (§3.1.2.11).
    public var properties: MQTTProperties

    public init(
        version: MQTTProtocolVersion, cleanStart: Bool = true, keepAlive: UInt16 = 60, clientID: String,
        username: String? = nil, password: [UInt8]? = nil, will: MQTTWill? = nil,
        properties: MQTTProperties = MQTTProperties()
    ) {
        self.version = version
        self.cleanStart = cleanStart
        self.keepAlive = keepAlive
        self.clientID = clientID
        self.username = username
        self.password = password
        self.will = will
        self.properties = properties
    }
}

extension MQTTConnect {
    // Connect Flags (§3.1.2.3).
    private static let usernameFlag: UInt8 = 0x80
    private static let passwordFlag: UInt8 = 0x40
    private static let willRetainFlag: UInt8 = 0x20
    private static let willFlag: UInt8 = 0x04
    private static let cleanStartFlag: UInt8 = 0x02
    private static let reservedFlag: UInt8 = 0x01

    static func decode(from reader: inout MQTTCodecReader) throws(MQTTDecodingError) -> MQTTConnect {
        // §3.1.2.1 Protocol Name, §3.1.2.2 Protocol Version.
        let nameOffset = reader.offset
        let name = try reader.readString("CONNECT.protocolName")
        let levelOffset = reader.offset
        let level = try reader.readByte("CONNECT.protocolLevel")
        guard name == "MQTT" else {
            // "MQIsdp" is MQTT 3.1 (level 3), a version this codec does not speak.
            let code: MQTTDecodingError.Code = name == "MQIsdp" ? .unsupportedProtocolVersion : .invalidProtocolName
            throw MQTTDecodingError(code, field: "CONNECT.protocolName", offset: nameOffset)
        }
        guard let version = MQTTProtocolVersion(rawValue: level) else {
            throw MQTTDecodingError(.unsupportedProtocolVersion, field: "CONNECT.protocolLevel", offset: levelOffset)
        }

        // §3.1.2.3 Connect Flags.
        let flagsOffset = reader.offset
        let flags = try reader.readByte("CONNECT.flags")
        func invalidFlags(_ which: String) -> MQTTDecodingError {
            MQTTDecodingError(.invalidConnectFlags, field: "CONNECT.flags." + which, offset: flagsOffset)
        }
        // §3.1.2.3: "The Server MUST validate that the reserved flag in the CONNECT packet is set
        // to 0" [MQTT-3.1.2-3].
        guard flags & reservedFlag == 0 else { throw invalidFlags("reserved") }
        let hasWill = flags & willFlag != 0
        let willQoSBits = (flags >> 3) & 0x03
        let willRetain = flags & willRetainFlag != 0
        // §3.1.2.6, §3.1.2.7: without the will flag, Will QoS and Will Retain MUST be 0.
        guard hasWill || willQoSBits == 0 else { throw invalidFlags("willQoS") }
        guard hasWill || !willRetain else { throw invalidFlags("willRetain") }
        // §3.1.2.6: "The value of Will QoS MUST NOT be 3" (MQTT 3.1.1 says the same).
        guard let willQoS = MQTTQoS(rawValue: willQoSBits) else {
            throw MQTTDecodingError(.invalidQoS, field: "CONNECT.flags.willQoS", offset: flagsOffset)
        }
        let hasUsername = flags & usernameFlag != 0
        let hasPassword = flags & passwordFlag != 0
        // MQTT 3.1.1 §3.1.2.9: "If the User Name Flag is set to 0, the Password Flag MUST be set to
        // 0" [MQTT-3.1.2-22]. MQTT 5.0 dropped that rule (§3.1.2.9).
        if version == .v3_1_1 && hasPassword && !hasUsername { throw invalidFlags("password") }

        let keepAlive = try reader.readUInt16("CONNECT.keepAlive")
        let properties =
            version == .v5
            ? try MQTTProperties.decode(from: &reader, context: .connect, field: "CONNECT.properties")
            : MQTTProperties()

        // §3.1.3 Payload: Client Identifier, Will Properties, Will Topic, Will Payload, User Name, Password.
        let clientID = try reader.readString("CONNECT.clientID")
        var will: MQTTWill?
        if hasWill {
            let willProperties =
                version == .v5
                ? try MQTTProperties.decode(from: &reader, context: .will, field: "CONNECT.willProperties")
                : MQTTProperties()
            let topicOffset = reader.offset
            let topic = try reader.readString("CONNECT.willTopic")
            guard !topic.isEmpty, !MQTTTopicNameCheck.hasWildcard(topic) else {
                throw MQTTDecodingError(.invalidTopicName, field: "CONNECT.willTopic", offset: topicOffset)
            }
            let payload = try reader.readBinaryBuffer("CONNECT.willPayload")
            will = MQTTWill(
                topic: topic, payload: payload, qos: willQoS, retain: willRetain, properties: willProperties)
        }
        let username = hasUsername ? try reader.readString("CONNECT.username") : nil
        let password = hasPassword ? try reader.readBinary("CONNECT.password") : nil
        try reader.expectEnd("CONNECT")
        return MQTTConnect(
            version: version, cleanStart: flags & cleanStartFlag != 0, keepAlive: keepAlive, clientID: clientID,
            username: username, password: password, will: will, properties: properties)
    }

    func encodeBody(into buffer: inout ByteBuffer) throws(MQTTEncodingError) {
        if version == .v3_1_1 && password != nil && username == nil {
            throw MQTTEncodingError(.invalidValue, field: "CONNECT.password")
        }
        var flags: UInt8 = 0
        if username != nil { flags |= Self.usernameFlag }
        if password != nil { flags |= Self.passwordFlag }
        if let will {
            flags |= Self.willFlag | will.qos.rawValue << 3
            if will.retain { flags |= Self.willRetainFlag }
        }
        if cleanStart { flags |= Self.cleanStartFlag }

        try buffer.writeMQTTString("MQTT", field: "CONNECT.protocolName")
        buffer.writeInteger(version.rawValue)
        buffer.writeInteger(flags)
        buffer.writeInteger(keepAlive)
        if version == .v5 { try properties.encode(into: &buffer, context: .connect, field: "CONNECT.properties") }
        try buffer.writeMQTTString(clientID, field: "CONNECT.clientID")
        if let will {
            if version == .v5 {
                try will.properties.encode(into: &buffer, context: .will, field: "CONNECT.willProperties")
            }
            guard !will.topic.isEmpty, !MQTTTopicNameCheck.hasWildcard(will.topic) else {
                throw MQTTEncodingError(.invalidValue, field: "CONNECT.willTopic")
            }
            try buffer.writeMQTTString(will.topic, field: "CONNECT.willTopic")
            try buffer.writeMQTTBinary(will.payload, field: "CONNECT.willPayload")
        }
        if let username { try buffer.writeMQTTString(username, field: "CONNECT.username") }
        if let password { try buffer.writeMQTTBinary(password, field: "CONNECT.password") }
    }
}
