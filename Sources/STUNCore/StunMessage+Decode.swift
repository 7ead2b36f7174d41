public import NIOCore

extension StunMessage {
    /// Decodes one whole message, as received in one datagram (RFC 8489 §5, §6.3).
    ///
    /// - Parameters:
    ///   - bytes: exactly one message; trailing bytes are an error.
    ///   - requireMagicCookie: when false, RFC 3489 messages without the cookie are accepted
    ///     (RFC 8489 §12); ``hasMagicCookie`` tells which it was.
    /// - Throws: ``StunDecodingError`` naming the field and offset that failed. A FINGERPRINT
    ///   that does not match fails the whole message (§14.7).
    public init(decoding bytes: [UInt8], requireMagicCookie: Bool = true) throws(StunDecodingError) {
        self = try StunMessage.decode(bytes, requireMagicCookie: requireMagicCookie)
    }

    /// Decodes the readable bytes of a buffer as one message; the buffer is not moved.
    public init(decoding buffer: ByteBuffer, requireMagicCookie: Bool = true) throws(StunDecodingError) {
        let bytes = buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? []
        self = try StunMessage.decode(bytes, requireMagicCookie: requireMagicCookie)
    }

    /// Cheap check that bytes look like a STUN message: at least a header, top bits 00, a length
    /// that is a multiple of 4 and fits, and the magic cookie (RFC 8489 §5, RFC 7983 §7).
    public static func looksLikeStun<Bytes: RandomAccessCollection>(_ bytes: Bytes) -> Bool
    where Bytes.Element == UInt8, Bytes.Index == Int {
        let s = bytes.startIndex
        guard bytes.count >= 20, bytes[s] & 0xC0 == 0 else { return false }
        let length = Int(bytes[s + 2]) << 8 | Int(bytes[s + 3])
        return length % 4 == 0 && 20 + length <= bytes.count
            && bytes[s + 4] == 0x21 && bytes[s + 5] == 0x12 && bytes[s + 6] == 0xA4 && bytes[s + 7] == 0x42
    }

    static func decode(_ bytes: [UInt8], requireMagicCookie: Bool) throws(StunDecodingError) -> StunMessage {
        guard bytes.count >= 20 else { throw StunDecodingError(.truncatedHeader, field: "header", offset: bytes.count) }
        let all = bytes[...]
        let rawType = all.readUInt16(at: 0)
        guard let type = StunMessageType(rawValue: rawType) else {
            throw StunDecodingError(.notStun, field: "header.type", offset: 0)
        }
        let length = Int(all.readUInt16(at: 2))
        guard length % 4 == 0 else { throw StunDecodingError(.badLength, field: "header.length", offset: 2) }
        let cookieField = all.readUInt32(at: 4)
        let hasCookie = cookieField == stunMagicCookie
        if requireMagicCookie && !hasCookie {
            throw StunDecodingError(.badMagicCookie, field: "header.cookie", offset: 4)
        }
        guard 20 + length == bytes.count else {
            throw StunDecodingError(.lengthMismatch, field: "header.length", offset: 2)
        }
        // RFC 3489 used all 16 bytes as the transaction id; the last 12 identify it here.
        let transactionID = TransactionID(bytes: bytes[8..<20])!
        let header = StunDecodingError.Header(type: type, transactionID: transactionID, hasMagicCookie: hasCookie)

        var message = StunMessage(
            method: type.method, messageClass: type.messageClass, transactionID: transactionID,
            attributes: [], rfc3489TransactionPrefix: hasCookie ? nil : cookieField)
        var context = IntegrityContext(raw: [])
        var offset = 20
        var sawFingerprint = false
        while offset < bytes.count {
            guard offset + 4 <= bytes.count else {
                throw StunDecodingError(.truncatedAttribute, field: "attribute.header", offset: offset, header: header)
            }
            let attributeType = StunAttributeType(all.readUInt16(at: offset))
            let valueLength = Int(all.readUInt16(at: offset + 2))
            let valueStart = offset + 4
            // RFC 8489 §14: values are padded to a multiple of 4 bytes; the padding must be there.
            let next = valueStart + ((valueLength + 3) & ~3)
            guard next <= bytes.count else {
                throw StunDecodingError(
                    .truncatedAttribute, field: "\(attributeType).length", offset: offset + 2, header: header)
            }
            defer { offset = next }

            // RFC 8489 §14.5–§14.7: after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and
            // FINGERPRINT count; after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT; nothing after FINGERPRINT.
            if sawFingerprint
                || (context.sha256Offset != nil && attributeType != .fingerprint)
                || (context.sha1Offset != nil && attributeType != .fingerprint && attributeType != .messageIntegritySHA256)
            {
                message.ignoredAttributeCount += 1
                continue
            }

            let value = bytes[valueStart..<(valueStart + valueLength)]
            let attribute: StunAttribute
            do {
                attribute = try StunAttribute.decode(
                    type: attributeType, value: value, transactionID: transactionID, offset: valueStart)
            } catch {
                throw StunDecodingError(error.code, field: error.field, offset: error.offset, header: header)
            }

            switch attributeType {
            case .fingerprint:
                guard case .fingerprint(let received) = attribute,
                    received == StunFingerprint.compute(bytes[0..<offset], lengthFieldValue: offset + 8 - 20)
                else {
                    throw StunDecodingError(
                        .fingerprintMismatch, field: "FINGERPRINT.value", offset: valueStart, header: header)
                }
                sawFingerprint = true
            case .messageIntegrity:
                context.sha1Offset = offset
            case .messageIntegritySHA256:
                context.sha256Offset = offset
                context.sha256Length = valueLength
            default:
                break
            }
            message.attributes.append(attribute)
        }
        if context.sha1Offset != nil || context.sha256Offset != nil {
            context.raw = bytes
            message.integrityContext = context
        }
        return message
    }
}
