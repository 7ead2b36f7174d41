import STUNCore
import Testing

/// One malformed attribute value and the error it must produce.
struct MalformedAttribute: Sendable, CustomTestStringConvertible {
    var name: String
    var type: UInt16
    var value: [UInt8]
    var code: StunDecodingError.Code
    /// Where the error points, counted from the start of the value.
    var offsetInValue: Int = 0
    var testDescription: String { name }
}

enum MalformedAttributeTable {
    static let v4Value = hex("0001 8055 c0000201")
    static let v6Value = hex("0002 8055") + [UInt8](repeating: 1, count: 16)
    static let invalidUTF8: [UInt8] = [0x61, 0xC3, 0x28]  // a lone lead byte
    static let surrogate: [UInt8] = [0xED, 0xA0, 0x80]  // UTF-8 for U+D800
    static func ascii(_ count: Int) -> [UInt8] { [UInt8](repeating: 0x61, count: count) }

    static let addressTypes: [(String, UInt16)] = [
        ("MAPPED-ADDRESS", 0x0001), ("XOR-MAPPED-ADDRESS", 0x0020), ("ALTERNATE-SERVER", 0x8023),
        ("XOR-PEER-ADDRESS", 0x0012), ("XOR-RELAYED-ADDRESS", 0x0016), ("RESPONSE-ORIGIN", 0x802B),
        ("OTHER-ADDRESS", 0x802C),
    ]

    static let addressCases: [MalformedAttribute] = addressTypes.flatMap { name, type in
        [
            MalformedAttribute(name: "\(name) IPv4 one byte short", type: type, value: Array(v4Value.dropLast()), code: .invalidValue),
            MalformedAttribute(name: "\(name) IPv4 family with IPv6 length", type: type, value: [0, 1] + v6Value.dropFirst(2), code: .invalidValue),
            MalformedAttribute(name: "\(name) IPv6 family with IPv4 length", type: type, value: [0, 2] + v4Value.dropFirst(2), code: .invalidValue),
            MalformedAttribute(name: "\(name) family 0x03", type: type, value: [0, 3] + v4Value.dropFirst(2), code: .invalidValue),
            MalformedAttribute(name: "\(name) family 0x00", type: type, value: [0, 0] + v4Value.dropFirst(2), code: .invalidValue),
            MalformedAttribute(name: "\(name) empty", type: type, value: [], code: .invalidValue),
        ]
    }

    static let textTypes: [(String, UInt16, Int)] = [
        ("USERNAME", 0x0006, 512), ("REALM", 0x0014, 763), ("NONCE", 0x0015, 763), ("SOFTWARE", 0x8022, 763),
        ("ALTERNATE-DOMAIN", 0x8003, 255),
    ]

    static let textCases: [MalformedAttribute] = textTypes.flatMap { name, type, limit in
        [
            MalformedAttribute(name: "\(name) invalid UTF-8", type: type, value: invalidUTF8, code: .invalidUTF8),
            MalformedAttribute(name: "\(name) encoded surrogate", type: type, value: surrogate, code: .invalidUTF8),
            MalformedAttribute(name: "\(name) one byte over \(limit)", type: type, value: ascii(limit + 1), code: .valueTooLong, offsetInValue: limit),
        ]
    }

