import Crypto

/// HMAC computation and constant-time verification for MESSAGE-INTEGRITY (RFC 8489 §14.5)
/// and MESSAGE-INTEGRITY-SHA256 (§14.6).
enum StunIntegrity {
    static func hmacSHA1(key: StunKey, header: ArraySlice<UInt8>, body: ArraySlice<UInt8>) -> [UInt8] {
        var hmac = HMAC<Insecure.SHA1>(key: SymmetricKey(data: key.bytes))
        hmac.update(data: header)
        hmac.update(data: body)
        return Array(hmac.finalize())
    }

    static func hmacSHA256(key: StunKey, header: ArraySlice<UInt8>, body: ArraySlice<UInt8>) -> [UInt8] {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: key.bytes))
        hmac.update(data: header)
        hmac.update(data: body)
        return Array(hmac.finalize())
    }

    /// Compares without an early exit, so timing does not reveal where the MACs differ.
    static func constantTimeEqual(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    /// The header with its length field replaced, as the HMAC input requires.
    static func adjustedHeader(_ raw: [UInt8], length: Int) -> ArraySlice<UInt8> {
        var header = Array(raw[0..<20])
        header.setUInt16(UInt16(truncatingIfNeeded: length), at: 2)
        return header[...]
    }
}

extension StunMessage {
    /// Verifies the message's integrity with `key`, in constant time.
    ///
    /// When both integrity attributes are present, MESSAGE-INTEGRITY-SHA256 is the one checked
    /// (RFC 8489 §9.1.4, §9.2.5). A truncated MESSAGE-INTEGRITY-SHA256 (16–28 bytes) is compared
    /// over its length.
    /// - Returns: false when the message has no integrity attribute, was not decoded from bytes,
    ///   or the MAC does not match.
    public func isAuthentic(key: StunKey) -> Bool {
        guard let context = integrityContext else { return false }
        let raw = context.raw
        if let offset = context.sha256Offset {
            let header = StunIntegrity.adjustedHeader(raw, length: offset + 4 + context.sha256Length - 20)
            let mac = StunIntegrity.hmacSHA256(key: key, header: header, body: raw[20..<offset])
            return StunIntegrity.constantTimeEqual(
                mac[0..<context.sha256Length], raw[(offset + 4)..<(offset + 4 + context.sha256Length)])
        }
        if let offset = context.sha1Offset {
            let header = StunIntegrity.adjustedHeader(raw, length: offset + 24 - 20)
            let mac = StunIntegrity.hmacSHA1(key: key, header: header, body: raw[20..<offset])
            return StunIntegrity.constantTimeEqual(mac[...], raw[(offset + 4)..<(offset + 24)])
        }
        return false
    }
}
