import NIOCore
import SignalingMQTT
import Testing

@Suite("MQTT codec round trips")
struct CodecRoundTripTests {
    static func props(_ kind: MQTTPacket.Kind) -> MQTTProperties { CodecSample.properties(for: kind) }
    static let payload = CodecFixtures.payload("{\"sdp\":\"v=0\"}")
    static let will = MQTTWill(
        topic: "desktops/1/status", payload: CodecFixtures.payload("offline"), qos: .atLeastOnce, retain: true)

    /// Every packet type in MQTT 5.0, bare and with every property it allows.
    static let v5: [CodecSample] = [
        CodecSample("CONNECT minimal", .connect(MQTTConnect(version: .v5, clientID: "")), .v5),
        CodecSample(
            "CONNECT full",
            .connect(
                MQTTConnect(
                    version: .v5, cleanStart: false, keepAlive: 0xFFFF, clientID: "desktop-1", username: "user",
                    password: [0, 1, 2, 255],
                    will: MQTTWill(
                        topic: "w", payload: payload, qos: .exactlyOnce, retain: false,
                        properties: CodecSample.properties(for: .publish, will: true)),
                    properties: props(.connect))), .v5),
        CodecSample(
            "CONNECT password without user name", .connect(MQTTConnect(version: .v5, clientID: "c", password: [1])), .v5
        ),
        CodecSample(
            "CONNECT will QoS 0",
            .connect(MQTTConnect(version: .v5, clientID: "c", will: MQTTWill(topic: "t", payload: ByteBuffer()))), .v5),
        CodecSample("CONNACK success", .connAck(MQTTConnAck()), .v5),
        CodecSample(
            "CONNACK full",
            .connAck(MQTTConnAck(sessionPresent: true, reasonCode: .success, properties: props(.connAck))), .v5),
        CodecSample("CONNACK refused", .connAck(MQTTConnAck(reasonCode: .banned)), .v5),
        CodecSample("PUBLISH QoS 0", .publish(MQTTPublish(topic: "a/b", payload: payload)), .v5),
        CodecSample(
            "PUBLISH empty payload", .publish(MQTTPublish(topic: "a", payload: ByteBuffer(), retain: true)), .v5),
        CodecSample(
            "PUBLISH QoS 1 full",
            .publish(
                MQTTPublish(
                    topic: "a/b", payload: payload, qos: .atLeastOnce, retain: true, dup: true, packetID: 1,
                    properties: props(.publish))),
            .v5),
        CodecSample(
            "PUBLISH QoS 2 alias only",
            .publish(
                MQTTPublish(
                    topic: "", payload: payload, qos: .exactlyOnce, packetID: 0xFFFF,
                    properties: {
                        var p = MQTTProperties()
                        p.topicAlias = 1
                        return p
                    }())), .v5),
        CodecSample("PUBACK short", .pubAck(MQTTAck(packetID: 1)), .v5),
        CodecSample("PUBACK reason only", .pubAck(MQTTAck(packetID: 2, reasonCode: .noMatchingSubscribers)), .v5),
        CodecSample(
            "PUBACK full", .pubAck(MQTTAck(packetID: 3, reasonCode: .quotaExceeded, properties: props(.pubAck))), .v5),
        CodecSample("PUBACK success with properties", .pubAck(MQTTAck(packetID: 4, properties: props(.pubAck))), .v5),
        CodecSample("PUBREC", .pubRec(MQTTAck(packetID: 5, reasonCode: .payloadFormatInvalid)), .v5),
        CodecSample("PUBREL", .pubRel(MQTTAck(packetID: 6)), .v5),
        CodecSample(
            "PUBREL not found",
            .pubRel(MQTTAck(packetID: 7, reasonCode: .packetIdentifierNotFound, properties: props(.pubRel))), .v5),
        CodecSample("PUBCOMP", .pubComp(MQTTAck(packetID: 8)), .v5),
        CodecSample(
            "SUBSCRIBE",
            .subscribe(
                MQTTSubscribe(
                    packetID: 9,
                    subscriptions: [
                        MQTTSubscription(filter: "a/+/c"),
                        MQTTSubscription(
                            filter: "#",
                            options: MQTTSubscriptionOptions(
                                qos: .exactlyOnce, noLocal: true, retainAsPublished: true, retainHandling: 2)),
                        MQTTSubscription(
                            filter: "$share/g/x", options: MQTTSubscriptionOptions(qos: .atLeastOnce, retainHandling: 1)
                        ),
                    ], properties: props(.subscribe))), .v5),
        CodecSample(
            "SUBACK",
            .subAck(
                MQTTSubAck(
                    packetID: 9,
                    reasonCodes: [.grantedQoS0, .grantedQoS2, .notAuthorized, .wildcardSubscriptionsNotSupported],
                    properties: props(.subAck))),
            .v5),
        CodecSample(
            "UNSUBSCRIBE",
            .unsubscribe(MQTTUnsubscribe(packetID: 10, filters: ["a/+/c", "#"], properties: props(.unsubscribe))), .v5),
        CodecSample(
            "UNSUBACK",
            .unsubAck(
                MQTTUnsubAck(
                    packetID: 10, reasonCodes: [.success, .noSubscriptionExisted], properties: props(.unsubAck))), .v5),
        CodecSample("PINGREQ", .pingReq, .v5),
        CodecSample("PINGRESP", .pingResp, .v5),
        CodecSample("DISCONNECT normal", .disconnect(MQTTDisconnect()), .v5),
        CodecSample("DISCONNECT reason only", .disconnect(MQTTDisconnect(reasonCode: .sessionTakenOver)), .v5),
        CodecSample(
            "DISCONNECT full", .disconnect(MQTTDisconnect(reasonCode: .serverMoved, properties: props(.disconnect))),
            .v5),
        CodecSample(
            "DISCONNECT normal with properties", .disconnect(MQTTDisconnect(properties: props(.disconnect))), .v5),
        CodecSample("AUTH success", .auth(MQTTAuth()), .v5),
        CodecSample(
            "AUTH continue", .auth(MQTTAuth(reasonCode: .continueAuthentication, properties: props(.auth))), .v5),
        CodecSample("AUTH success with properties", .auth(MQTTAuth(properties: props(.auth))), .v5),
    ]