    static let fixedSizeCases: [MalformedAttribute] = [
        .init(name: "USERHASH 31 bytes", type: 0x001E, value: ascii(31), code: .invalidValue),
        .init(name: "USERHASH 33 bytes", type: 0x001E, value: ascii(33), code: .invalidValue),
        .init(name: "MESSAGE-INTEGRITY 19 bytes", type: 0x0008, value: ascii(19), code: .invalidValue),
        .init(name: "MESSAGE-INTEGRITY 24 bytes", type: 0x0008, value: ascii(24), code: .invalidValue),
        .init(name: "MESSAGE-INTEGRITY-SHA256 12 bytes", type: 0x001C, value: ascii(12), code: .invalidValue),
        .init(name: "MESSAGE-INTEGRITY-SHA256 18 bytes", type: 0x001C, value: ascii(18), code: .invalidValue),
        .init(name: "MESSAGE-INTEGRITY-SHA256 36 bytes", type: 0x001C, value: ascii(36), code: .invalidValue),
        .init(name: "FINGERPRINT 3 bytes", type: 0x8028, value: ascii(3), code: .invalidValue),
        .init(name: "FINGERPRINT 8 bytes", type: 0x8028, value: ascii(8), code: .invalidValue),
        .init(name: "ERROR-CODE 3 bytes", type: 0x0009, value: [0, 0, 4], code: .invalidValue),
        .init(name: "ERROR-CODE class 2", type: 0x0009, value: hex("0000 0263"), code: .invalidValue, offsetInValue: 2),
        .init(name: "ERROR-CODE class 7", type: 0x0009, value: hex("0000 0700"), code: .invalidValue, offsetInValue: 2),
        .init(name: "ERROR-CODE class 0", type: 0x0009, value: hex("0000 0000"), code: .invalidValue, offsetInValue: 2),
        .init(name: "ERROR-CODE number 100", type: 0x0009, value: hex("0000 0464"), code: .invalidValue, offsetInValue: 2),
        .init(name: "ERROR-CODE reason invalid UTF-8", type: 0x0009, value: hex("0000 0414") + invalidUTF8, code: .invalidUTF8, offsetInValue: 4),
        .init(name: "ERROR-CODE reason over 763 bytes", type: 0x0009, value: hex("0000 0414") + ascii(764), code: .valueTooLong, offsetInValue: 4),
        .init(name: "UNKNOWN-ATTRIBUTES odd length", type: 0x000A, value: [0x7F, 0x01, 0x00], code: .invalidValue),
        .init(name: "PASSWORD-ALGORITHMS 3 bytes", type: 0x8002, value: [0, 1, 0], code: .invalidValue),
        .init(name: "PASSWORD-ALGORITHMS lying parameter length", type: 0x8002, value: hex("0001 0008 00000000"), code: .invalidValue),
        .init(name: "PASSWORD-ALGORITHMS second entry lying", type: 0x8002, value: hex("0001 0000 0002 0010"), code: .invalidValue, offsetInValue: 4),
        .init(name: "PASSWORD-ALGORITHMS trailing stub", type: 0x8002, value: hex("0001 0000 0002"), code: .invalidValue, offsetInValue: 4),
        .init(name: "PASSWORD-ALGORITHM empty", type: 0x001D, value: [], code: .invalidValue),
        .init(name: "PASSWORD-ALGORITHM lying parameter length", type: 0x001D, value: hex("0002 0004"), code: .invalidValue),
        .init(name: "PASSWORD-ALGORITHM two algorithms", type: 0x001D, value: hex("0002 0000 0001 0000"), code: .invalidValue),
        .init(name: "PRIORITY 3 bytes", type: 0x0024, value: ascii(3), code: .invalidValue),
        .init(name: "PRIORITY 8 bytes", type: 0x0024, value: ascii(8), code: .invalidValue),
        .init(name: "USE-CANDIDATE with a value", type: 0x0025, value: ascii(4), code: .invalidValue),
        .init(name: "ICE-CONTROLLED 4 bytes", type: 0x8029, value: ascii(4), code: .invalidValue),
        .init(name: "ICE-CONTROLLING 9 bytes", type: 0x802A, value: ascii(9), code: .invalidValue),
        .init(name: "CHANNEL-NUMBER 2 bytes", type: 0x000C, value: [0x40, 0x00], code: .invalidValue),
        .init(name: "LIFETIME 8 bytes", type: 0x000D, value: ascii(8), code: .invalidValue),
        .init(name: "REQUESTED-ADDRESS-FAMILY family 3", type: 0x0017, value: hex("03000000"), code: .invalidValue),
        .init(name: "REQUESTED-ADDRESS-FAMILY 1 byte", type: 0x0017, value: [1], code: .invalidValue),
        .init(name: "ADDITIONAL-ADDRESS-FAMILY family 0", type: 0x8000, value: hex("00000000"), code: .invalidValue),
        .init(name: "EVEN-PORT 4 bytes", type: 0x0018, value: hex("80000000"), code: .invalidValue),
        .init(name: "EVEN-PORT empty", type: 0x0018, value: [], code: .invalidValue),
        .init(name: "REQUESTED-TRANSPORT 1 byte", type: 0x0019, value: [17], code: .invalidValue),
        .init(name: "DONT-FRAGMENT with a value", type: 0x001A, value: ascii(4), code: .invalidValue),
        .init(name: "RESERVATION-TOKEN 7 bytes", type: 0x0022, value: ascii(7), code: .invalidValue),
        .init(name: "ADDRESS-ERROR-CODE 3 bytes", type: 0x8001, value: [1, 0, 4], code: .invalidValue),
        .init(name: "ADDRESS-ERROR-CODE family 3", type: 0x8001, value: hex("0300 0428"), code: .invalidValue),
        .init(name: "ADDRESS-ERROR-CODE class 7", type: 0x8001, value: hex("0200 0728"), code: .invalidValue, offsetInValue: 2),
        .init(name: "ADDRESS-ERROR-CODE reason invalid UTF-8", type: 0x8001, value: hex("0200 0428") + invalidUTF8, code: .invalidUTF8, offsetInValue: 4),
        .init(name: "ADDRESS-ERROR-CODE reason over 763 bytes", type: 0x8001, value: hex("0200 0428") + ascii(764), code: .valueTooLong, offsetInValue: 4),
        .init(name: "ICMP 4 bytes", type: 0x8004, value: ascii(4), code: .invalidValue),
        .init(name: "CHANGE-REQUEST 2 bytes", type: 0x0003, value: [0, 6], code: .invalidValue),
        .init(name: "RESPONSE-PORT 3 bytes", type: 0x0027, value: [0x0D, 0x96, 0], code: .invalidValue),
        .init(name: "RESPONSE-PORT 8 bytes", type: 0x0027, value: ascii(8), code: .invalidValue),
    ]

