import NIOCore
import SignalingMQTT
import Testing

/// The encoder refuses what MQTT cannot carry and what the receiver would reject, and leaves the
/// buffer as it was when it does.
@Suite("MQTT codec encoding errors")
struct CodecEncodingErrorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let packet: MQTTPacket
        let version: MQTTProtocolVersion
        let code: MQTTEncodingError.Code
        var testDescription: String { "\(name) (\(version))" }

        init(_ name: String, _ packet: MQTTPacket, _ version: MQTTProtocolVersion, _ code: MQTTEncodingError.Code) {
            self.name = name
            self.packet = packet
            self.version = version
            self.code = code
        }
    }

    static let long = String(repeating: "x", count: 65_536)
    static func props(_ build: (inout MQTTProperties) -> Void) -> MQTTProperties {
        var properties = MQTTProperties()
        build(&properties)
        return properties
    }
    static func publish(
        _ topic: String = "t", qos: MQTTQoS = .atMostOnce, packetID: UInt16? = nil,
        properties: MQTTProperties = MQTTProperties()
    ) -> MQTTPacket {
        .publish(MQTTPublish(topic: topic, payload: ByteBuffer(), qos: qos, packetID: packetID, properties: properties))
    }
    static func subscribe(
        _ options: MQTTSubscriptionOptions = MQTTSubscriptionOptions(), _ properties: MQTTProperties = MQTTProperties()
    ) -> MQTTPacket {
        .subscribe(
            MQTTSubscribe(
                packetID: 1, subscriptions: [MQTTSubscription(filter: "t", options: options)], properties: properties))
    }

    static let cases: [Case] = [
        Case("topic of 65,536 bytes", publish(long), .v5, .stringTooLong),
        Case(
            "client identifier of 65,536 bytes", .connect(MQTTConnect(version: .v3_1_1, clientID: long)), .v3_1_1,
            .stringTooLong),
        Case(
            "password of 65,536 bytes",
            .connect(MQTTConnect(version: .v5, clientID: "c", password: Array(repeating: 0, count: 65_536))), .v5,
            .stringTooLong),
        Case(
            "will payload of 65,536 bytes",
            .connect(
                MQTTConnect(
                    version: .v5, clientID: "c",
                    will: MQTTWill(topic: "w", payload: ByteBuffer(repeating: 0, count: 65_536)))), .v5,
            .stringTooLong),
        Case(
            "Reason String of 65,536 bytes", .disconnect(MQTTDisconnect(properties: props { $0.reasonString = long })),
            .v5, .stringTooLong),
        Case(
            "client identifier with U+0000", .connect(MQTTConnect(version: .v5, clientID: "a\u{0}b")), .v5,
            .invalidString),
        Case(
            "topic filter with U+0000", .unsubscribe(MQTTUnsubscribe(packetID: 1, filters: ["\u{0}"])), .v3_1_1,
            .invalidString),
        Case(
            "user property with U+0000",
            .pubAck(
                MQTTAck(
                    packetID: 1, properties: props { $0.userProperties = [MQTTUserProperty(name: "\u{0}", value: "")] })
            ), .v5, .invalidString),
        Case("AUTH in MQTT 3.1.1", .auth(MQTTAuth()), .v3_1_1, .unsupportedInVersion),
        Case("QoS 1 PUBLISH without packet identifier", publish(qos: .atLeastOnce), .v3_1_1, .invalidValue),
        Case("QoS 2 PUBLISH with packet identifier 0", publish(qos: .exactlyOnce, packetID: 0), .v5, .invalidValue),
        Case("PUBACK with packet identifier 0", .pubAck(MQTTAck(packetID: 0)), .v3_1_1, .invalidValue),
        Case("PUBREL with packet identifier 0", .pubRel(MQTTAck(packetID: 0)), .v5, .invalidValue),
        Case(
            "SUBSCRIBE with packet identifier 0",
            .subscribe(MQTTSubscribe(packetID: 0, subscriptions: [MQTTSubscription(filter: "t")])), .v5, .invalidValue),
        Case(
            "SUBACK with packet identifier 0", .subAck(MQTTSubAck(packetID: 0, reasonCodes: [.success])), .v3_1_1,
            .invalidValue),
        Case(
            "UNSUBSCRIBE with packet identifier 0", .unsubscribe(MQTTUnsubscribe(packetID: 0, filters: ["t"])), .v5,
            .invalidValue),
        Case("UNSUBACK with packet identifier 0", .unsubAck(MQTTUnsubAck(packetID: 0)), .v3_1_1, .invalidValue),
        Case(
            "SUBSCRIBE without subscriptions", .subscribe(MQTTSubscribe(packetID: 1, subscriptions: [])), .v3_1_1,
            .invalidValue),
        Case(
            "UNSUBSCRIBE without filters", .unsubscribe(MQTTUnsubscribe(packetID: 1, filters: [])), .v5, .invalidValue),
        Case("topic with +", publish("a/+"), .v3_1_1, .invalidValue),
        Case("topic with #", publish("#"), .v5, .invalidValue),
        Case("empty topic without Topic Alias", publish(""), .v5, .invalidValue),
        Case(
            "empty will topic",
            .connect(MQTTConnect(version: .v3_1_1, clientID: "c", will: MQTTWill(topic: "", payload: ByteBuffer()))),
            .v3_1_1, .invalidValue),
        Case(
            "password without user name in 3.1.1",
            .connect(MQTTConnect(version: .v3_1_1, clientID: "c", password: [1])), .v3_1_1, .invalidValue),
        Case("Retain Handling 3", subscribe(MQTTSubscriptionOptions(retainHandling: 3)), .v5, .invalidValue),
        Case(
            "two Subscription Identifiers in SUBSCRIBE",
            subscribe(MQTTSubscriptionOptions(), props { $0.subscriptionIdentifiers = [1, 2] }), .v5, .invalidValue),
        Case(
            "Subscription Identifier 0", publish(properties: props { $0.subscriptionIdentifiers = [0] }), .v5,
            .invalidValue),
        Case(
            "Subscription Identifier 268,435,456",
            subscribe(MQTTSubscriptionOptions(), props { $0.subscriptionIdentifiers = [268_435_456] }), .v5,
            .invalidValue),
        Case("Topic Alias 0", publish(properties: props { $0.topicAlias = 0 }), .v5, .invalidValue),
        Case(
            "Receive Maximum 0",
            .connect(MQTTConnect(version: .v5, clientID: "c", properties: props { $0.receiveMaximum = 0 })), .v5,
            .invalidValue),
        Case(
            "Maximum Packet Size 0", .connAck(MQTTConnAck(properties: props { $0.maximumPacketSize = 0 })), .v5,
            .invalidValue),
        Case(
            "Payload Format Indicator 2", publish(properties: props { $0.payloadFormatIndicator = 2 }), .v5,
            .invalidValue),
        Case(
            "Request Problem Information 2",
            .connect(MQTTConnect(version: .v5, clientID: "c", properties: props { $0.requestProblemInformation = 2 })),
            .v5, .invalidValue),
        Case(
            "CONNACK with a DISCONNECT reason code", .connAck(MQTTConnAck(reasonCode: .disconnectWithWillMessage)), .v5,
            .invalidValue),
        Case(
            "PUBACK with a PUBREL reason code", .pubAck(MQTTAck(packetID: 1, reasonCode: .packetIdentifierNotFound)),
            .v5, .invalidValue),
        Case(
            "PUBCOMP with a PUBACK reason code", .pubComp(MQTTAck(packetID: 1, reasonCode: .quotaExceeded)), .v5,
            .invalidValue),
        Case(
            "SUBACK with a PUBACK reason code",
            .subAck(MQTTSubAck(packetID: 1, reasonCodes: [.success, .noMatchingSubscribers])), .v5, .invalidValue),
        Case(
            "SUBACK with a success code 3.1.1 lacks",
            .subAck(MQTTSubAck(packetID: 1, reasonCodes: [.noMatchingSubscribers])), .v3_1_1, .invalidValue),
        Case(
            "UNSUBACK with a SUBACK reason code", .unsubAck(MQTTUnsubAck(packetID: 1, reasonCodes: [.grantedQoS1])),
            .v5, .invalidValue),
        Case(
            "DISCONNECT with a CONNACK reason code",
            .disconnect(MQTTDisconnect(reasonCode: .unsupportedProtocolVersion)), .v5, .invalidValue),
        Case("AUTH with a failure reason code", .auth(MQTTAuth(reasonCode: .unspecifiedError)), .v5, .invalidValue),
    ]

    @Test("a packet that cannot be sent as it is throws", arguments: cases)
    func refuses(testCase: Case) {
        let error = CodecFixtures.encodingError(testCase.packet, testCase.version)
        #expect(error?.code == testCase.code)
        #expect(error.map { !$0.field.isEmpty } ?? false)
    }

    @Test("a refused packet leaves the buffer as it was", arguments: cases)
    func bufferUntouched(testCase: Case) throws {
        var buffer = ByteBuffer(bytes: [1, 2, 3])
        let writerIndex = buffer.writerIndex
        #expect(throws: MQTTEncodingError.self) { try testCase.packet.encode(into: &buffer, version: testCase.version) }
        #expect(buffer.writerIndex == writerIndex)
        #expect(Array(buffer.readableBytesView) == [1, 2, 3])
        try MQTTPacket.pingResp.encode(into: &buffer, version: testCase.version)
        #expect(Array(buffer.readableBytesView) == [1, 2, 3, 0xD0, 0x00])
    }

    @Test func theLongestStringsFit() throws {
        let topic = String(repeating: "x", count: 65_535)
        let packet = Self.publish(topic)
        #expect(try CodecFixtures.decode(CodecFixtures.encode(packet, .v5), .v5) == packet)
        let connect = MQTTPacket.connect(
            MQTTConnect(version: .v5, clientID: topic, password: Array(repeating: 7, count: 65_535)))
        #expect(try CodecFixtures.decode(CodecFixtures.encode(connect, .v5), nil) == connect)
    }

    @Test func stringLimitsCountUTF8BytesNotCharacters() {
        // 21,846 three-byte characters: 65,538 bytes.
        let error = CodecFixtures.encodingError(Self.publish(String(repeating: "€", count: 21_846)), .v5)
        #expect(error?.code == .stringTooLong)
        #expect(error?.field == "PUBLISH.topicName")
    }

    @Test func encodingErrorsDescribeThemselves() {
        #expect(
            MQTTEncodingError(.invalidValue, field: "PUBACK.packetID").description
                == "MQTT encoding failed: invalidValue in PUBACK.packetID")
    }
}
