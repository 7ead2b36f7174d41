public import NIOCore

extension StunMessage {
    /// Encodes the message (RFC 8489 §5, §14).
    ///
    /// MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT values in ``attributes`` are
    /// skipped; pass keys and `fingerprint: true` to have them computed, in the order §14 requires.
    ///
    /// - Parameters:
    ///   - messageIntegrity: when set, appends MESSAGE-INTEGRITY (HMAC-SHA1, §14.5) with this key.
    ///   - messageIntegritySHA256: when set, appends MESSAGE-INTEGRITY-SHA256 (§14.6, full 32 bytes).
    ///   - fingerprint: appends FINGERPRINT last (§14.7).
    ///   - paddingByte: what fills attribute padding. §14 says senders use zero; RFC 5769's
    ///     vectors use 0x20, so tests can reproduce them byte for byte.
    /// - Returns: the message bytes.
    public func encoded(
        messageIntegrity: StunKey? = nil, messageIntegritySHA256: StunKey? = nil,
        fingerprint: Bool = false, paddingByte: UInt8 = 0
    ) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(128)
        out.appendUInt16(type.rawValue)
        out.appendUInt16(0)
        out.appendUInt32(rfc3489TransactionPrefix ?? stunMagicCookie)
        out.append(contentsOf: transactionID.bytes)
        // Integrity and fingerprint values are never copied from `attributes`: a decoded message
        // still holds them, and stale ones would make the new bytes fail verification. They are
        // computed afresh from the options below.
        for attribute in attributes {
            switch attribute.type {
            case .messageIntegrity, .messageIntegritySHA256, .fingerprint: continue
            default: appendAttribute(attribute, to: &out, paddingByte: paddingByte)
            }
        }
        if let key = messageIntegrity {
            // The length field counts the MESSAGE-INTEGRITY attribute itself (§14.5).
            out.setUInt16(UInt16(out.count - 20 + 24), at: 2)
            let mac = StunIntegrity.hmacSHA1(key: key, header: out[0..<20], body: out[20...])
            appendAttribute(.messageIntegrity(mac), to: &out, paddingByte: 0)
        }
        if let key = messageIntegritySHA256 {
            out.setUInt16(UInt16(out.count - 20 + 36), at: 2)
            let mac = StunIntegrity.hmacSHA256(key: key, header: out[0..<20], body: out[20...])
            appendAttribute(.messageIntegritySHA256(mac), to: &out, paddingByte: 0)
        }
        if fingerprint {
            let value = StunFingerprint.compute(out[...], lengthFieldValue: out.count - 20 + 8)
            appendAttribute(.fingerprint(value), to: &out, paddingByte: 0)
        }
        out.setUInt16(UInt16(truncatingIfNeeded: out.count - 20), at: 2)
        return out
    }

    /// Encodes the message into a buffer; see ``encoded(messageIntegrity:messageIntegritySHA256:fingerprint:paddingByte:)``.
    public func encode(
        into buffer: inout ByteBuffer, messageIntegrity: StunKey? = nil, messageIntegritySHA256: StunKey? = nil,
        fingerprint: Bool = false
    ) {
        buffer.writeBytes(
            encoded(messageIntegrity: messageIntegrity, messageIntegritySHA256: messageIntegritySHA256, fingerprint: fingerprint))
    }

    private func appendAttribute(_ attribute: StunAttribute, to out: inout [UInt8], paddingByte: UInt8) {
        let headerIndex = out.count
        out.appendUInt16(attribute.type.rawValue)
        out.appendUInt16(0)
        attribute.encodeValue(into: &out, transactionID: transactionID)
        let valueLength = out.count - headerIndex - 4
        out.setUInt16(UInt16(truncatingIfNeeded: valueLength), at: headerIndex + 2)
        let pad = (4 - valueLength % 4) % 4
        if pad > 0 { out.append(contentsOf: repeatElement(paddingByte, count: pad)) }
    }
}
