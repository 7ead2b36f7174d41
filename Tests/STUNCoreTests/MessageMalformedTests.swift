import STUNCore
import Testing

/// Decodes and returns the error, recording an issue when decoding succeeds.
func decodingError(_ bytes: [UInt8], requireMagicCookie: Bool = true) -> StunDecodingError? {
    #expect(throws: StunDecodingError.self) { try StunMessage(decoding: bytes, requireMagicCookie: requireMagicCookie) }
}

/// Sets the header length field.
func withLength(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
    var out = bytes
    out[2] = UInt8(length >> 8)
    out[3] = UInt8(length & 0xFF)
    return out
}

@Suite("Malformed messages")
struct MessageMalformedTests {
    static let valid = Vectors.request.bytes

    @Test("a header cut short at every length is a truncated header", arguments: 0..<20)
    func truncatedHeader(length: Int) {
        let error = decodingError(Array(Self.valid.prefix(length)))
        #expect(error?.code == .truncatedHeader)
        #expect(error?.field == "header")
        #expect(error?.offset == length)
        #expect(error?.header == nil)
    }

    @Test("a type with either of the top two bits set is not STUN", arguments: [0x40, 0x80, 0xC0] as [UInt8])
    func topBitsSet(bits: UInt8) {
        var bytes = Self.valid
        bytes[0] |= bits
        let error = decodingError(bytes)
        #expect(error?.code == .notStun)
        #expect(error?.field == "header.type")
        #expect(error?.offset == 0)
        #expect(error?.header == nil)
    }

    @Test("a length that is not a multiple of 4 is rejected", arguments: [1, 2, 3, 0x59, 0xFFFF])
    func lengthNotMultipleOfFour(length: Int) {
        let bytes = stunHeader(type: 0x0001, length: length) + [UInt8](repeating: 0, count: length)
        let error = decodingError(bytes)
        #expect(error?.code == .badLength)
        #expect(error?.field == "header.length")
        #expect(error?.offset == 2)
        #expect(error?.header == nil)
    }

    @Test("a length field that disagrees with the datagram is rejected", arguments: [-8, -4, 4, 8, 0x7FF0])
    func lengthMismatch(delta: Int) {
        let bytes = withLength(Self.valid, Self.valid.count - 20 + delta)
        let error = decodingError(bytes)
        #expect(error?.code == .lengthMismatch)
        #expect(error?.offset == 2)
        #expect(error?.header == nil)
    }

    @Test func trailingBytesAfterTheMessageAreALengthMismatch() {
        #expect(decodingError(Self.valid + [0, 0, 0, 0])?.code == .lengthMismatch)
    }

    @Test func aMissingMagicCookieIsRejectedUnlessRFC3489IsAllowed() throws {
        var bytes = stunMessage(attributes: tlv(0x0006, Array("user".utf8)))
        bytes[4...7] = [0xDE, 0xAD, 0xBE, 0xEF]
        let error = decodingError(bytes)
        #expect(error?.code == .badMagicCookie)
        #expect(error?.offset == 4)
        let message = try StunMessage(decoding: bytes, requireMagicCookie: false)
        #expect(!message.hasMagicCookie)
        #expect(message.rfc3489TransactionPrefix == 0xDEAD_BEEF)
        #expect(message.username == "user")
        #expect(message.encoded() == bytes)
    }

    /// With the length a multiple of 4 and every attribute padded to 4, an attribute header can
    /// never start within 3 bytes of the end: the length checks catch such a datagram first.
    @Test func anAttributeHeaderCutShortIsCaughtByTheLengthChecks() {
        let stub = stunHeader(type: 0x0001, length: 0) + [0x80, 0x22]
        #expect(decodingError(stub)?.code == .lengthMismatch)
        #expect(decodingError(withLength(stub, 2))?.code == .badLength)
    }

    @Test func anAttributeValuePastTheEndIsATruncatedAttribute() {
        // USERNAME claims 8 bytes; the message holds 4.
        let bytes = stunMessage(attributes: tlv(0x8022, [1, 2, 3, 4]) + [0x00, 0x06, 0x00, 0x08, 0x61, 0x62, 0x63, 0x64])
        let error = decodingError(bytes)
        #expect(error?.code == .truncatedAttribute)
        #expect(error?.field == "USERNAME.length")
        #expect(error?.offset == 30)
        #expect(error?.header?.transactionID == .fixture)
    }

