import NIOCore
import SignalingMQTT
import Testing

/// MQTT 5.0 §2.2.2 properties: which packet allows which (Table 2-4, written out again here
/// independently of the codec), duplicates, unknown identifiers and value ranges.
@Suite("MQTT codec properties")
struct CodecPropertyTests {
    /// A packet with a property block in the middle: first byte, bytes before, bytes after.
    struct Place: Sendable, CustomTestStringConvertible {
        let name: String
        let firstByte: UInt8
        let before: [UInt8]
        let after: [UInt8]
        var testDescription: String { name }

        func packet(properties: [UInt8]) -> [UInt8] {
            CodecFixtures.packet(firstByte, before + CodecFixtures.properties(properties) + after)
        }
    }

    static let s = CodecFixtures.string
    static let places: [Place] = [
        Place(name: "CONNECT", firstByte: 0x10, before: s("MQTT") + [5, 0x02, 0, 60], after: s("c")),
        Place(name: "will", firstByte: 0x10, before: s("MQTT") + [5, 0x06, 0, 60, 0] + s("c"), after: s("t") + s("")),
        Place(name: "CONNACK", firstByte: 0x20, before: [0, 0], after: []),
        Place(name: "PUBLISH", firstByte: 0x30, before: s("t"), after: []),
        Place(name: "PUBACK", firstByte: 0x40, before: [0, 1, 0], after: []),
        Place(name: "PUBREC", firstByte: 0x50, before: [0, 1, 0], after: []),
        Place(name: "PUBREL", firstByte: 0x62, before: [0, 1, 0], after: []),
        Place(name: "PUBCOMP", firstByte: 0x70, before: [0, 1, 0], after: []),
        Place(name: "SUBSCRIBE", firstByte: 0x82, before: [0, 1], after: s("t") + [0]),
        Place(name: "SUBACK", firstByte: 0x90, before: [0, 1], after: [0]),
        Place(name: "UNSUBSCRIBE", firstByte: 0xA2, before: [0, 1], after: s("t")),
        Place(name: "UNSUBACK", firstByte: 0xB0, before: [0, 1], after: [0]),
        Place(name: "DISCONNECT", firstByte: 0xE0, before: [0], after: []),
        Place(name: "AUTH", firstByte: 0xF0, before: [0], after: []),
    ]

    static let acks = ["PUBACK", "PUBREC", "PUBREL", "PUBCOMP"]

    /// MQTT 5.0 §2.2.2.2 Table 2-4: identifier, a valid value, the places that allow it.
    static let table: [(id: UInt8, value: [UInt8], allowedIn: Set<String>)] = [
        (0x01, [1], ["PUBLISH", "will"]),
        (0x02, [0, 0, 0, 1], ["PUBLISH", "will"]),
        (0x03, s("x"), ["PUBLISH", "will"]),
        (0x08, s("x"), ["PUBLISH", "will"]),
        (0x09, CodecFixtures.binary([1]), ["PUBLISH", "will"]),
        (0x0B, [1], ["PUBLISH", "SUBSCRIBE"]),
        (0x11, [0, 0, 0, 1], ["CONNECT", "CONNACK", "DISCONNECT"]),
        (0x12, s("x"), ["CONNACK"]),
        (0x13, [0, 1], ["CONNACK"]),
        (0x15, s("x"), ["CONNECT", "CONNACK", "AUTH"]),
        (0x16, CodecFixtures.binary([1]), ["CONNECT", "CONNACK", "AUTH"]),
        (0x17, [1], ["CONNECT"]),
        (0x18, [0, 0, 0, 1], ["will"]),
        (0x19, [1], ["CONNECT"]),
        (0x1A, s("x"), ["CONNACK"]),
        (0x1C, s("x"), ["CONNACK", "DISCONNECT"]),
        (0x1F, s("x"), Set(["CONNACK", "SUBACK", "UNSUBACK", "DISCONNECT", "AUTH"] + acks)),
        (0x21, [0, 1], ["CONNECT", "CONNACK"]),
        (0x22, [0, 1], ["CONNECT", "CONNACK"]),
        (0x23, [0, 1], ["PUBLISH"]),
        (0x24, [1], ["CONNACK"]),
        (0x25, [1], ["CONNACK"]),
        (0x26, s("a") + s("b"), Set(places.map(\.name))),
        (0x27, [0, 0, 0, 1], ["CONNECT", "CONNACK"]),
        (0x28, [1], ["CONNACK"]),
        (0x29, [1], ["CONNACK"]),
        (0x2A, [1], ["CONNACK"]),
    ]

