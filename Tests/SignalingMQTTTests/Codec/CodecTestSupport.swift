import NIOCore
import SignalingMQTT
import Testing

/// Helpers for the codec tests, namespaced so they cannot clash with other suites of this target.
enum CodecFixtures {
    /// Parses hex digits into bytes, ignoring spaces and newlines: `bytes("10 0f 00 04")`.
    static func bytes(_ text: String) -> [UInt8] {
        let digits = Array(text.filter { !$0.isWhitespace })
        precondition(digits.count % 2 == 0, "odd number of hex digits")
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
    }

    /// A UTF-8 Encoded String or Binary Data field: 2-byte length, then the bytes.
    static func string(_ text: String) -> [UInt8] { binary(Array(text.utf8)) }

    static func binary(_ bytes: [UInt8]) -> [UInt8] { [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes }

    /// A Variable Byte Integer in its shortest form.
    static func vbi(_ value: Int) -> [UInt8] {
        var out: [UInt8] = []
        var rest = value
        repeat {
            var byte = UInt8(rest & 0x7F)
            rest >>= 7
            if rest > 0 { byte |= 0x80 }
            out.append(byte)
        } while rest > 0
        return out
    }

    /// A whole packet: first byte, remaining length, body.
    static func packet(_ firstByte: UInt8, _ body: [UInt8]) -> [UInt8] { [firstByte] + vbi(body.count) + body }

    /// A property block: VBI length, then the properties.
    static func properties(_ bytes: [UInt8]) -> [UInt8] { vbi(bytes.count) + bytes }

    static func encode(_ packet: MQTTPacket, _ version: MQTTProtocolVersion) throws -> [UInt8] {
        var buffer = try packet.encoded(version: version)
        return buffer.readBytes(length: buffer.readableBytes)!
    }

    static func decode(_ bytes: [UInt8], _ version: MQTTProtocolVersion?) throws(MQTTDecodingError) -> MQTTPacket {
        try MQTTPacket(decoding: ByteBuffer(bytes: bytes), version: version)
    }

    /// Decodes and returns the error, recording an issue when decoding succeeds.
    static func decodingError(
        _ bytes: [UInt8], _ version: MQTTProtocolVersion?, sourceLocation: SourceLocation = #_sourceLocation
    ) -> MQTTDecodingError? {
        #expect(throws: MQTTDecodingError.self, sourceLocation: sourceLocation) { try decode(bytes, version) }
    }

    /// Encodes and returns the error, recording an issue when encoding succeeds.
    static func encodingError(
        _ packet: MQTTPacket, _ version: MQTTProtocolVersion, sourceLocation: SourceLocation = #_sourceLocation
    ) -> MQTTEncodingError? {
        #expect(throws: MQTTEncodingError.self, sourceLocation: sourceLocation) { try packet.encoded(version: version) }
    }

    static func payload(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }
}

/// SplitMix64: a small deterministic generator, so randomised tests replay exactly.
struct CodecSeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}

/// A packet and the version to encode it with, named for the test report.
struct CodecSample: Sendable, CustomTestStringConvertible {
    let name: String
    let packet: MQTTPacket
    let version: MQTTProtocolVersion

    init(_ name: String, _ packet: MQTTPacket, _ version: MQTTProtocolVersion) {
        self.name = name
        self.packet = packet
        self.version = version
    }

    var testDescription: String { "\(name) (\(version))" }
}

extension CodecSample {
    /// Properties that exercise every property type; each packet keeps the ones it allows.
    static let everyProperty: MQTTProperties = {
        var p = MQTTProperties()
        p.payloadFormatIndicator = 1
        p.messageExpiryInterval = 3600
        p.contentType = "application/json"
        p.responseTopic = "reply/to/me"
        p.correlationData = [0xDE, 0xAD, 0xBE, 0xEF]
        p.sessionExpiryInterval = 0xFFFF_FFFF
        p.assignedClientIdentifier = "auto-1234"
        p.serverKeepAlive = 30
        p.authenticationMethod = "SCRAM-SHA-256"
        p.authenticationData = [1, 2, 3]
        p.requestProblemInformation = 0
        p.willDelayInterval = 10
        p.requestResponseInformation = 1
        p.responseInformation = "resp/"
        p.serverReference = "other.example:1883"
        p.reasonString = "because"
        p.receiveMaximum = 20
        p.topicAliasMaximum = 10
        p.maximumQoS = .atLeastOnce
        p.retainAvailable = false
        p.userProperties = [
            MQTTUserProperty(name: "k", value: "v"), MQTTUserProperty(name: "k", value: "v2"),
            MQTTUserProperty(name: "ünï", value: "çødé ✓"),
        ]
        p.maximumPacketSize = 1 << 20
        p.wildcardSubscriptionAvailable = true
        p.subscriptionIdentifiersAvailable = false
        p.sharedSubscriptionAvailable = true
        return p
    }()

    /// `everyProperty` with only the properties `kind` allows (what decoding its encoding gives).
    static func properties(for kind: MQTTPacket.Kind, will: Bool = false) -> MQTTProperties {
        var p = everyProperty
        let publishLike = kind == .publish || will
        if !publishLike {
            p.payloadFormatIndicator = nil
            p.messageExpiryInterval = nil
            p.contentType = nil
            p.responseTopic = nil
            p.correlationData = nil
        }
        if kind == .publish && !will { p.subscriptionIdentifiers = [1, 268_435_455, 300] }
        if kind == .subscribe { p.subscriptionIdentifiers = [16_384] }
        if will || ![.connect, .connAck, .disconnect].contains(kind) { p.sessionExpiryInterval = nil }
        if will || kind != .connAck {
            p.assignedClientIdentifier = nil
            p.serverKeepAlive = nil
            p.responseInformation = nil
            p.maximumQoS = nil
            p.retainAvailable = nil
            p.wildcardSubscriptionAvailable = nil
            p.subscriptionIdentifiersAvailable = nil
            p.sharedSubscriptionAvailable = nil
        }
        if will || ![.connect, .connAck, .auth].contains(kind) {
            p.authenticationMethod = nil
            p.authenticationData = nil
        }
        if will || kind != .connect {
            p.requestProblemInformation = nil
            p.requestResponseInformation = nil
        }
        if !will { p.willDelayInterval = nil }
        if will || ![.connAck, .disconnect].contains(kind) { p.serverReference = nil }
        if will || [.connect, .publish, .subscribe, .unsubscribe].contains(kind) { p.reasonString = nil }
        if will || ![.connect, .connAck].contains(kind) {
            p.receiveMaximum = nil
            p.topicAliasMaximum = nil
            p.maximumPacketSize = nil
        }
        if kind == .publish && !will { p.topicAlias = 7 }
        return p
    }
}
