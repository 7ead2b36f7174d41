import NIOCore
import STUNCore
import Testing

/// One attribute value for the round-trip table.
struct AttributeCase: Sendable, CustomTestStringConvertible {
    var name: String
    var attribute: StunAttribute
    var testDescription: String { name }

    init(_ name: String, _ attribute: StunAttribute) {
        self.name = name
        self.attribute = attribute
    }

    /// Encodes a message holding this attribute. MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256
    /// and FINGERPRINT are computed by the encoder (it skips values found in `attributes`), so
    /// for those the matching option is set.
    func encode(_ message: StunMessage, paddingByte: UInt8 = 0) -> [UInt8] {
        let type = attribute.type
        return message.encoded(
            messageIntegrity: type == .messageIntegrity ? AttributeTable.key : nil,
            messageIntegritySHA256: type == .messageIntegritySHA256 ? AttributeTable.key : nil,
            fingerprint: type == .fingerprint, paddingByte: paddingByte)
    }

    /// The address inside an address attribute, nil for the others.
    var address: TransportAddress? {
        switch attribute {
        case .mappedAddress(let a), .xorMappedAddress(let a), .alternateServer(let a), .xorPeerAddress(let a),
            .xorRelayedAddress(let a), .responseOrigin(let a), .otherAddress(let a):
            a
        default:
            nil
        }
    }
}

enum AttributeTable {
    static let key = StunKey.shortTerm(password: "round trip")
    static let emptyRequest = StunMessage(method: .binding, messageClass: .request, transactionID: .fixture)

    /// What the encoder computes for an otherwise empty Binding request with the fixture id.
    static let emptyRequestFingerprint: UInt32 = emptyRequest.encoded(fingerprint: true).suffix(4).reduce(0) { ($0 << 8) | UInt32($1) }
    static let emptyRequestMAC = Array(emptyRequest.encoded(messageIntegrity: key).suffix(20))
    static let emptyRequestMACSHA256 = Array(emptyRequest.encoded(messageIntegritySHA256: key).suffix(32))

    static let v4 = TransportAddress.v4Sample
    static let v6 = TransportAddress.v6Sample
    static let v6Edge = TransportAddress(ip: .v6(.max, .max), port: .max)
    static let v4Edge = TransportAddress(ip: .v4(0), port: 0)

