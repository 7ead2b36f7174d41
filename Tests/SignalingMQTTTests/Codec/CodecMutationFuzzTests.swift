import NIOCore
import SignalingMQTT
import Testing

/// Deterministic mutation fuzzing of the stream decoder: bit flips, byte changes, truncation,
/// insertion, splices and rewritten lengths over whole sessions of both versions and the captured
/// streams, decoded with every version and a small maximum packet size. Nothing may crash or hang,
/// every error must point inside the data, and whatever decodes must re-encode to bytes that
/// decode to the same packet.
@Suite("MQTT codec mutation fuzzing")
struct CodecMutationFuzzTests {
    static let seeds: [[UInt8]] = {
        var seeds = [CodecStreamTests.session(.v5).bytes, CodecStreamTests.session(.v3_1_1).bytes]
        for capture in CodecCapturedPacketTests.all {
            seeds.append(capture.clientToServer)
            seeds.append(capture.serverToClient)
        }
        for sample in CodecRoundTripTests.all { seeds.append(try! CodecFixtures.encode(sample.packet, sample.version)) }
        return seeds
    }()

    static func mutate(_ seed: [UInt8], using generator: inout CodecSeededGenerator) -> [UInt8] {
        var bytes = seed
        func index() -> Int { Int.random(in: 0..<max(bytes.count, 1), using: &generator) }
        for _ in 0...Int.random(in: 0..<3, using: &generator) where !bytes.isEmpty {
            switch Int.random(in: 0..<8, using: &generator) {
            case 0: bytes[index()] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
            case 1: bytes[index()] = UInt8.random(in: 0...255, using: &generator)
            case 2: bytes = Array(bytes.prefix(index()))
            case 3: bytes.insert(contentsOf: generator.bytes(Int.random(in: 1...8, using: &generator)), at: index())
            case 4:
                let start = index()
                bytes.removeSubrange(start..<min(bytes.count, start + Int.random(in: 1...16, using: &generator)))
            case 5:  // a splice of another seed
                let other = seeds.randomElement(using: &generator)!
                let start = Int.random(in: 0..<other.count, using: &generator)
                bytes.insert(
                    contentsOf: other[start..<min(other.count, start + Int.random(in: 1...64, using: &generator))],
                    at: index())
            case 6: bytes[index()] = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0x26, 0x0B, 0x23].randomElement(using: &generator)!
            default:  // a packet-looking header with a random length over random bytes
                let first = UInt8.random(in: 0...255, using: &generator)
                let body = generator.bytes(Int.random(in: 0...40, using: &generator))
                bytes.insert(contentsOf: [first] + CodecFixtures.vbi(body.count) + body, at: index())
            }
        }
        return bytes
    }

    /// Decodes `bytes` as one stream and checks every packet and error.
    static func check(
        _ bytes: [UInt8], version: MQTTProtocolVersion?, maximumPacketSize: Int,
        errors: inout Set<MQTTDecodingError.Code>
    ) -> Int {
        var decoder = MQTTPacketDecoder(version: version, maximumPacketSize: maximumPacketSize)
        var buffer = ByteBuffer(bytes: bytes)
        var count = 0
        while true {
            let before = buffer.readableBytes
            let versionBefore = decoder.version
            do {
                guard let packet = try decoder.decodeLast(buffer: &buffer, seenEOF: true) else { break }
                count += 1
                let consumed = before - buffer.readableBytes
                #expect(consumed > 0 && consumed <= maximumPacketSize)
                if case .connect(let connect) = packet {
                    #expect(decoder.version == (versionBefore ?? connect.version))
                }
                let packetVersion = packet.connectVersion ?? decoder.version!
                let encoded: [UInt8]
                do {
                    encoded = try CodecFixtures.encode(packet, packetVersion)
                } catch {
                    Issue.record("decoded packet does not encode: \(error)\n  \(packet)")
                    return count
                }
                let again = try? CodecFixtures.decode(encoded, packetVersion)
                #expect(again == packet, "re-encoded packet decodes differently: \(CodecFixtures.hex(encoded))")
            } catch {
                #expect(error.offset >= 0 && error.offset <= before, "offset \(error.offset) outside \(before) bytes")
                #expect(!error.field.isEmpty)
                _ = error.description
                errors.insert(error.code)
                break
            }
        }
        return count
    }

    @Test("30,000 mutated streams never crash and whatever decodes round-trips")
    func mutations() {
        var generator = CodecSeededGenerator(seed: 0x4D51_5454)
        var decoded = 0
        var errors: Set<MQTTDecodingError.Code> = []
        for _ in 0..<30_000 {
            let seed = Self.seeds.randomElement(using: &generator)!
            let bytes = Self.mutate(seed, using: &generator)
            let version = [nil, MQTTProtocolVersion.v3_1_1, .v5].randomElement(using: &generator)!
            let maximum = Bool.random(using: &generator) ? MQTTPacketDecoder.specMaximumPacketSize : 64
            decoded += Self.check(bytes, version: version, maximumPacketSize: maximum, errors: &errors)
        }
        // The mutations still reach the packet decoders and most of their checks.
        #expect(decoded > 10_000)
        #expect(errors.count >= 20, "only \(errors.count) error codes: \(errors)")
    }

    @Test("the unmutated seeds decode completely")
    func seedsDecode() {
        var errors: Set<MQTTDecodingError.Code> = []
        for seed in Self.seeds.prefix(2) {
            #expect(
                Self.check(
                    seed, version: nil, maximumPacketSize: MQTTPacketDecoder.specMaximumPacketSize, errors: &errors)
                    > 20)
            #expect(errors.isEmpty)
        }
    }
}

extension MQTTPacket {
    /// The version a CONNECT carries, which it is encoded with.
    fileprivate var connectVersion: MQTTProtocolVersion? {
        if case .connect(let connect) = self { connect.version } else { nil }
    }
}
