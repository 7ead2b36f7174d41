import NIOCore
import SignalingMQTT
import Testing

/// Both directions of real sessions, captured with a TCP proxy between the clients and a
/// mosquitto 2.0.11 broker: paho-mqtt 2.2.0 (CONNECT with will, user name and password, SUBSCRIBE
/// with options, PUBLISH at QoS 0/1/2 with MQTT 5.0 properties, UNSUBSCRIBE, PINGREQ, DISCONNECT)
/// and mosquitto_pub. Broker-to-client MQTT 5.0 PUBLISH carries Subscription Identifier 42.
@Suite("MQTT codec on captured sessions")
struct CodecCapturedPacketTests {
    struct Capture: Sendable, CustomTestStringConvertible {
        let name: String
        let version: MQTTProtocolVersion
        /// Client to broker, decoded by a server-side decoder (version nil until CONNECT).
        let clientToServer: [UInt8]
        let clientKinds: [MQTTPacket.Kind]
        /// Broker to client, decoded by a client-side decoder (version set).
        let serverToClient: [UInt8]
        let serverKinds: [MQTTPacket.Kind]
        var testDescription: String { name }
    }

    static let pahoSessionClientKinds: [MQTTPacket.Kind] = [
        .connect, .subscribe, .publish, .publish, .pubAck, .publish, .pubRel, .pubRec, .pubComp, .publish, .pubAck,
        .unsubscribe, .pingReq, .disconnect,
    ]
    static let pahoSessionServerKinds: [MQTTPacket.Kind] = [
        .connAck, .subAck, .publish, .publish, .pubAck, .pubRec, .publish, .pubComp, .pubRel, .publish, .pubAck,
        .unsubAck, .pingResp,
    ]

    static let pahoV5 = Capture(
        name: "paho-mqtt, MQTT 5.0", version: .v5,
        clientToServer: CodecFixtures.bytes(
            """
            106f00044d51545405ee001e1d110000003c210010220004260003617070000a706f642d61726361646500067061686f2d35
            1203000a746578742f706c61696e180000000500126465736b746f70732f64312f73746174757300076f66666c696e650005
            616c696365000673336372337482240001020b2a00087369676e616c2f230a00116465736b746f70732f2b2f737461747573
            013058000c7369676e616c2f6f666665723c0101020000001e0300106170706c69636174696f6e2f6a736f6e08000c736967
            6e616c2f7265706c7909000201022600016b0001762600016b0001777b22736470223a22763d30227d335a000c7369676e61
            6c2f6f6666657200033c0101020000001e0300106170706c69636174696f6e2f6a736f6e08000c7369676e616c2f7265706c
            7909000201022600016b0001762600016b0001777b22736470223a22763d30227d40020001345a000c7369676e616c2f6f66
            66657200043c0101020000001e0300106170706c69636174696f6e2f6a736f6e08000c7369676e616c2f7265706c79090002
            01022600016b0001762600016b0001777b22736470223a22763d30227d6202000450020002700200023311000c7369676e61
            6c2f6f6666657200050040020003a22000060000087369676e616c2f2300116465736b746f70732f2b2f737461747573c000
            e00700051100000000
            """),
        clientKinds: pahoSessionClientKinds,
        serverToClient: CodecFixtures.bytes(
            """
            200900000622000a21001490050001000201305a000c7369676e616c2f6f666665723e0b2a01010300106170706c69636174
            696f6e2f6a736f6e08000c7369676e616c2f7265706c7909000201022600016b0001762600016b000177020000001e7b2273
            6470223a22763d30227d335c000c7369676e616c2f6f6666657200013e0b2a01010300106170706c69636174696f6e2f6a73
            6f6e08000c7369676e616c2f7265706c7909000201022600016b0001762600016b000177020000001e7b22736470223a2276
            3d30227d4002000350020004345c000c7369676e616c2f6f6666657200023e0b2a01010300106170706c69636174696f6e2f
            6a736f6e08000c7369676e616c2f7265706c7909000201022600016b0001762600016b000177020000001e7b22736470223a
            22763d30227d70020004620200023313000c7369676e616c2f6f666665720003020b2a40020005b0050006000000d000
            """),
        serverKinds: pahoSessionServerKinds)