    static func properties(of packet: MQTTPacket, will: Bool) -> MQTTProperties? {
        switch packet {
        case .connect(let m): will ? m.will?.properties : m.properties
        case .connAck(let m): m.properties
        case .publish(let m): m.properties
        case .pubAck(let m), .pubRec(let m), .pubRel(let m), .pubComp(let m): m.properties
        case .subscribe(let m): m.properties
        case .subAck(let m): m.properties
        case .unsubscribe(let m): m.properties
        case .unsubAck(let m): m.properties
        case .disconnect(let m): m.properties
        case .auth(let m): m.properties
        case .pingReq, .pingResp: nil
        }
    }

    @Test(
        "a property decodes where Table 2-4 allows it and is a protocol error elsewhere", arguments: places,
        table.indices)
    func allowedOrNot(place: Place, index: Int) throws {
        let (id, value, allowedIn) = Self.table[index]
        let bytes = place.packet(properties: [id] + value)
        if allowedIn.contains(place.name) {
            let packet = try CodecFixtures.decode(bytes, .v5)
            let properties = try #require(Self.properties(of: packet, will: place.name == "will"))
            #expect(properties != MQTTProperties())
            // It survives a round trip in the same packet.
            #expect(try CodecFixtures.decode(CodecFixtures.encode(packet, .v5), .v5) == packet)
        } else {
            let error = CodecFixtures.decodingError(bytes, .v5)
            #expect(error?.code == .propertyNotAllowed)
            #expect(error?.reasonCode == .protocolError)
            // Fixed header (2), the bytes before, the property length (1).
            #expect(error?.offset == 2 + place.before.count + 1)
        }
    }

    @Test(
        "a property given twice is a protocol error, except User Property and PUBLISH Subscription Identifier",
        arguments: places, table.indices)
    func duplicates(place: Place, index: Int) throws {
        let (id, value, allowedIn) = Self.table[index]
        guard allowedIn.contains(place.name) else { return }
        let bytes = place.packet(properties: [id] + value + [id] + value)
        if id == 0x26 || (id == 0x0B && place.name == "PUBLISH") {
            let properties = Self.properties(of: try CodecFixtures.decode(bytes, .v5), will: place.name == "will")
            if id == 0x26 {
                #expect(properties?.userProperties.count == 2)
            } else {
                #expect(properties?.subscriptionIdentifiers == [1, 1])
            }
        } else {
            let error = CodecFixtures.decodingError(bytes, .v5)
            #expect(error?.code == .duplicateProperty)
            #expect(error?.reasonCode == .protocolError)
            #expect(error?.offset == 2 + place.before.count + 1 + 1 + value.count)
        }
    }

    static let unknownIdentifiers: [[UInt8]] =
        [0x00, 0x04, 0x05, 0x06, 0x07, 0x0A, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x14, 0x1B, 0x1D, 0x1E, 0x20, 0x2B, 0x7F].map
    { [$0] }
        + [[0x80, 0x01], [0xA6, 0x80, 0x01]]  // 128 and 16,422 (0x26 plus 128 × 128) as longer integers

    @Test("an unknown property identifier is malformed", arguments: unknownIdentifiers)
    func unknown(id: [UInt8]) {
        let bytes = CodecFixtures.packet(0xE0, [0] + CodecFixtures.properties(id + [0, 0, 0, 0]))
        let error = CodecFixtures.decodingError(bytes, .v5)
        #expect(error?.code == .unknownProperty)
        #expect(error?.reasonCode == .malformedPacket)
        #expect(error?.offset == 4)
    }

    @Test func aPropertyIdentifierNotInItsShortestFormIsMalformed() {
        let bytes = CodecFixtures.packet(0xE0, [0] + CodecFixtures.properties([0x9F, 0x00] + Self.s("x")))
        #expect(CodecFixtures.decodingError(bytes, .v5)?.code == .malformedVariableByteInteger)
    }