    @Test func aValueLengthOfTheWholeRangeIsATruncatedAttribute() {
        let bytes = stunMessage(attributes: [0x80, 0x22, 0xFF, 0xFF])
        let error = decodingError(bytes)
        #expect(error?.code == .truncatedAttribute)
        #expect(error?.offset == 22)
    }

    /// Padding (RFC 8489 §14) cannot be missing on its own at the end: the length field counts
    /// whole words, so a length that covers a last value but not its padding is a bad length,
    /// and a datagram cut after the value is a length mismatch.
    @Test func aLastValueWithoutItsPaddingIsRejected() {
        let unpadded = stunHeader(type: 0x0001, length: 9) + tlv(0x8022, Array("abcde".utf8), padding: 0)
        #expect(decodingError(unpadded)?.code == .badLength)
        let cut = withLength(unpadded, 12)
        #expect(decodingError(cut)?.code == .lengthMismatch)
    }

    @Test func unpaddedAttributesAreMisreadAndRejected() {
        // RFC 3489-era senders sometimes left out padding; the next header is then read from
        // inside the previous value, which here claims 0x4243 bytes.
        let bytes = stunMessage(attributes: tlv(0x0006, Array("abcde".utf8), padding: 0) + tlv(0x8022, Array("ABC".utf8), padding: 0))
        #expect(bytes.count == 36)
        let error = decodingError(bytes)
        #expect(error?.code == .truncatedAttribute)
        #expect(error?.offset == 34)
    }

    @Test("flipping a byte of FINGERPRINT or of what it covers is a fingerprint mismatch", arguments: [
        Vectors.request.bytes.count - 1, Vectors.request.bytes.count - 4, 24, 8, 19,
    ])
    func wrongFingerprint(index: Int) {
        var bytes = Vectors.request.bytes
        bytes[index] ^= 0x01
        let error = decodingError(bytes)
        #expect(error?.code == .fingerprintMismatch)
        #expect(error?.field == "FINGERPRINT.value")
        #expect(error?.offset == bytes.count - 4)
        #expect(error?.header != nil)
    }

    @Test func duplicateAttributesKeepTheFirstAndAreListed() throws {
        let bytes = stunMessage(attributes:
            tlv(0x8022, Array("first".utf8)) + tlv(0x0024, [0, 0, 0, 1]) + tlv(0x8022, Array("second".utf8))
            + tlv(0x0024, [0, 0, 0, 2]) + tlv(0x8022, Array("third".utf8)))
        let message = try StunMessage(decoding: bytes)
        #expect(message.software == "first")
        #expect(message.first(.priority) == .priority(1))
        #expect(message.duplicateAttributeTypes == [.software, .priority])
        #expect(message.attributes.count == 5)
    }

    @Test func attributesAfterMessageIntegrityAreIgnoredAndIntegrityStillVerifies() throws {
        let vector = Vectors.longTermRequest
        let extra = tlv(0x8022, Array("appended".utf8)) + tlv(0x0024, [0, 0, 0, 9])
        let bytes = withLength(vector.bytes + extra, vector.bytes.count - 20 + extra.count)
        let message = try StunMessage(decoding: bytes)
        #expect(message.ignoredAttributeCount == 2)
        #expect(message.attributes == vector.decoded.attributes)
        #expect(message.isAuthentic(key: vector.key))
        #expect(!message.isAuthentic(key: vector.wrongKey))
    }

    @Test func attributesAfterMessageIntegritySHA256AreIgnoredAndIntegrityStillVerifies() throws {
        let vector = Vectors.sha256Request
        let extra = tlv(0x0008, [UInt8](repeating: 0, count: 20)) + tlv(0x0006, Array("late".utf8))
        let bytes = withLength(vector.bytes + extra, vector.bytes.count - 20 + extra.count)
        let message = try StunMessage(decoding: bytes)
        #expect(message.ignoredAttributeCount == 2)
        #expect(message.attributes == vector.decoded.attributes)
        #expect(message.isAuthentic(key: vector.key))
    }

