import NIOCore
import STUNCore
import Testing

/// One published test vector: its bytes, the typed message they carry, and how to re-encode it.
struct StunVector: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]
    /// The message as decoded, integrity and fingerprint attributes included.
    var decoded: StunMessage
    var key: StunKey
    var wrongKey: StunKey
    var sha256: Bool = false
    var fingerprint: Bool = true
    var paddingByte: UInt8 = 0

    var testDescription: String { name }

    /// The message without the attributes the encoder computes.
    var unsigned: StunMessage {
        var message = decoded
        message.attributes.removeAll {
            [.messageIntegrity, .messageIntegritySHA256, .fingerprint].contains($0.type)
        }
        return message
    }

    /// Encodes `message` with this vector's key, fingerprint and padding options.
    func reencoded(_ message: StunMessage? = nil) -> [UInt8] {
        (message ?? unsigned).encoded(
            messageIntegrity: sha256 ? nil : key, messageIntegritySHA256: sha256 ? key : nil,
            fingerprint: fingerprint, paddingByte: paddingByte)
    }
}

enum Vectors {
    static let shortTermKey = StunKey.shortTerm(password: "VOkJxbRl1RmTxUk/WvJxBt")
    static let wrongShortTermKey = StunKey.shortTerm(password: "VOkJxbRl1RmTxUk/WvJxBT")
    static let matrixUser = "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}"
    static let longTermID = TransactionID(bytes: hex("78 ad 34 33 c6 ad 72 c0 29 da 41 2e"))!

    /// RFC 5769 §2.1: sample request with short-term credentials.
    static let request = StunVector(
        name: "RFC 5769 §2.1 request",
        bytes: hex("""
            00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae 80 22 00 10 53 54 55 4e 20 74 65 73
            74 20 63 6c 69 65 6e 74 00 24 00 04 6e 00 01 ff 80 29 00 08 93 2f f9 b1 51 26 3b 36 00 06 00 09
            65 76 74 6a 3a 68 36 76 59 20 20 20 00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49
            c1 b5 71 a2 80 28 00 04 e5 7a 3b cf
            """),
        decoded: StunMessage(
            method: .binding, messageClass: .request, transactionID: .fixture,
            attributes: [
                .software("STUN test client"), .priority(0x6E00_01FF), .iceControlled(tieBreaker: 0x932F_F9B1_5126_3B36),
                .username("evtj:h6vY"), .messageIntegrity(hex("9a eaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2")),
                .fingerprint(0xE57A_3BCF),
            ]),
        key: shortTermKey, wrongKey: wrongShortTermKey, paddingByte: 0x20)

    /// RFC 5769 §2.2: sample IPv4 response.
    static let ipv4Response = StunVector(
        name: "RFC 5769 §2.2 IPv4 response",
        bytes: hex("""
            01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae 80 22 00 0b 74 65 73 74 20 76 65 63
            74 6f 72 20 00 20 00 08 00 01 a1 47 e1 12 a6 43 00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9
            2a f9 ba 53 f0 6b e7 d7 80 28 00 04 c0 7d 4c 96
            """),
        decoded: StunMessage(
            method: .binding, messageClass: .successResponse, transactionID: .fixture,
            attributes: [
                .software("test vector"), .xorMappedAddress(.v4Sample),
                .messageIntegrity(hex("2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7")), .fingerprint(0xC07D_4C96),
            ]),
        key: shortTermKey, wrongKey: wrongShortTermKey, paddingByte: 0x20)

    /// RFC 5769 §2.3: sample IPv6 response.
    static let ipv6Response = StunVector(
        name: "RFC 5769 §2.3 IPv6 response",
        bytes: hex("""
            01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae 80 22 00 0b 74 65 73 74 20 76 65 63
            74 6f 72 20 00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9 00 08 00 14
            a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41 80 28 00 04 c8 fb 0b 4c
            """),
        decoded: StunMessage(
            method: .binding, messageClass: .successResponse, transactionID: .fixture,
            attributes: [
                .software("test vector"), .xorMappedAddress(.v6Sample),
                .messageIntegrity(hex("a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41")), .fingerprint(0xC8FB_0B4C),
            ]),
        key: shortTermKey, wrongKey: wrongShortTermKey, paddingByte: 0x20)

    /// RFC 5769 §2.4: request with long-term credentials (MD5 key, SASLprep'd password "TheMatrIX").
    static let longTermRequest = StunVector(
        name: "RFC 5769 §2.4 long-term request",
        bytes: hex("""
            00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e 00 06 00 12 e3 83 9e e3 83 88 e3 83
            aa e3 83 83 e3 82 af e3 82 b9 00 00 00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34
            6f 4c 39 46 53 54 76 79 36 34 73 41 00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00 00 08 00 14
            f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66
            """),
        decoded: StunMessage(
            method: .binding, messageClass: .request, transactionID: longTermID,
            attributes: [
                .username(matrixUser), .nonce("f//499k954d6OL34oL9FSTvy64sA"), .realm("example.org"),
                .messageIntegrity(hex("f6702465 6dd64a3e 02b8e071 2e85c9a2 8ca89666")),
            ]),
        key: .longTerm(username: matrixUser, realm: "example.org", password: "TheMatrIX"),
        wrongKey: .longTerm(username: matrixUser, realm: "example.org", password: "TheMatrix"),
        fingerprint: false)

    static let userhash = hex("4a3cf38f ef6992bd a952c678 0417da0f 24819415 569e60b2 05c46e41 407f1704")

