import Testing

@testable import STUNCore  // StunIntegrity.hmacSHA256, to build a truncated MESSAGE-INTEGRITY-SHA256

@Suite("MESSAGE-INTEGRITY and keys")
struct MessageIntegrityTests {
    static let key = StunKey.shortTerm(password: "VOkJxbRl1RmTxUk/WvJxBt")
    static let request = StunMessage(
        method: .binding, messageClass: .request, transactionID: .fixture,
        attributes: [.username("evtj:h6vY"), .priority(1), .software("abc")])

    @Test("tampering with any byte the MAC covers fails integrity", arguments: [Vectors.longTermRequest, Vectors.sha256Request])
    func tamperingAnyByteFailsIntegrity(vector: StunVector) throws {
        let macStart = vector.bytes.count - (vector.sha256 ? 32 : 20)
        var checked = 0
        for index in 0..<vector.bytes.count where !(2..<4).contains(index) {
            var bytes = vector.bytes
            bytes[index] ^= 0x01
            // A flip may also break the framing or a text value; whatever still decodes must not verify.
            guard let message = try? StunMessage(decoding: bytes) else { continue }
            #expect(!message.isAuthentic(key: vector.key), "byte \(index) (MAC starts at \(macStart))")
            checked += 1
        }
        #expect(checked > vector.bytes.count / 2)
    }

    @Test func aMessageWithoutIntegrityOrNotDecodedIsNotAuthentic() throws {
        #expect(!Self.request.isAuthentic(key: Self.key))
        #expect(!(try StunMessage(decoding: Self.request.encoded(fingerprint: true))).isAuthentic(key: Self.key))
        let signed = try StunMessage(decoding: Self.request.encoded(messageIntegrity: Self.key))
        #expect(signed.isAuthentic(key: Self.key))
        #expect(!StunMessage(
            method: signed.method, messageClass: signed.messageClass, transactionID: signed.transactionID,
            attributes: signed.attributes
        ).isAuthentic(key: Self.key))
    }

    @Test("a MESSAGE-INTEGRITY-SHA256 truncated to 16 to 28 bytes verifies over its length", arguments: [16, 20, 24, 28])
    func truncatedIntegritySHA256Verifies(length: Int) throws {
        // The encoder always writes 32 bytes, so build the shorter attribute by hand: the HMAC
        // input is the message up to the attribute, its header length counting the attribute
        // (RFC 8489 §14.6).
        let unsigned = Self.request.encoded()
        var bytes = withLength(unsigned, unsigned.count - 20 + 4 + length)
        let mac = StunIntegrity.hmacSHA256(key: Self.key, header: bytes[0..<20], body: bytes[20...])
        bytes += tlv(0x001C, Array(mac.prefix(length)))

        let decoded = try StunMessage(decoding: bytes)
        #expect(decoded.first(.messageIntegritySHA256) == .messageIntegritySHA256(Array(mac.prefix(length))))
        #expect(decoded.isAuthentic(key: Self.key))
        #expect(!decoded.isAuthentic(key: StunKey.shortTerm(password: "wrong")))
        bytes[bytes.count - 1] ^= 0x80
        #expect(!(try StunMessage(decoding: bytes)).isAuthentic(key: Self.key))
    }

    @Test func withBothIntegrityAttributesTheSHA256OneIsChecked() throws {
        let sha1Key = StunKey.shortTerm(password: "sha1 key")
        let sha256Key = StunKey.shortTerm(password: "sha256 key")
        let bytes = Self.request.encoded(messageIntegrity: sha1Key, messageIntegritySHA256: sha256Key, fingerprint: true)
        let decoded = try StunMessage(decoding: bytes)
        #expect(decoded.attributes.map(\.type).suffix(3) == [.messageIntegrity, .messageIntegritySHA256, .fingerprint])
        #expect(decoded.isAuthentic(key: sha256Key))
        #expect(!decoded.isAuthentic(key: sha1Key))
    }

    @Test func theSHA256IntegrityCoversTheSHA1One() throws {
        var bytes = Self.request.encoded(messageIntegrity: Self.key, messageIntegritySHA256: Self.key)
        #expect(try StunMessage(decoding: bytes).isAuthentic(key: Self.key))
        bytes[bytes.count - 36 - 1] ^= 0x01  // last byte of the MESSAGE-INTEGRITY value
        #expect(!(try StunMessage(decoding: bytes)).isAuthentic(key: Self.key))
    }

    @Test("integrity added by the encoder verifies, with or without FINGERPRINT", arguments: [false, true])
    func encoderIntegrityVerifies(fingerprint: Bool) throws {
        for sha256 in [false, true] {
            let bytes = Self.request.encoded(
                messageIntegrity: sha256 ? nil : Self.key, messageIntegritySHA256: sha256 ? Self.key : nil,
                fingerprint: fingerprint)
            let decoded = try StunMessage(decoding: bytes)
            #expect(decoded.isAuthentic(key: Self.key))
            #expect(decoded.hasIntegrity)
            #expect(decoded.hasFingerprint == fingerprint)
        }
    }

    @Test func theShortTermKeyIsTheOpaqueStringOfThePassword() {
        #expect(StunKey.shortTerm(password: "VOkJxbRl1RmTxUk/WvJxBt").bytes == Array("VOkJxbRl1RmTxUk/WvJxBt".utf8))
        #expect(StunKey.shortTerm(password: "pass\u{A0}word").bytes == Array("pass word".utf8))
        #expect(StunKey.shortTerm(password: "e\u{301}").bytes == [0xC3, 0xA9])
    }

    @Test("OpaqueString maps non-ASCII spaces to U+0020 and normalises to NFC", arguments: [
        ("a\u{A0}b", "a b"),
        ("a\u{3000}b", "a b"),
        ("\u{2003}em\u{2009}thin", " em thin"),
        ("e\u{301}", "\u{E9}"),
        ("\u{212B}", "\u{C5}"),  // ANGSTROM SIGN is canonically A WITH RING ABOVE
        ("TheMatrIX", "TheMatrIX"),
        ("", ""),
    ])
    func opaqueString(input: String, expected: String) {
        // Compare scalars: Swift's == on String already treats canonical equivalents as equal.
        #expect(Array(StunKey.opaqueString(input).unicodeScalars) == Array(expected.unicodeScalars))
    }

    @Test func opaqueStringDoesNotApplyCompatibilityMappings() {
        // Unlike SASLprep (RFC 5769 §2.4), OpaqueString keeps U+00AA and U+2168 as they are.
        let raw = "The\u{AD}M\u{AA}tr\u{2168}"
        #expect(Array(StunKey.opaqueString(raw).unicodeScalars) == Array(raw.unicodeScalars))
    }

    @Test func theLongTermKeyAppliesOpaqueStringToRealmAndPassword() {
        #expect(
            StunKey.longTerm(username: "u", realm: "re\u{301}alm", password: "p\u{3000}w")
                == StunKey.longTerm(username: "u", realm: "r\u{E9}alm", password: "p w"))
        #expect(
            StunKey.longTerm(username: "u", realm: "r", password: "p", algorithm: .sha256)
                != StunKey.longTerm(username: "u", realm: "r", password: "p", algorithm: .md5))
    }

    @Test func theCRC32IsTheZlibOne() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        var crc = CRC32()
        crc.update(Array("1234".utf8))
        crc.update(Array("56789".utf8))
        #expect(crc.value == 0xCBF4_3926)
    }
}