    /// Every packet type in MQTT 3.1.1 (no properties, no AUTH).
    static let v3: [CodecSample] = [
        CodecSample("CONNECT minimal", .connect(MQTTConnect(version: .v3_1_1, clientID: "")), .v3_1_1),
        CodecSample(
            "CONNECT full",
            .connect(
                MQTTConnect(
                    version: .v3_1_1, cleanStart: false, keepAlive: 1, clientID: "desktop-1", username: "",
                    password: [],
                    will: will)), .v3_1_1),
        CodecSample("CONNACK accepted", .connAck(MQTTConnAck(sessionPresent: true)), .v3_1_1),
        CodecSample("CONNACK refused 1", .connAck(MQTTConnAck(reasonCode: .unsupportedProtocolVersion)), .v3_1_1),
        CodecSample("CONNACK refused 2", .connAck(MQTTConnAck(reasonCode: .clientIdentifierNotValid)), .v3_1_1),
        CodecSample("CONNACK refused 3", .connAck(MQTTConnAck(reasonCode: .serverUnavailable)), .v3_1_1),
        CodecSample("CONNACK refused 4", .connAck(MQTTConnAck(reasonCode: .badUserNameOrPassword)), .v3_1_1),
        CodecSample("CONNACK refused 5", .connAck(MQTTConnAck(reasonCode: .notAuthorized)), .v3_1_1),
        CodecSample("PUBLISH QoS 0", .publish(MQTTPublish(topic: "a/b", payload: payload, retain: true)), .v3_1_1),
        CodecSample(
            "PUBLISH QoS 1",
            .publish(MQTTPublish(topic: "a/b", payload: payload, qos: .atLeastOnce, dup: true, packetID: 1)), .v3_1_1),
        CodecSample(
            "PUBLISH QoS 2",
            .publish(MQTTPublish(topic: "ünïcødé", payload: ByteBuffer(), qos: .exactlyOnce, packetID: 0xFFFF)), .v3_1_1
        ),
        CodecSample("PUBACK", .pubAck(MQTTAck(packetID: 1)), .v3_1_1),
        CodecSample("PUBREC", .pubRec(MQTTAck(packetID: 2)), .v3_1_1),
        CodecSample("PUBREL", .pubRel(MQTTAck(packetID: 3)), .v3_1_1),
        CodecSample("PUBCOMP", .pubComp(MQTTAck(packetID: 4)), .v3_1_1),
        CodecSample(
            "SUBSCRIBE",
            .subscribe(
                MQTTSubscribe(
                    packetID: 5,
                    subscriptions: [
                        MQTTSubscription(filter: "a/#"),
                        MQTTSubscription(filter: "+", options: MQTTSubscriptionOptions(qos: .exactlyOnce)),
                    ])), .v3_1_1),
        CodecSample(
            "SUBACK",
            .subAck(
                MQTTSubAck(packetID: 5, reasonCodes: [.grantedQoS0, .grantedQoS1, .grantedQoS2, .unspecifiedError])),
            .v3_1_1),
        CodecSample("UNSUBSCRIBE", .unsubscribe(MQTTUnsubscribe(packetID: 6, filters: ["a/#"])), .v3_1_1),
        CodecSample("UNSUBACK", .unsubAck(MQTTUnsubAck(packetID: 6)), .v3_1_1),
        CodecSample("PINGREQ", .pingReq, .v3_1_1),
        CodecSample("PINGRESP", .pingResp, .v3_1_1),
        CodecSample("DISCONNECT", .disconnect(MQTTDisconnect()), .v3_1_1),
    ]