    static let cases: [AttributeCase] = [
        // RFC 8489 §14
        .init("MAPPED-ADDRESS IPv4", .mappedAddress(v4)),
        .init("MAPPED-ADDRESS IPv6", .mappedAddress(v6)),
        .init("XOR-MAPPED-ADDRESS IPv4", .xorMappedAddress(v4)),
        .init("XOR-MAPPED-ADDRESS IPv6", .xorMappedAddress(v6)),
        .init("XOR-MAPPED-ADDRESS IPv4 all zeros", .xorMappedAddress(v4Edge)),
        .init("XOR-MAPPED-ADDRESS IPv6 all ones", .xorMappedAddress(v6Edge)),
        .init("USERNAME ASCII", .username("evtj:h6vY")),
        .init("USERNAME non-ASCII", .username("\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}")),
        .init("USERNAME at its 512-byte limit", .username(String(repeating: "u", count: 512))),
        .init("USERNAME empty", .username("")),
        .init("USERHASH", .userhash((0..<32).map { UInt8($0) })),
        .init("MESSAGE-INTEGRITY", .messageIntegrity(emptyRequestMAC)),
        .init("MESSAGE-INTEGRITY-SHA256", .messageIntegritySHA256(emptyRequestMACSHA256)),
        .init("FINGERPRINT", .fingerprint(emptyRequestFingerprint)),
        .init("ERROR-CODE 420", .errorCode(.unknownAttribute)),
        .init("ERROR-CODE 300 without reason", .errorCode(StunErrorCode(code: 300, reason: ""))),
        .init("ERROR-CODE 699 with odd-length reason", .errorCode(StunErrorCode(code: 699, reason: "odd"))),
        .init("REALM", .realm("example.org")),
        .init("REALM at its 763-byte limit", .realm(String(repeating: "r", count: 763))),
        .init("NONCE", .nonce("obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA")),
        .init("PASSWORD-ALGORITHMS", .passwordAlgorithms([.md5, .sha256])),
        .init("PASSWORD-ALGORITHMS with parameters", .passwordAlgorithms([PasswordAlgorithm(number: 9, parameters: [1, 2, 3]), .sha256])),
        .init("PASSWORD-ALGORITHMS empty", .passwordAlgorithms([])),
        .init("PASSWORD-ALGORITHM SHA-256", .passwordAlgorithm(.sha256)),
        .init("PASSWORD-ALGORITHM with parameters", .passwordAlgorithm(PasswordAlgorithm(number: 0x7777, parameters: [9, 8, 7, 6, 5]))),
        .init("UNKNOWN-ATTRIBUTES odd count", .unknownAttributes([StunAttributeType(0x7F01), .changeRequest, StunAttributeType(0xC001)])),
        .init("UNKNOWN-ATTRIBUTES empty", .unknownAttributes([])),
        .init("SOFTWARE", .software("pod-arcade 1.0")),
        .init("ALTERNATE-SERVER IPv4", .alternateServer(v4)),
        .init("ALTERNATE-SERVER IPv6", .alternateServer(v6)),
        .init("ALTERNATE-DOMAIN", .alternateDomain("stun.example.org")),
        // RFC 8445 §7.1
        .init("PRIORITY", .priority(0x6E00_01FF)),
        .init("USE-CANDIDATE", .useCandidate),
        .init("ICE-CONTROLLED", .iceControlled(tieBreaker: 0x932F_F9B1_5126_3B36)),
        .init("ICE-CONTROLLING", .iceControlling(tieBreaker: .max)),
        // RFC 8656 §18
        .init("CHANNEL-NUMBER", .channelNumber(0x4000)),
        .init("LIFETIME", .lifetime(seconds: 600)),
        .init("XOR-PEER-ADDRESS IPv4", .xorPeerAddress(v4)),
        .init("XOR-PEER-ADDRESS IPv6", .xorPeerAddress(v6)),
        .init("DATA", .data([1, 2, 3, 4, 5])),
        .init("DATA empty", .data([])),
        .init("XOR-RELAYED-ADDRESS IPv4", .xorRelayedAddress(v4)),
        .init("XOR-RELAYED-ADDRESS IPv6", .xorRelayedAddress(v6)),
        .init("REQUESTED-ADDRESS-FAMILY IPv4", .requestedAddressFamily(.ipv4)),
        .init("REQUESTED-ADDRESS-FAMILY IPv6", .requestedAddressFamily(.ipv6)),
        .init("EVEN-PORT reserving", .evenPort(reserveNextPort: true)),
        .init("EVEN-PORT not reserving", .evenPort(reserveNextPort: false)),
        .init("REQUESTED-TRANSPORT UDP", .requestedTransport(protocolNumber: 17)),
        .init("DONT-FRAGMENT", .dontFragment),
        .init("RESERVATION-TOKEN", .reservationToken([1, 2, 3, 4, 5, 6, 7, 8])),
        .init("ADDITIONAL-ADDRESS-FAMILY", .additionalAddressFamily(.ipv6)),
        .init("ADDRESS-ERROR-CODE", .addressErrorCode(family: .ipv6, error: .addressFamilyNotSupported)),
        .init("ICMP", .icmp(type: 3, code: 13, errorData: 0xDEAD_BEEF)),
        .init("ICMP largest type and code", .icmp(type: 0x1FF, code: 0x7F, errorData: 0)),
        // RFC 5780 §7
        .init("CHANGE-REQUEST none", .changeRequest(changeIP: false, changePort: false)),
        .init("CHANGE-REQUEST IP", .changeRequest(changeIP: true, changePort: false)),
        .init("CHANGE-REQUEST port", .changeRequest(changeIP: false, changePort: true)),
        .init("CHANGE-REQUEST both", .changeRequest(changeIP: true, changePort: true)),
        .init("RESPONSE-ORIGIN IPv4", .responseOrigin(v4)),
        .init("RESPONSE-ORIGIN IPv6", .responseOrigin(v6)),
        .init("OTHER-ADDRESS IPv4", .otherAddress(v4)),
        .init("OTHER-ADDRESS IPv6", .otherAddress(v6)),
        .init("RESPONSE-PORT", .responsePort(3478)),
        .init("PADDING empty", .padding(length: 0)),
        .init("PADDING unaligned", .padding(length: 5)),
        .init("PADDING aligned", .padding(length: 8)),
        // Anything else
        .init("unknown comprehension-required", .unknown(type: StunAttributeType(0x7F01), value: [1, 2, 3])),
        .init("unknown comprehension-optional", .unknown(type: StunAttributeType(0xC001), value: [])),
    ]

    /// Every type code the library models (the public `isKnown` over the whole 16-bit space).
    static let knownTypes: Set<StunAttributeType> = Set((0...UInt16.max).map(StunAttributeType.init(rawValue:)).filter(\.isKnown))

    static let addressTypes: Set<StunAttributeType> = [
        .mappedAddress, .xorMappedAddress, .alternateServer, .xorPeerAddress, .xorRelayedAddress, .responseOrigin, .otherAddress,
    ]
}

