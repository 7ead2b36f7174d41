import STUNCore
import Testing

/// Deterministic mutation fuzzing of the decoder: bit flips, truncations, splices and random
/// TLV soup over the RFC vectors. Nothing may crash, every failure must carry a sane offset,
/// and whatever decodes must re-encode to something that decodes to the same message.
@Suite("Decoder fuzzing")
struct MessageFuzzTests {
    static let seeds = Vectors.all.map(\.bytes) + [
        StunMessage(
            method: .allocate, messageClass: .successResponse, transactionID: .fixture,
            attributes: AttributeRoundTripTests.placeableAnywhere.map(\.attribute)
        ).encoded(messageIntegrity: StunKey.shortTerm(password: "k"), fingerprint: true),
    ]

    static let attributeTypes: [UInt16] = Array(AttributeTable.knownTypes.map(\.rawValue)).sorted() + [0x0000, 0x7F01, 0xC001, 0xFFFF]

    static func mutate(_ seed: [UInt8], using generator: inout SeededGenerator) -> [UInt8] {
        var bytes = seed
        switch Int.random(in: 0..<6, using: &generator) {
        case 0:  // a few bit flips anywhere
            for _ in 0...Int.random(in: 0..<4, using: &generator) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
            }
        case 1:  // bit flips past the header, then the length fixed up so they reach the attribute decoder
            for _ in 0...Int.random(in: 0..<4, using: &generator) {
                bytes[Int.random(in: 20..<bytes.count, using: &generator)] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
            }
        case 2:  // truncation, sometimes with the length fixed up to a word boundary
            bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
            if bytes.count >= 20, Bool.random(using: &generator) {
                bytes = Array(bytes.prefix(20 + (bytes.count - 20) / 4 * 4))
                bytes = withLength(bytes, bytes.count - 20)
            }
        case 3:  // random bytes spliced in at a word boundary, length fixed up
            let at = 20 + 4 * Int.random(in: 0...((bytes.count - 20) / 4), using: &generator)
            bytes.insert(contentsOf: generator.bytes(4 * Int.random(in: 1...4, using: &generator)), at: at)
            bytes = withLength(bytes, bytes.count - 20)
        case 4:  // an attribute length field overwritten
            let at = 20 + 4 * Int.random(in: 0..<((bytes.count - 20) / 4), using: &generator)
            bytes[at + 2] = UInt8.random(in: 0...255, using: &generator)
            bytes[at + 3] = UInt8.random(in: 0...255, using: &generator)
        default:  // random TLV soup under a valid header
            bytes = soup(using: &generator)
        }
        return bytes
    }

    static func soup(using generator: inout SeededGenerator) -> [UInt8] {
        var area: [UInt8] = []
        for _ in 0..<Int.random(in: 0...8, using: &generator) {
            let type = attributeTypes.randomElement(using: &generator)!
            let length = [0, 1, 2, 3, 4, 8, 12, 16, 20, 32, Int.random(in: 0...40, using: &generator)].randomElement(using: &generator)!
            var value = generator.bytes(length)
            if Bool.random(using: &generator) { value = value.map { 0x20 + $0 % 0x5F } }  // printable, so text decodes
            if length >= 2, Bool.random(using: &generator) { value[1] = UInt8.random(in: 1...2, using: &generator) }  // a family
            area += tlv(type, value, paddingByte: UInt8.random(in: 0...255, using: &generator))
        }
        let type = UInt16.random(in: 0...0x3FFF, using: &generator)
        return stunHeader(type: type, length: area.count) + area
    }

    /// Re-encodes a decoded message (recomputing FINGERPRINT if it had one; the encoder drops
    /// integrity values it has no key for) and checks that the result decodes to the same
    /// message and encodes to the same bytes again.
    static func checkStable(_ message: StunMessage, source: [UInt8]) {
        let computed: [StunAttributeType] = [.messageIntegrity, .messageIntegritySHA256, .fingerprint]
        let hadFingerprint = message.hasFingerprint
        #expect(!hadFingerprint || message.attributes.last?.type == .fingerprint)
        let encoded = message.encoded(fingerprint: hadFingerprint)
        #expect(encoded.count <= source.count, "re-encoding grew the message")
        guard let second = try? StunMessage(decoding: encoded, requireMagicCookie: false) else {
            Issue.record("re-encoded message does not decode: \(source)")
            return
        }
        #expect(second.ignoredAttributeCount == 0)
        #expect(second.hasFingerprint == hadFingerprint)
        #expect(second.attributes.filter { !computed.contains($0.type) } == message.attributes.filter { !computed.contains($0.type) })
        #expect(second.encoded(fingerprint: hadFingerprint) == encoded)
    }

    @Test("50,000 seeded mutations never crash, fail sanely, and decode stably")
    func mutationsNeverCrashAndDecodeStably() {
        var generator = SeededGenerator(seed: 0x5EED_5713)
        var decoded = 0
        var codes: Set<String> = []
        for iteration in 0..<50_000 {
            let seed = Self.seeds[iteration % Self.seeds.count]
            let bytes = Self.mutate(seed, using: &generator)
            let requireCookie = iteration % 7 != 0
            do throws(StunDecodingError) {
                let message = try StunMessage(decoding: bytes, requireMagicCookie: requireCookie)
                decoded += 1
                Self.checkStable(message, source: bytes)
                for attribute in message.attributes { _ = attribute.type }
                _ = message.isAuthentic(key: Vectors.shortTermKey)
            } catch {
                codes.insert("\(error.code)")
                #expect((0...bytes.count).contains(error.offset))
                if error.header != nil { #expect(bytes.count >= 20) }
            }
        }
        // The mutations must reach both sides of the decoder, and most of its error paths.
        #expect(decoded > 5_000)
        #expect(codes.isSuperset(of: [
            "truncatedHeader", "notStun", "badMagicCookie", "badLength", "lengthMismatch", "truncatedAttribute",
            "invalidValue", "invalidUTF8", "fingerprintMismatch",
        ]))
    }

    @Test("random datagrams of every small size never crash")
    func randomDatagramsNeverCrash() {
        var generator = SeededGenerator(seed: 42)
        for size in 0..<200 {
            for _ in 0..<20 {
                var bytes = generator.bytes(size)
                if size >= 8, Bool.random(using: &generator) {
                    bytes[0] &= 0x3F
                    bytes[4...7] = [0x21, 0x12, 0xA4, 0x42]
                    if size >= 20 { bytes = withLength(bytes, (size - 20) / 4 * 4) }
                }
                if let message = try? StunMessage(decoding: bytes) {
                    Self.checkStable(message, source: bytes)
                }
            }
        }
    }
}
