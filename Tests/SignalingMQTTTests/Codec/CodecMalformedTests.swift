import NIOCore
import SignalingMQTT
import Testing

/// Every rule the decoder enforces, each with the error code, the reason code to close with, and
/// the offset of the field that broke it.
@Suite("MQTT codec malformed packets")
struct CodecMalformedTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let version: MQTTProtocolVersion?
        let code: MQTTDecodingError.Code
        let reasonCode: MQTTReasonCode
        let offset: Int?

        init(
            _ name: String, _ bytes: [UInt8], _ version: MQTTProtocolVersion?, _ code: MQTTDecodingError.Code,
            _ reasonCode: MQTTReasonCode, offset: Int? = nil
        ) {
            self.name = name
            self.bytes = bytes
            self.version = version
            self.code = code
            self.reasonCode = reasonCode
            self.offset = offset
        }

        var testDescription: String { "\(name) (\(version?.description ?? "no version"))" }
    }

    static let s = CodecFixtures.string
    static let p = CodecFixtures.packet
    static let h = CodecFixtures.bytes

    /// A CONNECT body: protocol name, level, flags, keep alive 60, then `rest`.
    static func connect(name: String = "MQTT", level: UInt8 = 4, flags: UInt8 = 0x02, _ rest: [UInt8]) -> [UInt8] {
        p(0x10, s(name) + [level, flags, 0x00, 0x3C] + rest)
    }

    // MARK: Fixed header

    static let fixedHeader: [Case] = [
        Case("packet type 0", h("00 00"), .v5, .invalidPacketType, .malformedPacket, offset: 0),
        Case("packet type 0", h("00 00"), .v3_1_1, .invalidPacketType, .malformedPacket, offset: 0),
        Case("packet type 0 before CONNECT", h("00 00"), nil, .invalidPacketType, .malformedPacket, offset: 0),
        Case("AUTH in MQTT 3.1.1", h("f0 00"), .v3_1_1, .invalidPacketType, .malformedPacket, offset: 0),
        Case("PUBLISH before CONNECT", h("30 05 00 01 74 68 69"), nil, .connectExpected, .protocolError, offset: 0),
        Case("AUTH before CONNECT", h("f0 00"), nil, .connectExpected, .protocolError, offset: 0),
        Case("PUBLISH QoS 3", h("36 05 00 01 74 00 01"), .v3_1_1, .invalidQoS, .malformedPacket, offset: 0),
        Case(
            "PUBLISH QoS 3 with DUP and RETAIN", h("3f 05 00 01 74 00 01"), .v5, .invalidQoS, .malformedPacket,
            offset: 0),
        Case("PUBLISH QoS 0 with DUP", h("38 03 00 01 74"), .v3_1_1, .invalidFlags, .malformedPacket, offset: 0),
        Case(
            "PUBLISH QoS 0 with DUP and RETAIN", h("39 04 00 01 74 00"), .v5, .invalidFlags, .malformedPacket, offset: 0
        ),
        Case(
            "remaining length of 5 bytes", h("30 ff ff ff ff 01"), .v5, .malformedVariableByteInteger, .malformedPacket,
            offset: 1),
        Case(
            "remaining length not in its shortest form", h("c0 80 00"), .v5, .malformedVariableByteInteger,
            .malformedPacket, offset: 1),
    ]

    // MARK: Lengths

    static let lengths: [Case] = [
        Case("PINGREQ with a body", h("c0 01 00"), .v5, .trailingBytes, .malformedPacket, offset: 2),
        Case("PINGRESP with a body", h("d0 01 00"), .v3_1_1, .trailingBytes, .malformedPacket, offset: 2),
        Case("DISCONNECT with a body", h("e0 01 00"), .v3_1_1, .trailingBytes, .malformedPacket, offset: 2),
        Case("PUBACK too long", h("40 03 00 0a 00"), .v3_1_1, .trailingBytes, .malformedPacket, offset: 4),
        Case("PUBACK too short", h("40 01 00"), .v3_1_1, .truncated, .malformedPacket, offset: 2),
        Case("PUBACK without packet identifier", h("40 00"), .v5, .truncated, .malformedPacket, offset: 2),
        Case("UNSUBACK with reason codes", h("b0 03 00 0a 00"), .v3_1_1, .trailingBytes, .malformedPacket, offset: 4),
        Case("CONNACK too short", h("20 01 00"), .v3_1_1, .truncated, .malformedPacket, offset: 3),
        Case("CONNACK too long", h("20 03 00 00 00"), .v3_1_1, .trailingBytes, .malformedPacket, offset: 4),
        Case("CONNACK without properties", h("20 02 00 00"), .v5, .truncated, .malformedPacket, offset: 4),
        Case(
            "CONNACK with bytes after its properties", h("20 04 00 00 00 00"), .v5, .trailingBytes, .malformedPacket,
            offset: 5),
        Case(
            "CONNECT whose client identifier runs past the packet", connect(h("00 03 61 62")), .v3_1_1, .truncated,
            .malformedPacket, offset: 12),
        Case("CONNECT one byte long", connect(s("abc") + [0]), .v3_1_1, .trailingBytes, .malformedPacket, offset: 17),
        Case(
            "CONNECT whose protocol name runs past the packet", p(0x10, h("00 09 4d 51 54 54")), .v5, .truncated,
            .malformedPacket, offset: 2),
        Case(
            "CONNECT without user name", connect(flags: 0x82, s("c")), .v3_1_1, .truncated, .malformedPacket, offset: 15
        ),
        Case("CONNECT without will", connect(flags: 0x06, s("c")), .v3_1_1, .truncated, .malformedPacket, offset: 15),
        Case(
            "CONNECT whose will payload runs past the packet", connect(flags: 0x06, s("c") + s("t") + h("00 05 61")),
            .v3_1_1, .truncated, .malformedPacket, offset: 18),
        Case(
            "PUBLISH whose topic runs past the packet", h("30 03 00 05 61"), .v5, .truncated, .malformedPacket,
            offset: 2),
        Case(
            "PUBLISH QoS 1 without packet identifier", h("32 03 00 01 74"), .v3_1_1, .truncated, .malformedPacket,
            offset: 5),
        Case("PUBLISH without property length", h("30 03 00 01 74"), .v5, .truncated, .malformedPacket, offset: 5),
        Case(
            "PUBLISH whose property length runs past the packet", h("30 05 00 01 74 05 01"), .v5, .truncated,
            .malformedPacket, offset: 5),
        Case(
            "property value running past the property length", h("30 08 00 01 74 02 23 00 03 61"), .v5, .truncated,
            .malformedPacket, offset: 7),
        Case(
            "string property running past the property length", h("e0 07 00 04 1f 00 05 61 62"), .v5, .truncated,
            .malformedPacket, offset: 5),
        Case(
            "property length of 5 bytes", h("e0 07 00 ff ff ff ff 01 00"), .v5, .malformedVariableByteInteger,
            .malformedPacket, offset: 3),
        Case(
            "SUBSCRIBE filter without options", p(0x82, h("00 01") + s("a")), .v3_1_1, .truncated, .malformedPacket,
            offset: 7),
        Case(
            "AUTH with a reason code but no property length", h("f0 01 18"), .v5, .truncated, .malformedPacket,
            offset: 3),
        Case(
            "AUTH with bytes after its properties", h("f0 03 18 00 00"), .v5, .trailingBytes, .malformedPacket,
            offset: 4),
        Case(
            "DISCONNECT with bytes after its properties", h("e0 03 00 00 00"), .v5, .trailingBytes, .malformedPacket,
            offset: 4),
        Case(
            "PUBREL with bytes after its properties", h("62 05 00 01 00 00 00"), .v5, .trailingBytes, .malformedPacket,
            offset: 6),
    ]

    // MARK: Strings (MQTT 5.0 §1.5.4, MQTT 3.1.1 §1.5.3)

    static let badUTF8: [[UInt8]] = [
        h("c3 28"),  // a lead byte without its continuation
        h("80"),  // a lone continuation byte
        h("c0 af"),  // overlong "/"
        h("e0 80 af"),  // overlong "/"
        h("ed a0 80"),  // U+D800, a surrogate
        h("f4 90 80 80"),  // above U+10FFFF
        h("f8 88 80 80 80"),  // a 5-byte form
        h("e2 82"),  // cut short
        h("ff"),
    ]

    static let strings: [Case] =
        badUTF8.map {
            Case(
                "PUBLISH topic \(CodecFixtures.hex($0))", p(0x30, CodecFixtures.binary($0)), .v3_1_1, .invalidUTF8,
                .malformedPacket, offset: 2)
        }
        + [
            Case(
                "PUBLISH topic with U+0000", p(0x30, CodecFixtures.binary(h("61 00 62"))), .v5, .nullCharacter,
                .malformedPacket, offset: 2),
            Case(
                "client identifier with U+0000", connect(CodecFixtures.binary(h("00"))), .v3_1_1, .nullCharacter,
                .malformedPacket, offset: 12),
            Case(
                "client identifier not UTF-8", connect(CodecFixtures.binary(h("c3 28"))), .v3_1_1, .invalidUTF8,
                .malformedPacket, offset: 12),
            Case(
                "user name not UTF-8", connect(flags: 0x82, s("c") + CodecFixtures.binary(h("ed a0 80"))), .v3_1_1,
                .invalidUTF8, .malformedPacket, offset: 15),
            Case(
                "will topic with U+0000", connect(flags: 0x06, s("c") + CodecFixtures.binary(h("74 00")) + s("")),
                .v3_1_1, .nullCharacter, .malformedPacket, offset: 15),
            Case(
                "protocol name not UTF-8", p(0x10, CodecFixtures.binary(h("ff")) + h("04 02 00 3c") + s("c")), .v3_1_1,
                .invalidUTF8, .malformedPacket, offset: 2),
            Case(
                "topic filter with U+0000", p(0x82, h("00 01") + CodecFixtures.binary(h("23 00")) + [0]), .v3_1_1,
                .nullCharacter, .malformedPacket, offset: 4),
            Case(
                "UNSUBSCRIBE filter not UTF-8", p(0xA2, h("00 01 00") + CodecFixtures.binary(h("80"))), .v5,
                .invalidUTF8, .malformedPacket, offset: 5),
            Case(
                "user property name not UTF-8", p(0xE0, h("00 06 26") + CodecFixtures.binary(h("80")) + s("")), .v5,
                .invalidUTF8, .malformedPacket, offset: 5),
            Case(
                "user property value with U+0000", p(0xE0, h("00 06 26") + s("") + CodecFixtures.binary(h("00"))), .v5,
                .nullCharacter, .malformedPacket, offset: 7),
            Case(
                "Reason String not UTF-8", p(0x40, h("00 01 80 04 1f") + CodecFixtures.binary(h("c0"))), .v5,
                .invalidUTF8, .malformedPacket, offset: 7),
        ]

    // MARK: CONNECT (MQTT 5.0 §3.1.2)

    static let connects: [Case] = [
        Case(
            "protocol name MQTX", connect(name: "MQTX", s("c")), nil, .invalidProtocolName, .unsupportedProtocolVersion,
            offset: 2),
        Case(
            "protocol name mqtt", connect(name: "mqtt", s("c")), nil, .invalidProtocolName, .unsupportedProtocolVersion,
            offset: 2),
        Case(
            "MQTT 3.1 (MQIsdp, level 3)", connect(name: "MQIsdp", level: 3, s("c")), nil, .unsupportedProtocolVersion,
            .unsupportedProtocolVersion, offset: 2),
        Case(
            "level 3", connect(level: 3, s("c")), nil, .unsupportedProtocolVersion, .unsupportedProtocolVersion,
            offset: 8),
        Case(
            "level 0", connect(level: 0, s("c")), nil, .unsupportedProtocolVersion, .unsupportedProtocolVersion,
            offset: 8),
        Case(
            "level 6", connect(level: 6, h("00") + s("c")), nil, .unsupportedProtocolVersion,
            .unsupportedProtocolVersion, offset: 8),
        Case(
            "level 255", connect(level: 255, s("c")), .v5, .unsupportedProtocolVersion, .unsupportedProtocolVersion,
            offset: 8),
        Case("reserved flag set", connect(flags: 0x03, s("c")), nil, .invalidConnectFlags, .malformedPacket, offset: 9),
        Case(
            "reserved flag set", connect(level: 5, flags: 0x01, h("00") + s("c")), nil, .invalidConnectFlags,
            .malformedPacket, offset: 9),
        Case(
            "will QoS 1 without will flag", connect(flags: 0x0A, s("c")), nil, .invalidConnectFlags, .malformedPacket,
            offset: 9),
        Case(
            "will QoS 2 without will flag", connect(level: 5, flags: 0x12, h("00") + s("c")), nil, .invalidConnectFlags,
            .malformedPacket, offset: 9),
        Case(
            "will retain without will flag", connect(flags: 0x22, s("c")), nil, .invalidConnectFlags, .malformedPacket,
            offset: 9),
        Case(
            "will QoS 3", connect(flags: 0x1E, s("c") + s("t") + s("")), nil, .invalidQoS, .malformedPacket, offset: 9),
        Case(
            "will QoS 3", connect(level: 5, flags: 0x1E, h("00") + s("c") + h("00") + s("t") + s("")), nil, .invalidQoS,
            .malformedPacket, offset: 9),
        Case(
            "password without user name in 3.1.1", connect(flags: 0x42, s("c") + s("pw")), nil, .invalidConnectFlags,
            .malformedPacket, offset: 9),
        Case(
            "will topic with a wildcard", connect(flags: 0x06, s("c") + s("a/#") + s("")), nil, .invalidTopicName,
            .topicNameInvalid, offset: 15),
        Case(
            "empty will topic", connect(level: 5, flags: 0x06, h("00") + s("c") + h("00") + s("") + s("")), nil,
            .invalidTopicName, .topicNameInvalid, offset: 17),
    ]

    // MARK: Packet identifiers, topics, subscriptions, reason codes

    static let zeroIDs: [Case] = [MQTTProtocolVersion.v3_1_1, .v5].flatMap { version -> [Case] in
        let props: [UInt8] = version == .v5 ? [0] : []
        return [
            Case(
                "PUBLISH QoS 1 with packet identifier 0", p(0x32, s("t") + h("00 00") + props), version,
                .zeroPacketIdentifier, .protocolError, offset: 5),
            Case(
                "PUBLISH QoS 2 with packet identifier 0", p(0x34, s("t") + h("00 00") + props), version,
                .zeroPacketIdentifier, .protocolError, offset: 5),
            Case(
                "PUBACK with packet identifier 0", h("40 02 00 00"), version, .zeroPacketIdentifier, .protocolError,
                offset: 2),
            Case(
                "PUBREC with packet identifier 0", h("50 02 00 00"), version, .zeroPacketIdentifier, .protocolError,
                offset: 2),
            Case(
                "PUBREL with packet identifier 0", h("62 02 00 00"), version, .zeroPacketIdentifier, .protocolError,
                offset: 2),
            Case(
                "PUBCOMP with packet identifier 0", h("70 02 00 00"), version, .zeroPacketIdentifier, .protocolError,
                offset: 2),
            Case(
                "SUBSCRIBE with packet identifier 0", p(0x82, h("00 00") + props + s("t") + [0]), version,
                .zeroPacketIdentifier, .protocolError, offset: 2),
            Case(
                "SUBACK with packet identifier 0", p(0x90, h("00 00") + props + [0]), version, .zeroPacketIdentifier,
                .protocolError, offset: 2),
            Case(
                "UNSUBSCRIBE with packet identifier 0", p(0xA2, h("00 00") + props + s("t")), version,
                .zeroPacketIdentifier, .protocolError, offset: 2),
            Case(
                "UNSUBACK with packet identifier 0", p(0xB0, h("00 00") + props + (version == .v5 ? [0] : [])), version,
                .zeroPacketIdentifier, .protocolError, offset: 2),
        ]
    }

    static let topicsAndSubscriptions: [Case] =
        [
            Case("PUBLISH topic with +", p(0x30, s("a/+/c")), .v3_1_1, .invalidTopicName, .topicNameInvalid, offset: 2),
            Case("PUBLISH topic with #", p(0x30, s("a/#") + [0]), .v5, .invalidTopicName, .topicNameInvalid, offset: 2),
            Case(
                "empty PUBLISH topic", p(0x30, s("") + h("68 69")), .v3_1_1, .missingTopicName, .protocolError,
                offset: 2),
            Case(
                "empty PUBLISH topic without Topic Alias", p(0x30, s("") + h("00 68 69")), .v5, .missingTopicName,
                .protocolError, offset: 2),
            Case(
                "SUBSCRIBE without topic filters", h("82 02 00 01"), .v3_1_1, .noTopicFilters, .protocolError, offset: 4
            ),
            Case(
                "SUBSCRIBE without topic filters", h("82 03 00 01 00"), .v5, .noTopicFilters, .protocolError, offset: 5),
            Case(
                "UNSUBSCRIBE without topic filters", h("a2 02 00 01"), .v3_1_1, .noTopicFilters, .protocolError,
                offset: 4),
            Case(
                "UNSUBSCRIBE without topic filters", h("a2 03 00 01 00"), .v5, .noTopicFilters, .protocolError,
                offset: 5),
            Case(
                "subscription option QoS 3", p(0x82, h("00 01") + s("t") + [0x03]), .v3_1_1, .invalidQoS,
                .malformedPacket, offset: 7),
            Case(
                "subscription option QoS 3", p(0x82, h("00 01 00") + s("t") + [0x03]), .v5, .invalidQoS,
                .malformedPacket, offset: 8),
            Case(
                "Retain Handling 3", p(0x82, h("00 01 00") + s("t") + [0x30]), .v5, .invalidRetainHandling,
                .protocolError, offset: 8),
            Case(
                "second subscription with Retain Handling 3",
                p(0x82, h("00 01 00") + s("t") + [0x00] + s("u") + [0x31]), .v5, .invalidRetainHandling, .protocolError,
                offset: 12),
        ]
        + [0x40, 0x80, 0xC0].map {
            Case(
                "subscription options reserved bits 0x\(String($0, radix: 16))", p(0x82, h("00 01 00") + s("t") + [$0]),
                .v5, .invalidSubscriptionOptions, .malformedPacket, offset: 8)
        }
        + [0x04, 0x08, 0x10, 0x20, 0x40, 0x80].map {
            Case(
                "subscription options reserved bits 0x\(String($0, radix: 16))",
                p(0x82, h("00 01") + s("t") + [$0 | 1]), .v3_1_1, .invalidSubscriptionOptions, .malformedPacket,
                offset: 7)
        }

    static let reasonCodes: [Case] = [
        Case("CONNACK reserved flag", h("20 02 02 00"), .v3_1_1, .invalidConnAckFlags, .malformedPacket, offset: 2),
        Case("CONNACK reserved flag", h("20 03 80 00 00"), .v5, .invalidConnAckFlags, .malformedPacket, offset: 2),
        Case("CONNACK return code 6", h("20 02 00 06"), .v3_1_1, .invalidReasonCode, .protocolError, offset: 3),
        Case("CONNACK return code 0x80", h("20 02 00 80"), .v3_1_1, .invalidReasonCode, .protocolError, offset: 3),
        Case("CONNACK reason code 0x04", h("20 03 00 04 00"), .v5, .invalidReasonCode, .protocolError, offset: 3),
        Case("CONNACK reason code 0x8B", h("20 03 00 8b 00"), .v5, .invalidReasonCode, .protocolError, offset: 3),
        Case("PUBACK reason code 0x92", h("40 03 00 01 92"), .v5, .invalidReasonCode, .protocolError, offset: 4),
        Case("PUBREC reason code 0x01", h("50 03 00 01 01"), .v5, .invalidReasonCode, .protocolError, offset: 4),
        Case("PUBREL reason code 0x80", h("62 03 00 01 80"), .v5, .invalidReasonCode, .protocolError, offset: 4),
        Case("PUBCOMP reason code 0x10", h("70 03 00 01 10"), .v5, .invalidReasonCode, .protocolError, offset: 4),
        Case("SUBACK return code 0x03", h("90 04 00 01 00 03"), .v3_1_1, .invalidReasonCode, .protocolError, offset: 5),
        Case("SUBACK return code 0x87", h("90 03 00 01 87"), .v3_1_1, .invalidReasonCode, .protocolError, offset: 4),
        Case("SUBACK reason code 0x03", h("90 04 00 01 00 03"), .v5, .invalidReasonCode, .protocolError, offset: 5),
        Case(
            "UNSUBACK reason code 0x10", h("b0 05 00 01 00 00 10"), .v5, .invalidReasonCode, .protocolError, offset: 6),
        Case("DISCONNECT reason code 0x84", h("e0 01 84"), .v5, .invalidReasonCode, .protocolError, offset: 2),
        Case("AUTH reason code 0x80", h("f0 02 80 00"), .v5, .invalidReasonCode, .protocolError, offset: 2),
    ]

    static let all = fixedHeader + lengths + strings + connects + zeroIDs + topicsAndSubscriptions + reasonCodes

    @Test("a malformed packet throws its code and reason code at the failing byte", arguments: all)
    func rejects(testCase: Case) {
        let error = CodecFixtures.decodingError(testCase.bytes, testCase.version)
        #expect(error?.code == testCase.code)
        #expect(error?.reasonCode == testCase.reasonCode)
        if let offset = testCase.offset { #expect(error?.offset == offset) }
        #expect(error.map { !$0.field.isEmpty } ?? false)
    }

    @Test("the stream decoder throws the same error", arguments: all)
    func streamDecoderAgrees(testCase: Case) {
        var decoder = MQTTPacketDecoder(version: testCase.version)
        var buffer = ByteBuffer(bytes: testCase.bytes)
        let error = #expect(throws: MQTTDecodingError.self) { try decoder.decode(buffer: &buffer) }
        #expect(error?.code == testCase.code)
    }

    /// MQTT 5.0 §2.1.3: PUBREL, SUBSCRIBE and UNSUBSCRIBE have flags 0010, every other type but
    /// PUBLISH 0000. The decoder rejects the rest at the first byte, before any length.
    @Test(
        "reserved fixed-header flags are malformed at the first byte",
        arguments: MQTTPacket.Kind.allCases.filter { $0 != .publish }, 0..<16)
    func reservedFlags(kind: MQTTPacket.Kind, flags: UInt8) throws {
        let required: UInt8 = [.pubRel, .subscribe, .unsubscribe].contains(kind) ? 0b0010 : 0
        var decoder = MQTTPacketDecoder(version: .v5)
        var buffer = ByteBuffer(bytes: [kind.rawValue << 4 | flags])
        if flags == required {
            #expect(try decoder.decode(buffer: &buffer) == nil)
        } else {
            let error = #expect(throws: MQTTDecodingError.self) { try decoder.decode(buffer: &buffer) }
            #expect(error?.code == .invalidFlags)
            #expect(error?.reasonCode == .malformedPacket)
            #expect(error?.field == "fixedHeader.flags")
        }
    }

    @Test func aPasswordWithoutAUserNameIsAllowedInMQTT5() throws {
        let bytes = Self.connect(level: 5, flags: 0x42, Self.h("00") + Self.s("c") + Self.s("pw"))
        #expect(
            try CodecFixtures.decode(bytes, nil)
                == .connect(MQTTConnect(version: .v5, clientID: "c", password: Array("pw".utf8))))
    }

    @Test func anEmptyTopicWithATopicAliasIsAllowedInMQTT5() throws {
        let bytes = Self.p(0x30, Self.s("") + Self.h("03 23 00 01"))
        guard case .publish(let publish) = try CodecFixtures.decode(bytes, .v5) else {
            Issue.record("not PUBLISH")
            return
        }
        #expect(publish.topic.isEmpty)
        #expect(publish.properties.topicAlias == 1)
    }

    @Test func stringsMayCarryAnyWellFormedUTF8() throws {
        let topic = "ü/€/𝄞/\u{FEFF}/\u{1}"
        let bytes = Self.p(0x30, Self.s(topic))
        #expect(try CodecFixtures.decode(bytes, .v3_1_1) == .publish(MQTTPublish(topic: topic, payload: ByteBuffer())))
    }

    @Test func decodingErrorsDescribeThemselves() {
        let error = MQTTDecodingError(.truncated, field: "PUBLISH.topicName", offset: 2)
        #expect(error.description == "MQTT decoding failed: truncated in PUBLISH.topicName at byte 2")
        #expect(MQTTDecodingError.Code.packetTooLarge.reasonCode == .packetTooLarge)
    }
}
