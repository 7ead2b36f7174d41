import NIOCore
import SignalingMQTT
import Testing

/// Packets written out by hand from the field layouts of MQTT 3.1.1 §3 and MQTT 5.0 §3, byte for
/// byte. Each decodes to the packet shown; the canonical ones (the shortest forms, properties in
/// identifier order) also encode to exactly these bytes.
@Suite("MQTT codec byte vectors")
struct CodecSpecVectorTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let packet: MQTTPacket
        let version: MQTTProtocolVersion
        let canonical: Bool

        init(
            _ name: String, _ hex: String, _ packet: MQTTPacket, _ version: MQTTProtocolVersion, canonical: Bool = true
        ) {
            self.name = name
            self.bytes = CodecFixtures.bytes(hex)
            self.packet = packet
            self.version = version
            self.canonical = canonical
        }

        var testDescription: String { "\(name) (\(version))" }
    }

    static let payload = CodecFixtures.payload("hello")
    static func props(_ build: (inout MQTTProperties) -> Void) -> MQTTProperties {
        var properties = MQTTProperties()
        build(&properties)
        return properties
    }

    static let vectors: [Vector] = [
        // §3.1: protocol name "MQTT", level 4, flags 0x02 (clean session), keep alive 60, client id "abc".
        Vector(
            "CONNECT", "10 0f 00 04 4d 51 54 54 04 02 00 3c 00 03 61 62 63",
            .connect(MQTTConnect(version: .v3_1_1, cleanStart: true, keepAlive: 60, clientID: "abc")), .v3_1_1),
        // §3.1.2.11: property length 5, Session Expiry Interval (0x11) 3600.
        Vector(
            "CONNECT with Session Expiry Interval",
            "10 15 00 04 4d 51 54 54 05 02 00 3c 05 11 00 00 0e 10 00 03 61 62 63",
            .connect(MQTTConnect(version: .v5, clientID: "abc", properties: props { $0.sessionExpiryInterval = 3600 })),
            .v5),
        // Flags 0xEE: user name, password, will retain, will QoS 1, will, clean start. Properties:
        // Receive Maximum 10; will properties: Will Delay Interval 5.
        Vector(
            "CONNECT with will and credentials",
            """
            10 27 00 04 4d 51 54 54 05 ee 00 0a 03 21 00 0a 00 01 63 05 18 00 00 00 05 00 03 77 2f 74
            00 03 62 79 65 00 01 75 00 01 70
            """,
            .connect(
                MQTTConnect(
                    version: .v5, keepAlive: 10, clientID: "c", username: "u", password: [0x70],
                    will: MQTTWill(
                        topic: "w/t", payload: CodecFixtures.payload("bye"), qos: .atLeastOnce, retain: true,
                        properties: props { $0.willDelayInterval = 5 }),
                    properties: props { $0.receiveMaximum = 10 })), .v5),
        Vector(
            "CONNECT with will and credentials",
            "10 1d 00 04 4d 51 54 54 04 ee 00 0a 00 01 63 00 03 77 2f 74 00 03 62 79 65 00 01 75 00 01 70",
            .connect(
                MQTTConnect(
                    version: .v3_1_1, keepAlive: 10, clientID: "c", username: "u", password: [0x70],
                    will: MQTTWill(topic: "w/t", payload: CodecFixtures.payload("bye"), qos: .atLeastOnce, retain: true)
                )),
            .v3_1_1),
        Vector("CONNACK accepted", "20 02 00 00", .connAck(MQTTConnAck()), .v3_1_1),
        Vector("CONNACK session present", "20 02 01 00", .connAck(MQTTConnAck(sessionPresent: true)), .v3_1_1),
        Vector("CONNACK not authorized", "20 02 00 05", .connAck(MQTTConnAck(reasonCode: .notAuthorized)), .v3_1_1),
        Vector(
            "CONNACK identifier rejected", "20 02 00 02", .connAck(MQTTConnAck(reasonCode: .clientIdentifierNotValid)),
            .v3_1_1),
        Vector("CONNACK success", "20 03 00 00 00", .connAck(MQTTConnAck()), .v5),
        // Assigned Client Identifier "x", Topic Alias Maximum 5.
        Vector(
            "CONNACK with properties", "20 0a 00 00 07 12 00 01 78 22 00 05",
            .connAck(
                MQTTConnAck(
                    properties: props {
                        $0.assignedClientIdentifier = "x"
                        $0.topicAliasMaximum = 5
                    })), .v5),
        Vector(
            "CONNACK bad user name or password", "20 03 00 86 00",
            .connAck(MQTTConnAck(reasonCode: .badUserNameOrPassword)), .v5),
        Vector(
            "PUBLISH QoS 0", "30 0a 00 03 61 2f 62 68 65 6c 6c 6f",
            .publish(MQTTPublish(topic: "a/b", payload: payload)), .v3_1_1),
        Vector(
            "PUBLISH QoS 1 DUP RETAIN", "3b 0c 00 03 61 2f 62 00 0a 68 65 6c 6c 6f",
            .publish(
                MQTTPublish(topic: "a/b", payload: payload, qos: .atLeastOnce, retain: true, dup: true, packetID: 10)),
            .v3_1_1),
        Vector(
            "PUBLISH QoS 0", "30 0b 00 03 61 2f 62 00 68 65 6c 6c 6f",
            .publish(MQTTPublish(topic: "a/b", payload: payload)), .v5),
        // Payload Format Indicator 1, Topic Alias 3.
        Vector(
            "PUBLISH QoS 2 with properties", "34 0f 00 03 61 2f 62 00 01 05 01 01 23 00 03 68 69",
            .publish(
                MQTTPublish(
                    topic: "a/b", payload: CodecFixtures.payload("hi"), qos: .exactlyOnce, packetID: 1,
                    properties: props {
                        $0.payloadFormatIndicator = 1
                        $0.topicAlias = 3
                    })), .v5),
        Vector(
            "PUBLISH by topic alias", "30 08 00 00 03 23 00 03 68 69",
            .publish(
                MQTTPublish(topic: "", payload: CodecFixtures.payload("hi"), properties: props { $0.topicAlias = 3 })),
            .v5),
        Vector("PUBACK", "40 02 00 0a", .pubAck(MQTTAck(packetID: 10)), .v3_1_1),
        Vector("PUBREC", "50 02 00 0a", .pubRec(MQTTAck(packetID: 10)), .v3_1_1),
        Vector("PUBREL", "62 02 00 0a", .pubRel(MQTTAck(packetID: 10)), .v3_1_1),
        Vector("PUBCOMP", "70 02 00 0a", .pubComp(MQTTAck(packetID: 10)), .v3_1_1),
        // §3.4.2.1: remaining length 2 means success without properties.
        Vector("PUBACK short form", "40 02 00 0a", .pubAck(MQTTAck(packetID: 10)), .v5),
        // §3.4.2.2.1: remaining length 3 means a reason code without properties.
        Vector(
            "PUBACK reason code only", "40 03 00 0a 10",
            .pubAck(MQTTAck(packetID: 10, reasonCode: .noMatchingSubscribers)), .v5),
        Vector(
            "PUBACK long form of success", "40 04 00 0a 00 00", .pubAck(MQTTAck(packetID: 10)), .v5, canonical: false),
        Vector(
            "PUBACK reason code, empty properties", "40 04 00 0a 87 00",
            .pubAck(MQTTAck(packetID: 10, reasonCode: .notAuthorized)), .v5, canonical: false),
        Vector(
            "PUBACK with Reason String", "40 08 00 0a 87 04 1f 00 01 78",
            .pubAck(MQTTAck(packetID: 10, reasonCode: .notAuthorized, properties: props { $0.reasonString = "x" })), .v5
        ),
        Vector("PUBREC short form", "50 02 00 0a", .pubRec(MQTTAck(packetID: 10)), .v5),
        Vector(
            "PUBREL not found", "62 03 00 0a 92", .pubRel(MQTTAck(packetID: 10, reasonCode: .packetIdentifierNotFound)),
            .v5),
        Vector("PUBCOMP short form", "70 02 00 0a", .pubComp(MQTTAck(packetID: 10)), .v5),
        Vector(
            "SUBSCRIBE", "82 08 00 0a 00 03 61 2f 62 01",
            .subscribe(
                MQTTSubscribe(
                    packetID: 10,
                    subscriptions: [
                        MQTTSubscription(filter: "a/b", options: MQTTSubscriptionOptions(qos: .atLeastOnce))
                    ])),
            .v3_1_1),
        // Options 0x2d: QoS 1, No Local, Retain As Published, Retain Handling 2.
        Vector(
            "SUBSCRIBE with options", "82 09 00 0a 00 00 03 61 2f 62 2d",
            .subscribe(
                MQTTSubscribe(
                    packetID: 10,
                    subscriptions: [
                        MQTTSubscription(
                            filter: "a/b",
                            options: MQTTSubscriptionOptions(
                                qos: .atLeastOnce, noLocal: true, retainAsPublished: true, retainHandling: 2))
                    ])), .v5),
        // Subscription Identifier 16,384 as a 3-byte Variable Byte Integer.
        Vector(
            "SUBSCRIBE with Subscription Identifier", "82 0d 00 0a 04 0b 80 80 01 00 03 61 2f 62 00",
            .subscribe(
                MQTTSubscribe(
                    packetID: 10, subscriptions: [MQTTSubscription(filter: "a/b")],
                    properties: props { $0.subscriptionIdentifiers = [16_384] })),
            .v5),
        Vector(
            "SUBACK", "90 04 00 0a 01 80",
            .subAck(MQTTSubAck(packetID: 10, reasonCodes: [.grantedQoS1, .unspecifiedError])), .v3_1_1),
        Vector(
            "SUBACK", "90 05 00 0a 00 02 a2",
            .subAck(MQTTSubAck(packetID: 10, reasonCodes: [.grantedQoS2, .wildcardSubscriptionsNotSupported])), .v5),
        Vector(
            "UNSUBSCRIBE", "a2 07 00 0a 00 03 61 2f 62", .unsubscribe(MQTTUnsubscribe(packetID: 10, filters: ["a/b"])),
            .v3_1_1),
        Vector(
            "UNSUBSCRIBE", "a2 08 00 0a 00 00 03 61 2f 62",
            .unsubscribe(MQTTUnsubscribe(packetID: 10, filters: ["a/b"])), .v5),
        Vector("UNSUBACK", "b0 02 00 0a", .unsubAck(MQTTUnsubAck(packetID: 10)), .v3_1_1),
        Vector(
            "UNSUBACK", "b0 04 00 0a 00 11",
            .unsubAck(MQTTUnsubAck(packetID: 10, reasonCodes: [.noSubscriptionExisted])), .v5),
        Vector("PINGREQ", "c0 00", .pingReq, .v3_1_1),
        Vector("PINGRESP", "d0 00", .pingResp, .v3_1_1),
        Vector("PINGREQ", "c0 00", .pingReq, .v5),
        Vector("PINGRESP", "d0 00", .pingResp, .v5),
        Vector("DISCONNECT", "e0 00", .disconnect(MQTTDisconnect()), .v3_1_1),
        // §3.14.2.1: remaining length 0 means normal disconnection.
        Vector("DISCONNECT short form", "e0 00", .disconnect(MQTTDisconnect()), .v5),
        Vector(
            "DISCONNECT reason code only", "e0 01 8e", .disconnect(MQTTDisconnect(reasonCode: .sessionTakenOver)), .v5),
        Vector("DISCONNECT long form of normal", "e0 02 00 00", .disconnect(MQTTDisconnect()), .v5, canonical: false),
        Vector(
            "DISCONNECT with Session Expiry Interval", "e0 07 00 05 11 00 00 00 00",
            .disconnect(MQTTDisconnect(properties: props { $0.sessionExpiryInterval = 0 })), .v5),
        // §3.15.2.1: remaining length 0 means success without properties.
        Vector("AUTH short form", "f0 00", .auth(MQTTAuth()), .v5),
        Vector(
            "AUTH continue with Authentication Method", "f0 0a 18 08 15 00 05 53 43 52 41 4d",
            .auth(
                MQTTAuth(reasonCode: .continueAuthentication, properties: props { $0.authenticationMethod = "SCRAM" })),
            .v5),
        Vector("AUTH long form of success", "f0 02 00 00", .auth(MQTTAuth()), .v5, canonical: false),
    ]

    @Test("the bytes decode to the packet", arguments: vectors)
    func decodes(vector: Vector) throws {
        #expect(try CodecFixtures.decode(vector.bytes, vector.version) == vector.packet)
    }

    @Test("the packet encodes to the bytes", arguments: vectors.filter(\.canonical))
    func encodes(vector: Vector) throws {
        let bytes = try CodecFixtures.encode(vector.packet, vector.version)
        #expect(bytes == vector.bytes, "got \(CodecFixtures.hex(bytes))")
    }

    @Test func aCONNECTTeachesAServerSideDecoderItsVersion() throws {
        var decoder = MQTTPacketDecoder()
        var buffer = ByteBuffer(
            bytes: Self.vectors[1].bytes + CodecFixtures.bytes("30 0b 00 03 61 2f 62 00 68 65 6c 6c 6f"))
        #expect(decoder.version == nil)
        #expect(try decoder.decode(buffer: &buffer)?.kind == .connect)
        #expect(decoder.version == .v5)
        #expect(try decoder.decode(buffer: &buffer) == .publish(MQTTPublish(topic: "a/b", payload: Self.payload)))
    }

    @Test func aLaterCONNECTDoesNotChangeAKnownVersion() throws {
        var decoder = MQTTPacketDecoder(version: .v5)
        var buffer = ByteBuffer(bytes: Self.vectors[0].bytes)
        #expect(try decoder.decode(buffer: &buffer) == Self.vectors[0].packet)
        #expect(decoder.version == .v5)
    }

    @Test func reasonCodesKnowWhichAreFailures() {
        #expect(!MQTTReasonCode.success.isFailure)
        #expect(!MQTTReasonCode.reAuthenticate.isFailure)
        #expect(MQTTReasonCode.unspecifiedError.isFailure)
        #expect(MQTTReasonCode.wildcardSubscriptionsNotSupported.rawValue == 0xA2)
        #expect(MQTTReasonCode.normalDisconnection == .grantedQoS0)
        #expect(MQTTReasonCode.notAuthorized.description == "notAuthorized(0x87)")
        #expect(MQTTReasonCode(rawValue: 0x7F).description == "0x7F")
        #expect(MQTTQoS.atMostOnce < .atLeastOnce && MQTTQoS.atLeastOnce < .exactlyOnce)
        #expect(min(MQTTQoS.exactlyOnce, .atLeastOnce) == .atLeastOnce)
    }
}