    static let badValues: [(place: String, property: [UInt8], code: MQTTDecodingError.Code, reason: MQTTReasonCode)] = [
        ("PUBLISH", [0x01, 2], .invalidPropertyValue, .protocolError),  // Payload Format Indicator 2
        ("will", [0x01, 0xFF], .invalidPropertyValue, .protocolError),
        ("CONNECT", [0x17, 2], .invalidPropertyValue, .protocolError),  // Request Problem Information
        ("CONNECT", [0x19, 2], .invalidPropertyValue, .protocolError),  // Request Response Information
        ("CONNACK", [0x24, 2], .invalidPropertyValue, .protocolError),  // Maximum QoS 2 (§3.2.2.3.4)
        ("CONNACK", [0x25, 2], .invalidPropertyValue, .protocolError),  // Retain Available
        ("CONNACK", [0x28, 2], .invalidPropertyValue, .protocolError),  // Wildcard Subscription Available
        ("CONNACK", [0x29, 2], .invalidPropertyValue, .protocolError),  // Subscription Identifiers Available
        ("CONNACK", [0x2A, 2], .invalidPropertyValue, .protocolError),  // Shared Subscription Available
        ("CONNECT", [0x21, 0, 0], .invalidPropertyValue, .protocolError),  // Receive Maximum 0
        ("CONNACK", [0x21, 0, 0], .invalidPropertyValue, .protocolError),
        ("CONNECT", [0x27, 0, 0, 0, 0], .invalidPropertyValue, .protocolError),  // Maximum Packet Size 0
        ("CONNACK", [0x27, 0, 0, 0, 0], .invalidPropertyValue, .protocolError),
        ("PUBLISH", [0x0B, 0], .invalidPropertyValue, .protocolError),  // Subscription Identifier 0
        ("SUBSCRIBE", [0x0B, 0], .invalidPropertyValue, .protocolError),
        ("PUBLISH", [0x0B, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], .malformedVariableByteInteger, .malformedPacket),
        ("PUBLISH", [0x0B, 0x80, 0x00], .malformedVariableByteInteger, .malformedPacket),
        ("PUBLISH", [0x23, 0, 0], .invalidTopicAlias, .topicAliasInvalid),  // Topic Alias 0
    ]

    @Test("an out-of-range property value is rejected", arguments: badValues.indices)
    func badValue(index: Int) {
        let (placeName, property, code, reason) = Self.badValues[index]
        let place = Self.places.first { $0.name == placeName }!
        let error = CodecFixtures.decodingError(place.packet(properties: property), .v5)
        #expect(error?.code == code)
        #expect(error?.reasonCode == reason)
        #expect(error?.offset == 2 + place.before.count + 1 + 1, "the value, after the identifier")
    }

    @Test func aSubscriptionIdentifierTakesUpToFourBytes() throws {
        let place = Self.places.first { $0.name == "SUBSCRIBE" }!
        guard
            case .subscribe(let subscribe) = try CodecFixtures.decode(
                place.packet(properties: [0x0B, 0xFF, 0xFF, 0xFF, 0x7F]), .v5)
        else {
            Issue.record("not SUBSCRIBE")
            return
        }
        #expect(subscribe.properties.subscriptionIdentifiers == [268_435_455])
    }

    @Test func aPropertyBlockCanBeEmptyAndPropertiesKeepTheirOrder() throws {
        let place = Self.places.first { $0.name == "PUBLISH" }!
        let block: [UInt8] =
            [0x26] + Self.s("b") + Self.s("1") + [0x0B, 0x05] + [0x26] + Self.s("a") + Self.s("2") + [0x0B, 0x03]
        guard case .publish(let publish) = try CodecFixtures.decode(place.packet(properties: block), .v5) else {
            Issue.record("not PUBLISH")
            return
        }
        #expect(
            publish.properties.userProperties == [
                MQTTUserProperty(name: "b", value: "1"), MQTTUserProperty(name: "a", value: "2"),
            ])
        #expect(publish.properties.subscriptionIdentifiers == [5, 3])
        #expect(
            try CodecFixtures.decode(place.packet(properties: []), .v5)
                == .publish(MQTTPublish(topic: "t", payload: ByteBuffer())))
    }
}