    static let all = addressCases + textCases + fixedSizeCases
}

@Suite("Malformed attribute values")
struct AttributeMalformedTests {
    @Test("each malformed value fails with its code, field and offset, keeping the header", arguments: MalformedAttributeTable.all)
    func failsWithCodeFieldAndOffset(entry: MalformedAttribute) {
        // A valid attribute first, so the offset is not simply 24.
        let bytes = stunMessage(type: 0x0001, attributes: tlv(0x8022, Array("ok".utf8)) + tlv(entry.type, entry.value))
        let error = #expect(throws: StunDecodingError.self) { try StunMessage(decoding: bytes) }
        #expect(error?.code == entry.code)
        #expect(error?.field == "\(StunAttributeType(entry.type)).value")
        #expect(error?.offset == 32 + entry.offsetInValue)
        #expect(error?.header?.type == StunMessageType(method: .binding, messageClass: .request))
        #expect(error?.header?.transactionID == .fixture)
        #expect(error?.header?.hasMagicCookie == true)
    }

    @Test("the table covers every attribute with a fixed size or format")
    func tableCoversEveryConstrainedType() {
        // DATA, PADDING and unknown types take any value; everything else has a malformed case.
        let free: Set<UInt16> = [0x0013, 0x0026]
        let covered = Set(MalformedAttributeTable.all.map(\.type))
        let constrained = Set(AttributeTable.knownTypes.map(\.rawValue)).subtracting(free)
        #expect(covered == constrained)
    }

    @Test("text at exactly its limit decodes", arguments: MalformedAttributeTable.textTypes.map { $0.1 })
    func textAtTheLimitDecodes(type: UInt16) throws {
        let limit = MalformedAttributeTable.textTypes.first { $0.1 == type }!.2
        let message = try StunMessage(decoding: stunMessage(attributes: tlv(type, MalformedAttributeTable.ascii(limit))))
        #expect(message.attributes.count == 1)
        #expect(message.attributes[0].type == StunAttributeType(type))
    }

    @Test func aMalformedValueAfterMessageIntegrityIsIgnoredNotRejected() throws {
        let bytes = stunMessage(attributes: tlv(0x0008, MalformedAttributeTable.ascii(20)) + tlv(0x0006, MalformedAttributeTable.invalidUTF8))
        let message = try StunMessage(decoding: bytes)
        #expect(message.ignoredAttributeCount == 1)
        #expect(message.attributes.map(\.type) == [.messageIntegrity])
    }
}