@Suite("Attribute round trips")
struct AttributeRoundTripTests {
    @Test("every attribute decodes back to the value it was encoded from", arguments: AttributeTable.cases)
    func encodeThenDecodeIsIdentity(entry: AttributeCase) throws {
        let message = StunMessage(
            method: .binding, messageClass: .request, transactionID: .fixture, attributes: [entry.attribute])
        let bytes = entry.encode(message)
        #expect(bytes.count % 4 == 0)
        #expect(Int(bytes[2]) << 8 | Int(bytes[3]) == bytes.count - 20)
        #expect(Array(bytes[20..<22]) == [UInt8(entry.attribute.type.rawValue >> 8), UInt8(entry.attribute.type.rawValue & 0xFF)])

        let decoded = try StunMessage(decoding: bytes)
        #expect(decoded == message)
        #expect(decoded.attributes == [entry.attribute])
        #expect(decoded.first(entry.attribute.type) == entry.attribute)
        #expect(entry.encode(decoded) == bytes)
    }

    /// FINGERPRINT, MESSAGE-INTEGRITY and MESSAGE-INTEGRITY-SHA256 end the attribute list; their
    /// placement has its own tests.
    static let placeableAnywhere = AttributeTable.cases.filter {
        ![.fingerprint, .messageIntegrity, .messageIntegritySHA256].contains($0.attribute.type)
    }

    @Test("every attribute survives a round trip between others, in an RFC 3489 message too", arguments: placeableAnywhere)
    func roundTripsAmongOtherAttributes(entry: AttributeCase) throws {
        for prefix in [nil, UInt32(0x0102_0304)] as [UInt32?] {
            let message = StunMessage(
                method: .allocate, messageClass: .successResponse, transactionID: .fixture,
                attributes: [.software("x"), entry.attribute, .lifetime(seconds: 1)], rfc3489TransactionPrefix: prefix)
            let decoded = try StunMessage(decoding: message.encoded(paddingByte: 0xEE), requireMagicCookie: false)
            #expect(decoded == message)
        }
    }

    @Test func staleIntegrityAndFingerprintValuesAreRecomputedNotCopied() throws {
        let stale = StunMessage(
            method: .binding, messageClass: .request, transactionID: .fixture,
            attributes: [
                .username("u"), .messageIntegrity([UInt8](repeating: 1, count: 20)),
                .messageIntegritySHA256([UInt8](repeating: 2, count: 32)), .fingerprint(3),
            ])
        var clean = stale
        clean.attributes = [.username("u")]
        let key = AttributeTable.key
        #expect(stale.encoded() == clean.encoded())
        let bytes = stale.encoded(messageIntegrity: key, messageIntegritySHA256: key, fingerprint: true)
        #expect(bytes == clean.encoded(messageIntegrity: key, messageIntegritySHA256: key, fingerprint: true))
        #expect(try StunMessage(decoding: bytes).isAuthentic(key: key))
    }

    @Test func aTruncatedIntegritySHA256DecodesToItsBytes() throws {
        let value = (0..<16).map { UInt8($0) }
        let decoded = try StunMessage(decoding: stunMessage(attributes: tlv(0x001C, value)))
        #expect(decoded.attributes == [.messageIntegritySHA256(value)])
    }

    @Test func theTableCoversEveryModelledAttributeType() {
        let covered = Set(AttributeTable.cases.map(\.attribute.type)).filter(\.isKnown)
        #expect(covered == AttributeTable.knownTypes)
        #expect(AttributeTable.knownTypes.count == 38)
        #expect(AttributeTable.cases.contains { if case .unknown = $0.attribute { true } else { false } })
    }

    @Test func theTableHasIPv4AndIPv6ForEveryAddressAttribute() {
        for type in AttributeTable.addressTypes {
            let families = Set(AttributeTable.cases.filter { $0.attribute.type == type }.compactMap { $0.address?.ip.family })
            #expect(families == [.ipv4, .ipv6], "\(type)")
        }
    }

    @Test func encodingIntoAByteBufferWritesTheSameBytes() {
        let message = StunMessage(
            method: .binding, messageClass: .request, transactionID: .fixture, attributes: [.username("a"), .priority(1)])
        let key = StunKey.shortTerm(password: "pw")
        var buffer = ByteBuffer()
        message.encode(into: &buffer, messageIntegrity: key, fingerprint: true)
        #expect(buffer.readableBytesView.elementsEqual(message.encoded(messageIntegrity: key, fingerprint: true)))
    }
}

