/// A certificate fingerprint as carried by the SDP `a=fingerprint` attribute.
///
/// RFC 8122 §5: `fingerprint-attribute = "fingerprint" ":" hash-func SP fingerprint`, where the
/// fingerprint is uppercase hex bytes separated by colons (lowercase is accepted on input).
/// RFC 8827 §6.5 requires at least SHA-256 from WebRTC endpoints; we generate sha-256 only and
/// check every algorithm OpenSSL can digest with.
public struct DTLSFingerprint: Sendable, Hashable, CustomStringConvertible {
    /// The hash function's name as written in SDP, lowercased (`sha-256`, `sha-1`, ...).
    public let algorithm: String
    /// The digest bytes.
    public let bytes: [UInt8]

    public init(algorithm: String, bytes: [UInt8]) {
        self.algorithm = algorithm.lowercased()
        self.bytes = bytes
    }

    /// Parses the two halves of an `a=fingerprint:` value. Nil when the hex part is not
    /// colon-separated pairs of hex digits, or the algorithm name is empty.
    public init?(algorithm: some StringProtocol, hex: some StringProtocol) {
        guard !algorithm.isEmpty, !hex.isEmpty else { return nil }
        var bytes: [UInt8] = []
        for part in hex.split(separator: ":", omittingEmptySubsequences: false) {
            guard part.utf8.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            bytes.append(byte)
        }
        self.init(algorithm: String(algorithm), bytes: bytes)
    }

    /// Parses a whole attribute value, `sha-256 AB:CD:...`.
    public init?(sdpValue: some StringProtocol) {
        let parts = sdpValue.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2 else { return nil }
        self.init(algorithm: parts[0], hex: parts[1])
    }

    /// Uppercase colon-separated hex, as RFC 8122 §5 writes it.
    public var hex: String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 3)
        for (index, byte) in bytes.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ":")) }
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The attribute value, `sha-256 AB:CD:...`.
    public var sdpValue: String { "\(algorithm) \(hex)" }

    public var description: String { sdpValue }
}
