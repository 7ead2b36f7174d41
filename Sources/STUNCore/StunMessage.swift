/// A STUN message: header fields and attributes (RFC 8489 §5, §14).
///
/// Decode with ``init(decoding:requireMagicCookie:)-swift.init`` and encode with
/// ``encoded(messageIntegrity:messageIntegritySHA256:fingerprint:paddingByte:)``.
/// MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are computed by the encoder;
/// a decoded message keeps what it needs to verify its integrity later with
/// ``isAuthentic(key:)``.
public struct StunMessage: Sendable, Hashable, CustomStringConvertible {
    public var method: StunMethod
    public var messageClass: StunClass
    public var transactionID: TransactionID
    /// Attributes in wire order. When decoded, attributes that follow MESSAGE-INTEGRITY (other
    /// than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT) or FINGERPRINT are dropped (RFC 8489 §14.5–§14.7)
    /// and counted in ``ignoredAttributeCount``.
    public var attributes: [StunAttribute]
    /// For an RFC 3489 message (no magic cookie, RFC 8489 §12), the first 4 of its 16
    /// transaction-id bytes, sent where the cookie would be; nil for RFC 5389/8489 messages.
    public var rfc3489TransactionPrefix: UInt32?
    /// False for an RFC 3489 message without the magic cookie (RFC 8489 §12).
    public var hasMagicCookie: Bool { rfc3489TransactionPrefix == nil }
    /// Attributes the decoder dropped because of their position.
    public internal(set) var ignoredAttributeCount: Int = 0
    /// What a decoded message needs to check its integrity; not part of equality.
    var integrityContext: IntegrityContext?

    public init(
        method: StunMethod, messageClass: StunClass, transactionID: TransactionID = .random(),
        attributes: [StunAttribute] = [], rfc3489TransactionPrefix: UInt32? = nil
    ) {
        self.method = method
        self.messageClass = messageClass
        self.transactionID = transactionID
        self.attributes = attributes
        self.rfc3489TransactionPrefix = rfc3489TransactionPrefix
    }

    public var type: StunMessageType { StunMessageType(method: method, messageClass: messageClass) }

    public static func == (lhs: StunMessage, rhs: StunMessage) -> Bool {
        lhs.method == rhs.method && lhs.messageClass == rhs.messageClass && lhs.transactionID == rhs.transactionID
            && lhs.attributes == rhs.attributes && lhs.rfc3489TransactionPrefix == rhs.rfc3489TransactionPrefix
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(method)
        hasher.combine(messageClass)
        hasher.combine(transactionID)
        hasher.combine(attributes)
    }

    public var description: String {
        "STUN \(type) \(transactionID) [" + attributes.map { $0.type.description }.joined(separator: ", ") + "]"
    }

    // MARK: Queries

    /// The first attribute of a type: "only the first occurrence needs to be processed" (RFC 8489 §14).
    public func first(_ type: StunAttributeType) -> StunAttribute? {
        attributes.first { $0.type == type }
    }

    /// Comprehension-required attribute types this library does not understand (RFC 8489 §14:
    /// a request carrying one gets a 420 with UNKNOWN-ATTRIBUTES).
    public var unknownComprehensionRequired: [StunAttributeType] {
        var seen: [StunAttributeType] = []
        for attribute in attributes {
            if case .unknown(let type, _) = attribute, type.isComprehensionRequired, !seen.contains(type) {
                seen.append(type)
            }
        }
        return seen
    }

    /// Attribute types that occur more than once, in order of their second occurrence.
    public var duplicateAttributeTypes: [StunAttributeType] {
        // Messages carry a handful of attributes: a quadratic scan beats hashing and allocates
        // nothing unless there is a duplicate.
        var duplicates: [StunAttributeType] = []
        for index in attributes.indices.dropFirst() {
            let type = attributes[index].type
            if !duplicates.contains(type), attributes[..<index].contains(where: { $0.type == type }) {
                duplicates.append(type)
            }
        }
        return duplicates
    }

    public var xorMappedAddress: TransportAddress? {
        if case .xorMappedAddress(let address)? = first(.xorMappedAddress) { return address }
        return nil
    }

    public var mappedAddress: TransportAddress? {
        if case .mappedAddress(let address)? = first(.mappedAddress) { return address }
        return nil
    }

    public var username: String? {
        if case .username(let name)? = first(.username) { return name }
        return nil
    }

    public var realm: String? {
        if case .realm(let realm)? = first(.realm) { return realm }
        return nil
    }

    public var nonce: String? {
        if case .nonce(let nonce)? = first(.nonce) { return nonce }
        return nil
    }

    public var software: String? {
        if case .software(let software)? = first(.software) { return software }
        return nil
    }

    public var errorCode: StunErrorCode? {
        if case .errorCode(let error)? = first(.errorCode) { return error }
        return nil
    }

    /// True when the message carries MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256.
    public var hasIntegrity: Bool {
        attributes.contains { $0.type == .messageIntegrity || $0.type == .messageIntegritySHA256 }
    }

    /// True when the message carries FINGERPRINT (the decoder has already checked it).
    public var hasFingerprint: Bool { attributes.contains { $0.type == .fingerprint } }
}

/// Raw bytes and offsets kept by the decoder for integrity checks (RFC 8489 §14.5, §14.6).
struct IntegrityContext: Sendable, Hashable {
    var raw: [UInt8]
    /// Offset of the MESSAGE-INTEGRITY attribute header.
    var sha1Offset: Int?
    /// Offset of the MESSAGE-INTEGRITY-SHA256 attribute header, and its value length.
    var sha256Offset: Int?
    var sha256Length: Int = 0
}