/// Values laid out as the RFCs draw them, so a symmetric encode/decode mistake cannot hide.
@Suite("Attribute wire layout")
struct AttributeWireLayoutTests {
    struct Layout: Sendable, CustomTestStringConvertible {
        var attribute: StunAttribute
        var value: [UInt8]
        var testDescription: String { "\(attribute.type)" }
    }

    static let layouts: [Layout] = [
        Layout(attribute: .mappedAddress(.v4Sample), value: hex("0001 8055 c0000201")),
        // XOR with the cookie (RFC 8489 §14.2): 0x8055 ^ 0x2112, 192.0.2.1 ^ 0x2112a442.
        Layout(attribute: .xorMappedAddress(.v4Sample), value: hex("0001 a147 e112a643")),
        Layout(attribute: .errorCode(StunErrorCode(code: 420, reason: "")), value: hex("0000 0414")),
        Layout(attribute: .errorCode(StunErrorCode(code: 699, reason: "a")), value: hex("0000 0663 61")),
        Layout(attribute: .addressErrorCode(family: .ipv6, error: StunErrorCode(code: 440, reason: "")), value: hex("0200 0428")),
        Layout(attribute: .passwordAlgorithms([PasswordAlgorithm(number: 9, parameters: [1]), .md5]), value: hex("0009 0001 01000000 0001 0000")),
        Layout(attribute: .unknownAttributes([StunAttributeType(0x7F01), .changeRequest]), value: hex("7f01 0003")),
        Layout(attribute: .iceControlling(tieBreaker: 0x0102_0304_0506_0708), value: hex("01020304 05060708")),
        Layout(attribute: .channelNumber(0x4001), value: hex("4001 0000")),
        Layout(attribute: .requestedAddressFamily(.ipv6), value: hex("02000000")),
        Layout(attribute: .evenPort(reserveNextPort: true), value: [0x80]),
        Layout(attribute: .requestedTransport(protocolNumber: 17), value: hex("11000000")),
        // Reserved (16) | type (9) | code (7) | error data (RFC 8656 §18.13).
        Layout(attribute: .icmp(type: 0x101, code: 0x05, errorData: 0x0A0B_0C0D), value: hex("0000 8085 0a0b0c0d")),
        Layout(attribute: .changeRequest(changeIP: true, changePort: false), value: hex("00000004")),
        Layout(attribute: .changeRequest(changeIP: false, changePort: true), value: hex("00000002")),
        Layout(attribute: .responsePort(0x1234), value: hex("1234 0000")),
        Layout(attribute: .padding(length: 3), value: [0, 0, 0]),
    ]

    @Test("known values encode to the bytes the RFC figure shows", arguments: layouts)
    func encodesAsTheRFCLaysItOut(layout: Layout) {
        let bytes = StunMessage(
            method: .binding, messageClass: .request, transactionID: .fixture, attributes: [layout.attribute]
        ).encoded()
        #expect(bytes.count == 20 + 4 + (layout.value.count + 3) / 4 * 4)
        #expect(Int(bytes[22]) << 8 | Int(bytes[23]) == layout.value.count)
        #expect(Array(bytes[24..<(24 + layout.value.count)]) == layout.value)
        #expect(bytes[(24 + layout.value.count)...].allSatisfy { $0 == 0 })
    }

    @Test func aTwoByteResponsePortIsAcceptedToo() throws {
        let decoded = try StunMessage(decoding: stunMessage(attributes: tlv(0x0027, [0x0D, 0x96])))
        #expect(decoded.attributes == [.responsePort(3478)])
    }

    @Test func reservedBitsAreIgnoredOnDecode() throws {
        let decoded = try StunMessage(decoding: stunMessage(attributes:
            tlv(0x0018, [0xFF]) + tlv(0x0003, hex("fffffffb")) + tlv(0x0009, hex("fffffc14"))))
        #expect(decoded.attributes == [
            .evenPort(reserveNextPort: true), .changeRequest(changeIP: false, changePort: true),
            .errorCode(StunErrorCode(code: 420, reason: "")),
        ])
    }

    @Test func anOverlongReasonIsCutAtACharacterBoundarySoItStillDecodes() throws {
        let reason = String(repeating: "\u{E9}", count: 500)  // 1,000 bytes of two-byte characters
        let bytes = StunMessage(
            method: .binding, messageClass: .errorResponse, transactionID: .fixture,
            attributes: [.errorCode(StunErrorCode(code: 400, reason: reason))]
        ).encoded()
        let decoded = try StunMessage(decoding: bytes)
        let decodedReason = try #require(decoded.errorCode?.reason)
        #expect(decodedReason.utf8.count <= 763)
        #expect(decodedReason.utf8.count >= 760)
        #expect(reason.hasPrefix(decodedReason))
    }
}
