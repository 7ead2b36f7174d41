import STUNCore
import Testing

@Suite("Message type, method and transaction id")
struct MessageTypeTests {
    struct TypeCase: Sendable, CustomTestStringConvertible {
        var method: UInt16
        var messageClass: StunClass
        var raw: UInt16
        var testDescription: String { "method 0x\(String(method, radix: 16)) \(messageClass) = 0x\(String(raw, radix: 16))" }
    }

    /// RFC 8489 §5 Figure 3 and §6; RFC 8656 §17 for the TURN methods.
    static let table: [TypeCase] = [
        .init(method: 0x001, messageClass: .request, raw: 0x0001),
        .init(method: 0x001, messageClass: .indication, raw: 0x0011),
        .init(method: 0x001, messageClass: .successResponse, raw: 0x0101),
        .init(method: 0x001, messageClass: .errorResponse, raw: 0x0111),
        .init(method: 0x003, messageClass: .request, raw: 0x0003),
        .init(method: 0x003, messageClass: .indication, raw: 0x0013),
        .init(method: 0x003, messageClass: .successResponse, raw: 0x0103),
        .init(method: 0x003, messageClass: .errorResponse, raw: 0x0113),
        .init(method: 0x004, messageClass: .errorResponse, raw: 0x0114),
        .init(method: 0x006, messageClass: .indication, raw: 0x0016),
        .init(method: 0x007, messageClass: .indication, raw: 0x0017),
        .init(method: 0x008, messageClass: .successResponse, raw: 0x0108),
        .init(method: 0x009, messageClass: .request, raw: 0x0009),
        // Single method bits, to pin each group of the interleaving.
        .init(method: 0x010, messageClass: .request, raw: 0x0020),
        .init(method: 0x040, messageClass: .request, raw: 0x0080),
        .init(method: 0x080, messageClass: .request, raw: 0x0200),
        .init(method: 0x800, messageClass: .request, raw: 0x2000),
        .init(method: 0xFFF, messageClass: .request, raw: 0x3EEF),
        .init(method: 0xFFF, messageClass: .indication, raw: 0x3EFF),
        .init(method: 0xFFF, messageClass: .successResponse, raw: 0x3FEF),
        .init(method: 0xFFF, messageClass: .errorResponse, raw: 0x3FFF),
    ]

    @Test("method and class interleave into the type field", arguments: table)
    func interleaving(entry: TypeCase) throws {
        let type = StunMessageType(method: StunMethod(rawValue: entry.method), messageClass: entry.messageClass)
        #expect(type.rawValue == entry.raw)
        let decoded = try #require(StunMessageType(rawValue: entry.raw))
        #expect(decoded == type)

        let bytes = StunMessage(method: type.method, messageClass: type.messageClass, transactionID: .fixture).encoded()
        #expect(Array(bytes[0..<2]) == [UInt8(entry.raw >> 8), UInt8(entry.raw & 0xFF)])
        let message = try StunMessage(decoding: bytes)
        #expect(message.method.rawValue == entry.method)
        #expect(message.messageClass == entry.messageClass)
    }

    @Test("every class of several methods survives the type field", arguments: StunClass.allCases)
    func everyClassOfSeveralMethods(messageClass: StunClass) {
        for method in [0x000, 0x001, 0x003, 0x00A, 0x00C, 0x0FF, 0x555, 0xAAA, 0xFFF] as [UInt16] {
            let type = StunMessageType(method: StunMethod(rawValue: method), messageClass: messageClass)
            #expect(type.rawValue & 0xC000 == 0)
            #expect(StunMessageType(rawValue: type.rawValue) == type)
        }
    }

    @Test func everyFourteenBitValueDecodesAndReencodes() {
        for raw in UInt16(0)..<0x4000 {
            #expect(StunMessageType(rawValue: raw)?.rawValue == raw)
        }
    }

    @Test("a type with a top bit set is rejected", arguments: [0x4000, 0x8000, 0xC000, 0x4001, 0xFFFF] as [UInt16])
    func topBitsAreRejected(raw: UInt16) {
        #expect(StunMessageType(rawValue: raw) == nil)
    }

    @Test func aMethodKeepsOnlyTwelveBits() {
        #expect(StunMethod(rawValue: 0xF001) == .binding)
        #expect(StunMethod(rawValue: 0x1003).rawValue == 0x003)
    }

    @Test func theNamedMethodsHaveTheirRFCNumbers() {
        let numbers: [(StunMethod, UInt16)] = [
            (.binding, 1), (.allocate, 3), (.refresh, 4), (.send, 6), (.data, 7), (.createPermission, 8),
            (.channelBind, 9), (.connect, 0xA), (.connectionBind, 0xB), (.connectionAttempt, 0xC),
        ]
        for (method, number) in numbers { #expect(method.rawValue == number) }
    }

    @Test func onlySuccessAndErrorAreResponses() {
        #expect(StunClass.allCases.filter(\.isResponse) == [.successResponse, .errorResponse])
    }

    @Test func aTransactionIDIsTwelveBytesInOrder() throws {
        let bytes: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        let id = try #require(TransactionID(bytes: bytes))
        #expect(id.high == 0x0102_0304_0506_0708)
        #expect(id.low == 0x090A_0B0C)
        #expect(id.bytes == bytes)
        #expect(id.description == "0102030405060708090a0b0c")
        #expect(TransactionID(bytes: bytes.dropLast()) == nil)
        #expect(TransactionID(bytes: bytes + [13]) == nil)
    }

    @Test func randomTransactionIDsComeFromTheGivenGenerator() {
        var a = SeededGenerator(seed: 7)
        var b = SeededGenerator(seed: 7)
        #expect(TransactionID.random(using: &a) == TransactionID.random(using: &b))
        #expect(TransactionID.random(using: &a) != TransactionID.random(using: &a))
        #expect(TransactionID.random() != TransactionID.random())
    }
}