    @Test func attributesAfterFingerprintAreIgnoredAndBothChecksStillPass() throws {
        let vector = Vectors.request
        let extra = tlv(0x8022, Array("after fingerprint".utf8)) + tlv(0x8028, [0, 0, 0, 0])
        let bytes = withLength(vector.bytes + extra, vector.bytes.count - 20 + extra.count)
        let message = try StunMessage(decoding: bytes)
        #expect(message.ignoredAttributeCount == 2)
        #expect(message.attributes == vector.decoded.attributes)
        #expect(message.hasFingerprint)
        #expect(message.isAuthentic(key: vector.key))
    }

    @Test func fingerprintAndIntegritySHA256AfterMessageIntegrityAreKept() throws {
        let key = StunKey.shortTerm(password: "secret")
        let message = StunMessage(method: .binding, messageClass: .request, transactionID: .fixture, attributes: [.username("u")])
        let decoded = try StunMessage(decoding: message.encoded(messageIntegrity: key, messageIntegritySHA256: key, fingerprint: true))
        #expect(decoded.attributes.map(\.type) == [.username, .messageIntegrity, .messageIntegritySHA256, .fingerprint])
        #expect(decoded.ignoredAttributeCount == 0)
    }

    @Test func a64KiBDatagramOfRandomBytesIsRejectedWithoutCrashing() {
        var generator = SeededGenerator(seed: 0x64_4B)
        for _ in 0..<32 {
            let bytes = generator.bytes(65_536)
            #expect(throws: StunDecodingError.self) { try StunMessage(decoding: bytes) }
        }
    }

    @Test func a64KiBDatagramWithAValidLookingHeaderAndRandomBodyNeverCrashes() {
        var generator = SeededGenerator(seed: 0xB0D1)
        for _ in 0..<32 {
            let bytes = stunHeader(type: 0x0001, length: 65_516) + generator.bytes(65_516)
            do throws(StunDecodingError) {
                _ = try StunMessage(decoding: bytes)
            } catch {
                #expect(error.header != nil)
                #expect((20..<bytes.count).contains(error.offset))
            }
        }
    }

    @Test func theLargestMessageTheLengthFieldAllowsDecodes() throws {
        let bytes = stunHeader(type: 0x0001, length: 0xFFFC) + [UInt8](repeating: 0, count: 0xFFFC)
        let message = try StunMessage(decoding: bytes)
        #expect(message.attributes.count == 0xFFFC / 4)
        #expect(message.unknownComprehensionRequired == [StunAttributeType(0)])
        #expect(message.duplicateAttributeTypes == [StunAttributeType(0)])
        #expect(message.encoded() == bytes)
    }

    @Test func oneMoreByteThanTheLargestMessageIsRejected() {
        let bytes = stunHeader(type: 0x0001, length: 0xFFFC) + [UInt8](repeating: 0, count: 0xFFFC + 4)
        #expect(decodingError(bytes)?.code == .lengthMismatch)
    }
}

@Suite("Cheap STUN check")
struct LooksLikeStunTests {
    @Test("only a full header with top bits 00, an aligned fitting length and the cookie passes", arguments: [
        (hex("0001 0000 2112a442") + [UInt8](repeating: 0, count: 12), true),
        (hex("3fff 0000 2112a442") + [UInt8](repeating: 0, count: 12), true),
        (hex("4001 0000 2112a442") + [UInt8](repeating: 0, count: 12), false),
        (hex("0001 0002 2112a442") + [UInt8](repeating: 0, count: 12), false),
        (hex("0001 0004 2112a442") + [UInt8](repeating: 0, count: 12), false),
        (hex("0001 0000 2112a443") + [UInt8](repeating: 0, count: 12), false),
        (hex("0001 0000 2112a442") + [UInt8](repeating: 0, count: 11), false),
    ])
    func looksLikeStun(bytes: [UInt8], expected: Bool) {
        #expect(StunMessage.looksLikeStun(bytes) == expected)
    }
}