    static let pahoV3 = Capture(
        name: "paho-mqtt, MQTT 3.1.1", version: .v3_1_1,
        clientToServer: CodecFixtures.bytes(
            """
            103e00044d51545404ee001e00067061686f2d3400126465736b746f70732f64312f73746174757300076f66666c696e6500
            05616c69636500067333637233748221000100087369676e616c2f230200116465736b746f70732f2b2f7374617475730130
            1b000c7369676e616c2f6f666665727b22736470223a22763d30227d331d000c7369676e616c2f6f6666657200037b227364
            70223a22763d30227d40020001341d000c7369676e616c2f6f6666657200047b22736470223a22763d30227d620200045002
            0002700200023310000c7369676e616c2f6f66666572000540020003a21f000600087369676e616c2f2300116465736b746f
            70732f2b2f737461747573c000e000
            """),
        clientKinds: pahoSessionClientKinds,
        serverToClient: CodecFixtures.bytes(
            """
            20020000900400010201301b000c7369676e616c2f6f666665727b22736470223a22763d30227d321d000c7369676e616c2f
            6f6666657200017b22736470223a22763d30227d4002000350020004341d000c7369676e616c2f6f6666657200027b227364
            70223a22763d30227d70020004620200023210000c7369676e616c2f6f66666572000340020005b0020006d000
            """),
        serverKinds: pahoSessionServerKinds)

    static let mosquittoPubV5 = Capture(
        name: "mosquitto_pub, MQTT 5.0", version: .v5,
        clientToServer: CodecFixtures.bytes(
            "101000044d5154540502003c032100140000321b000a7369676e616c2f636c690001072600016100016268656c6c6fe000"),
        clientKinds: [.connect, .publish, .disconnect],
        serverToClient: CodecFixtures.bytes(
            """
            203500003222000a1200296175746f2d38414631373641452d324438412d303246342d444541442d39423534463943364135
            44312100144003000110
            """),
        serverKinds: [.connAck, .pubAck])

    static let mosquittoPubV3 = Capture(
        name: "mosquitto_pub, MQTT 3.1.1", version: .v3_1_1,
        clientToServer: CodecFixtures.bytes(
            "100c00044d5154540402003c00003413000a7369676e616c2f636c69000168656c6c6f62020001e000"),
        clientKinds: [.connect, .publish, .pubRel, .disconnect],
        serverToClient: CodecFixtures.bytes("200200005002000170020001"),
        serverKinds: [.connAck, .pubRec, .pubComp])

    static let all = [pahoV5, pahoV3, mosquittoPubV5, mosquittoPubV3]

    /// Decodes a whole stream, checking that nothing is left over.
    static func decodeStream(_ bytes: [UInt8], version: MQTTProtocolVersion?) throws -> (
        packets: [MQTTPacket], decoder: MQTTPacketDecoder
    ) {
        var decoder = MQTTPacketDecoder(version: version)
        var buffer = ByteBuffer(bytes: bytes)
        var packets: [MQTTPacket] = []
        while let packet = try decoder.decode(buffer: &buffer) { packets.append(packet) }
        #expect(buffer.readableBytes == 0)
        return (packets, decoder)
    }

    @Test("a captured client stream decodes on a server-side decoder that learns the version", arguments: all)
    func clientStream(capture: Capture) throws {
        let (packets, decoder) = try Self.decodeStream(capture.clientToServer, version: nil)
        #expect(packets.map(\.kind) == capture.clientKinds)
        #expect(decoder.version == capture.version)
        // Client encoders write properties in identifier order, as ours does: same bytes back.
        var out = ByteBuffer()
        for packet in packets { try packet.encode(into: &out, version: capture.version) }
        #expect(Array(out.readableBytesView) == capture.clientToServer)
    }

    @Test("a captured broker stream decodes and re-encodes to equal packets", arguments: all)
    func serverStream(capture: Capture) throws {
        let (packets, _) = try Self.decodeStream(capture.serverToClient, version: capture.version)
        #expect(packets.map(\.kind) == capture.serverKinds)
        for packet in packets {
            let bytes = try CodecFixtures.encode(packet, capture.version)
            #expect(try CodecFixtures.decode(bytes, capture.version) == packet)
        }
    }