    static let all = v5 + v3

    @Test("every packet type decodes to what was encoded", arguments: all)
    func encodeThenDecode(sample: CodecSample) throws {
        let bytes = try CodecFixtures.encode(sample.packet, sample.version)
        let decoded = try CodecFixtures.decode(bytes, sample.version)
        #expect(decoded == sample.packet)
        #expect(decoded.kind == sample.packet.kind)
        #expect(try CodecFixtures.encode(decoded, sample.version) == bytes, "encoding is canonical")
    }

    @Test(
        "a decoder without a version decodes a CONNECT of either version",
        arguments: all.filter { $0.packet.kind == .connect })
    func connectWithoutVersion(sample: CodecSample) throws {
        let bytes = try CodecFixtures.encode(sample.packet, sample.version)
        #expect(try CodecFixtures.decode(bytes, nil) == sample.packet)
        // A CONNECT carries its own version, whatever the connection's is.
        let other: MQTTProtocolVersion = sample.version == .v5 ? .v3_1_1 : .v5
        #expect(try CodecFixtures.encode(sample.packet, other) == bytes)
        #expect(try CodecFixtures.decode(bytes, other) == sample.packet)
    }

    @Test("every packet type appears in both tables")
    func tablesCoverEveryType() {
        #expect(Set(Self.v5.map(\.packet.kind)) == Set(MQTTPacket.Kind.allCases))
        #expect(Set(Self.v3.map(\.packet.kind)) == Set(MQTTPacket.Kind.allCases).subtracting([.auth]))
    }

    /// What MQTT 3.1.1 cannot carry is dropped: properties, ack reason codes, subscription options
    /// but QoS, and failure codes become the nearest 3.1.1 return code.
    @Test(
        "an MQTT 5.0 packet encoded for 3.1.1 loses only what 3.1.1 cannot carry",
        arguments: v5.filter { ![.connect, .auth].contains($0.packet.kind) && $0.name != "PUBLISH QoS 2 alias only" })
    func v5PacketForV3(sample: CodecSample) throws {
        let bytes = try CodecFixtures.encode(sample.packet, .v3_1_1)
        let decoded = try CodecFixtures.decode(bytes, .v3_1_1)
        #expect(decoded == Self.v3Equivalent(of: sample.packet))
    }

    static func v3Equivalent(of packet: MQTTPacket) -> MQTTPacket {
        let none = MQTTProperties()
        switch packet {
        case .connAck(var m):
            m.properties = none
            m.reasonCode = MQTTReasonCode(
                rawValue: [0x00, 0x84, 0x85, 0x88, 0x86, 0x87][Int(Self.v3ReturnCode(m.reasonCode))])
            return .connAck(m)
        case .publish(var m):
            m.properties = none
            if m.qos == .atMostOnce { m.dup = false }
            return .publish(m)
        case .pubAck(let m): return .pubAck(MQTTAck(packetID: m.packetID))
        case .pubRec(let m): return .pubRec(MQTTAck(packetID: m.packetID))
        case .pubRel(let m): return .pubRel(MQTTAck(packetID: m.packetID))
        case .pubComp(let m): return .pubComp(MQTTAck(packetID: m.packetID))
        case .subscribe(let m):
            return .subscribe(
                MQTTSubscribe(
                    packetID: m.packetID,
                    subscriptions: m.subscriptions.map {
                        MQTTSubscription(filter: $0.filter, options: MQTTSubscriptionOptions(qos: $0.options.qos))
                    }))
        case .subAck(let m):
            return .subAck(
                MQTTSubAck(
                    packetID: m.packetID, reasonCodes: m.reasonCodes.map { $0.isFailure ? .unspecifiedError : $0 }))
        case .unsubscribe(let m): return .unsubscribe(MQTTUnsubscribe(packetID: m.packetID, filters: m.filters))
        case .unsubAck(let m): return .unsubAck(MQTTUnsubAck(packetID: m.packetID))
        case .disconnect: return .disconnect(MQTTDisconnect())
        default: return packet
        }
    }