    /// RFC 8489 Appendix B.1 as corrected by erratum 6268: USERHASH, SHA-256 password algorithm,
    /// MESSAGE-INTEGRITY-SHA256.
    static let sha256Request = StunVector(
        name: "RFC 8489 B.1 (erratum 6268) SHA-256 request",
        bytes: hex("""
            00 01 00 90 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e 00 1e 00 20 4a 3c f3 8f ef 69 92 bd
            a9 52 c6 78 04 17 da 0f 24 81 94 15 56 9e 60 b2 05 c4 6e 41 40 7f 17 04 00 15 00 29 6f 62 4d 61
            74 4a 6f 73 32 41 41 41 43 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76
            79 36 34 73 41 00 00 00 00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00 00 1d 00 04 00 02 00 00
            00 1c 00 20 b5 c7 bf 00 5b 6c 52 a2 1c 51 c5 e8 92 f8 19 24 13 62 96 cb 92 7c 43 14 93 09 27 8c
            c6 51 8e 65
            """),
        decoded: StunMessage(
            method: .binding, messageClass: .request, transactionID: longTermID,
            attributes: [
                .userhash(userhash), .nonce("obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA"), .realm("example.org"),
                .passwordAlgorithm(.sha256),
                .messageIntegritySHA256(
                    hex("b5c7bf00 5b6c52a2 1c51c5e8 92f81924 136296cb 927c4314 9309278c c6518e65")),
            ]),
        key: .longTerm(username: matrixUser, realm: "example.org", password: "TheMatrIX", algorithm: .sha256),
        wrongKey: .longTerm(username: matrixUser, realm: "example.org", password: "TheMatrIx", algorithm: .sha256),
        sha256: true, fingerprint: false)

    static let all = [request, ipv4Response, ipv6Response, longTermRequest, sha256Request]
}

@Suite("RFC 5769 and RFC 8489 Appendix B test vectors")
struct RFC5769VectorTests {
    @Test("each vector decodes to the expected typed message", arguments: Vectors.all)
    func decodesToTheTypedMessage(vector: StunVector) throws {
        let message = try StunMessage(decoding: vector.bytes)
        #expect(message == vector.decoded)
        #expect(message.hasMagicCookie)
        #expect(message.ignoredAttributeCount == 0)
        #expect(message.duplicateAttributeTypes.isEmpty)
        #expect(message.unknownComprehensionRequired.isEmpty)
        #expect(message.hasFingerprint == vector.fingerprint)
        #expect(message.hasIntegrity)
    }

    @Test("each vector re-encodes byte for byte from its typed message", arguments: Vectors.all)
    func reencodesByteForByte(vector: StunVector) throws {
        #expect(vector.reencoded() == vector.bytes)
        // The decoded message still holds the old MAC and FINGERPRINT; the encoder recomputes them.
        #expect(vector.reencoded(try StunMessage(decoding: vector.bytes)) == vector.bytes)
    }

    @Test("each vector verifies with its key and not with a wrong one", arguments: Vectors.all)
    func verifiesOnlyWithTheRightKey(vector: StunVector) throws {
        let message = try StunMessage(decoding: vector.bytes)
        #expect(message.isAuthentic(key: vector.key))
        #expect(!message.isAuthentic(key: vector.wrongKey))
    }

    @Test("each vector also decodes from a ByteBuffer and passes the cheap STUN check", arguments: Vectors.all)
    func decodesFromAByteBuffer(vector: StunVector) throws {
        var buffer = ByteBufferAllocator().buffer(capacity: vector.bytes.count)
        buffer.writeBytes(vector.bytes)
        #expect(try StunMessage(decoding: buffer) == vector.decoded)
        #expect(buffer.readableBytes == vector.bytes.count)
        #expect(StunMessage.looksLikeStun(vector.bytes))
    }

    @Test func theRequestVectorCarriesTheICEAttributes() throws {
        let message = try StunMessage(decoding: Vectors.request.bytes)
        #expect(message.username == "evtj:h6vY")
        #expect(message.software == "STUN test client")
        #expect(message.first(.priority) == .priority(0x6E00_01FF))
        #expect(message.first(.iceControlled) == .iceControlled(tieBreaker: 0x932F_F9B1_5126_3B36))
    }

    @Test func theResponseVectorsCarryTheReflexiveAddresses() throws {
        #expect(try StunMessage(decoding: Vectors.ipv4Response.bytes).xorMappedAddress?.description == "192.0.2.1:32853")
        #expect(
            try StunMessage(decoding: Vectors.ipv6Response.bytes).xorMappedAddress?.description
                == "[2001:db8:1234:5678:11:2233:4455:6677]:32853")
    }

    @Test func theLongTermKeyIsTheMD5OfUsernameRealmAndPassword() {
        // MD5("マトリックス:example.org:TheMatrIX"), RFC 5769 §2.4 / RFC 8489 §9.2.2.
        let key = StunKey.longTerm(username: Vectors.matrixUser, realm: "example.org", password: "TheMatrIX")
        #expect(key.bytes.count == 16)
        #expect(key == Vectors.longTermRequest.key)
        #expect(key != StunKey.longTerm(
            username: Vectors.matrixUser, realm: "example.org", password: "TheMatrIX", algorithm: .sha256))
    }

    @Test func theUserhashOfTheMatrixUserMatchesAppendixB1() {
        #expect(StunKey.userhash(username: Vectors.matrixUser, realm: "example.org") == Vectors.userhash)
    }

    @Test func theSHA256KeyIs32Bytes() {
        #expect(Vectors.sha256Request.key.bytes.count == 32)
    }
}