    @Test func pahoMQTT5ConnectCarriesWillCredentialsAndProperties() throws {
        let (packets, _) = try Self.decodeStream(Self.pahoV5.clientToServer, version: nil)
        guard case .connect(let connect) = packets[0] else {
            Issue.record("not CONNECT")
            return
        }
        var properties = MQTTProperties()
        properties.sessionExpiryInterval = 60
        properties.receiveMaximum = 16
        properties.topicAliasMaximum = 4
        properties.userProperties = [MQTTUserProperty(name: "app", value: "pod-arcade")]
        var willProperties = MQTTProperties()
        willProperties.contentType = "text/plain"
        willProperties.willDelayInterval = 5
        let expected = MQTTConnect(
            version: .v5, cleanStart: true, keepAlive: 30, clientID: "paho-5", username: "alice",
            password: Array("s3cr3t".utf8),
            will: MQTTWill(
                topic: "desktops/d1/status", payload: CodecFixtures.payload("offline"), qos: .atLeastOnce, retain: true,
                properties: willProperties),
            properties: properties)
        #expect(connect == expected)

        guard case .subscribe(let subscribe) = packets[1] else {
            Issue.record("not SUBSCRIBE")
            return
        }
        #expect(subscribe.packetID == 1)
        #expect(subscribe.properties.subscriptionIdentifiers == [42])
        #expect(
            subscribe.subscriptions == [
                MQTTSubscription(
                    filter: "signal/#", options: MQTTSubscriptionOptions(qos: .exactlyOnce, retainAsPublished: true)),
                MQTTSubscription(filter: "desktops/+/status", options: MQTTSubscriptionOptions(qos: .atLeastOnce)),
            ])

        guard case .publish(let publish) = packets[3] else {
            Issue.record("not PUBLISH")
            return
        }
        #expect(publish.topic == "signal/offer")
        #expect(publish.qos == .atLeastOnce && publish.retain && publish.packetID == 3)
        #expect(publish.payload == CodecFixtures.payload("{\"sdp\":\"v=0\"}"))
        #expect(publish.properties.payloadFormatIndicator == 1)
        #expect(publish.properties.messageExpiryInterval == 30)
        #expect(publish.properties.contentType == "application/json")
        #expect(publish.properties.responseTopic == "signal/reply")
        #expect(publish.properties.correlationData == [1, 2])
        #expect(
            publish.properties.userProperties == [
                MQTTUserProperty(name: "k", value: "v"), MQTTUserProperty(name: "k", value: "w"),
            ])

        #expect(
            packets.last
                == .disconnect(
                    MQTTDisconnect(
                        properties: {
                            var p = MQTTProperties()
                            p.sessionExpiryInterval = 0
                            return p
                        }())))
    }

    @Test func mosquittoMQTT5AnswersCarryTheirPropertiesAndReasonCodes() throws {
        let (session, _) = try Self.decodeStream(Self.pahoV5.serverToClient, version: .v5)
        var connAckProperties = MQTTProperties()
        connAckProperties.topicAliasMaximum = 10
        connAckProperties.receiveMaximum = 20
        #expect(session[0] == .connAck(MQTTConnAck(properties: connAckProperties)))
        #expect(session[1] == .subAck(MQTTSubAck(packetID: 1, reasonCodes: [.grantedQoS2, .grantedQoS1])))
        guard case .publish(let forwarded) = session[2] else {
            Issue.record("not PUBLISH")
            return
        }
        #expect(forwarded.properties.subscriptionIdentifiers == [42])
        #expect(session[11] == .unsubAck(MQTTUnsubAck(packetID: 6, reasonCodes: [.success, .success])))

        let (pub, _) = try Self.decodeStream(Self.mosquittoPubV5.serverToClient, version: .v5)
        guard case .connAck(let connAck) = pub[0] else {
            Issue.record("not CONNACK")
            return
        }
        #expect(connAck.properties.assignedClientIdentifier?.hasPrefix("auto-") == true)
        #expect(pub[1] == .pubAck(MQTTAck(packetID: 1, reasonCode: .noMatchingSubscribers)))
    }
}