    static func v3ReturnCode(_ code: MQTTReasonCode) -> UInt8 {
        switch code.rawValue {
        case 0x00: 0
        case 0x84: 1
        case 0x85: 2
        case 0x86, 0x8C: 4
        case 0x87, 0x8A: 5
        default: 3
        }
    }

    @Test(
        "CONNACK reason codes map to the nearest 3.1.1 return code",
        arguments: [
            (MQTTReasonCode.success, UInt8(0)), (.unsupportedProtocolVersion, 1), (.clientIdentifierNotValid, 2),
            (.serverUnavailable, 3), (.serverBusy, 3), (.useAnotherServer, 3), (.unspecifiedError, 3),
            (.badUserNameOrPassword, 4),
            (.badAuthenticationMethod, 4), (.notAuthorized, 5), (.banned, 5),
        ])
    func connAckV3ReturnCodes(code: MQTTReasonCode, returnCode: UInt8) throws {
        let bytes = try CodecFixtures.encode(.connAck(MQTTConnAck(reasonCode: code)), .v3_1_1)
        #expect(bytes == [0x20, 0x02, 0x00, returnCode])
    }

    @Test func aPublishWithOnlyATopicAliasHasNoFormIn311() {
        let publish = MQTTPublish(topic: "", payload: ByteBuffer(), properties: CodecSample.properties(for: .publish))
        #expect(CodecFixtures.encodingError(.publish(publish), .v3_1_1)?.code == .invalidValue)
    }

    @Test func aQoS0PublishIsEncodedWithoutDupAndPacketIdentifier() throws {
        let publish = MQTTPublish(topic: "t", payload: ByteBuffer(), dup: true, packetID: 5)
        for version in [MQTTProtocolVersion.v3_1_1, .v5] {
            let bytes = try CodecFixtures.encode(.publish(publish), version)
            #expect(bytes[0] == 0x30)
            #expect(
                try CodecFixtures.decode(bytes, version) == .publish(MQTTPublish(topic: "t", payload: ByteBuffer())))
        }
    }

    @Test func propertiesAPacketDoesNotAllowAreLeftOut() throws {
        let bytes = try CodecFixtures.encode(.pubAck(MQTTAck(packetID: 1, properties: CodecSample.everyProperty)), .v5)
        #expect(try CodecFixtures.decode(bytes, .v5) == .pubAck(MQTTAck(packetID: 1, properties: Self.props(.pubAck))))
        var maximumQoS2 = MQTTProperties()
        maximumQoS2.maximumQoS = .exactlyOnce
        #expect(
            try CodecFixtures.encode(.connAck(MQTTConnAck(properties: maximumQoS2)), .v5) == [
                0x20, 0x03, 0x00, 0x00, 0x00,
            ])
    }

    @Test func aLongPropertyBlockUsesAMultiByteLength() throws {
        var properties = MQTTProperties()
        properties.userProperties = (0..<50).map {
            MQTTUserProperty(name: "name\($0)", value: String(repeating: "v", count: $0))
        }
        let packet = MQTTPacket.disconnect(MQTTDisconnect(reasonCode: .administrativeAction, properties: properties))
        let bytes = try CodecFixtures.encode(packet, .v5)
        #expect(bytes.count > 1_000)
        // e0, 2-byte remaining length, reason code, 2-byte property length.
        #expect(Array(bytes[1...2]) == CodecFixtures.vbi(bytes.count - 3))
        #expect(bytes[3] == 0x98)
        #expect(Array(bytes[4...5]) == CodecFixtures.vbi(bytes.count - 6))
        #expect(try CodecFixtures.decode(bytes, .v5) == packet)
    }

    @Test func encodingAppendsAfterWhatIsAlreadyInTheBuffer() throws {
        var buffer = ByteBuffer(bytes: [0xAA, 0xBB])
        try MQTTPacket.pingReq.encode(into: &buffer, version: .v5)
        try MQTTPacket.pubAck(MQTTAck(packetID: 0x1234, reasonCode: .notAuthorized)).encode(into: &buffer, version: .v5)
        #expect(buffer.readableBytesView.elementsEqual([0xAA, 0xBB, 0xC0, 0x00, 0x40, 0x03, 0x12, 0x34, 0x87]))
    }
}
