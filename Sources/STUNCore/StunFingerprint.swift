/// FINGERPRINT: CRC-32 of the message up to the attribute, XORed with 0x5354554e (RFC 8489 §14.7).
public enum StunFingerprint {
    static let xorValue: UInt32 = 0x5354_554E

    /// - Parameters:
    ///   - prefix: the message bytes before the FINGERPRINT attribute (header included).
    ///   - lengthFieldValue: the header length to use, which must count the FINGERPRINT attribute.
    static func compute(_ prefix: ArraySlice<UInt8>, lengthFieldValue: Int) -> UInt32 {
        var crc = CRC32()
        crc.update(prefix.prefix(2))
        crc.update([UInt8(truncatingIfNeeded: lengthFieldValue >> 8), UInt8(truncatingIfNeeded: lengthFieldValue)])
        crc.update(prefix.dropFirst(4))
        return crc.value ^ xorValue
    }
}

/// CRC-32 as in ISO 3309 / ITU-T V.42 / zlib (reflected polynomial 0xEDB88320).
public struct CRC32: Sendable {
    private var state: UInt32 = 0xFFFF_FFFF

    public init() {}

    static let table: [UInt32] = (0..<256).map { index in
        var c = UInt32(index)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        var c = state
        CRC32.table.withUnsafeBufferPointer { table in
            for byte in bytes { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        }
        state = c
    }

    public var value: UInt32 { state ^ 0xFFFF_FFFF }

    /// The CRC-32 of `bytes`.
    public static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var crc = CRC32()
        crc.update(bytes)
        return crc.value
    }
}
