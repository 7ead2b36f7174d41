/// A STUN attribute type code (RFC 8489 §14, §18.3; RFC 8656 §18; RFC 5780 §7; RFC 8445 §16.1).
public struct StunAttributeType: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt16

    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// Types 0x0000–0x7FFF are comprehension-required: a receiver that does not know one must
    /// fail the message (RFC 8489 §14).
    public var isComprehensionRequired: Bool { rawValue < 0x8000 }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    // RFC 8489 §18.3.1 (comprehension-required)
    public static let mappedAddress = Self(0x0001)
    public static let username = Self(0x0006)
    public static let messageIntegrity = Self(0x0008)
    public static let errorCode = Self(0x0009)
    public static let unknownAttributes = Self(0x000A)
    public static let realm = Self(0x0014)
    public static let nonce = Self(0x0015)
    public static let messageIntegritySHA256 = Self(0x001C)
    public static let passwordAlgorithm = Self(0x001D)
    public static let userhash = Self(0x001E)
    public static let xorMappedAddress = Self(0x0020)
    // RFC 8489 §18.3.2 (comprehension-optional)
    public static let passwordAlgorithms = Self(0x8002)
    public static let alternateDomain = Self(0x8003)
    public static let software = Self(0x8022)
    public static let alternateServer = Self(0x8023)
    public static let fingerprint = Self(0x8028)
    // RFC 8445 §16.1
    public static let priority = Self(0x0024)
    public static let useCandidate = Self(0x0025)
    public static let iceControlled = Self(0x8029)
    public static let iceControlling = Self(0x802A)
    // RFC 8656 §18
    public static let channelNumber = Self(0x000C)
    public static let lifetime = Self(0x000D)
    public static let xorPeerAddress = Self(0x0012)
    public static let data = Self(0x0013)
    public static let xorRelayedAddress = Self(0x0016)
    public static let requestedAddressFamily = Self(0x0017)
    public static let evenPort = Self(0x0018)
    public static let requestedTransport = Self(0x0019)
    public static let dontFragment = Self(0x001A)
    public static let reservationToken = Self(0x0022)
    public static let additionalAddressFamily = Self(0x8000)
    public static let addressErrorCode = Self(0x8001)
    public static let icmp = Self(0x8004)
    // RFC 5780 §7
    public static let changeRequest = Self(0x0003)
    public static let padding = Self(0x0026)
    public static let responsePort = Self(0x0027)
    public static let responseOrigin = Self(0x802B)
    public static let otherAddress = Self(0x802C)

    static let names: [UInt16: String] = [
        0x0001: "MAPPED-ADDRESS", 0x0003: "CHANGE-REQUEST", 0x0006: "USERNAME", 0x0008: "MESSAGE-INTEGRITY",
        0x0009: "ERROR-CODE", 0x000A: "UNKNOWN-ATTRIBUTES", 0x000C: "CHANNEL-NUMBER", 0x000D: "LIFETIME",
        0x0012: "XOR-PEER-ADDRESS", 0x0013: "DATA", 0x0014: "REALM", 0x0015: "NONCE",
        0x0016: "XOR-RELAYED-ADDRESS", 0x0017: "REQUESTED-ADDRESS-FAMILY", 0x0018: "EVEN-PORT",
        0x0019: "REQUESTED-TRANSPORT", 0x001A: "DONT-FRAGMENT", 0x001C: "MESSAGE-INTEGRITY-SHA256",
        0x001D: "PASSWORD-ALGORITHM", 0x001E: "USERHASH", 0x0020: "XOR-MAPPED-ADDRESS",
        0x0022: "RESERVATION-TOKEN", 0x0024: "PRIORITY", 0x0025: "USE-CANDIDATE", 0x0026: "PADDING",
        0x0027: "RESPONSE-PORT", 0x8000: "ADDITIONAL-ADDRESS-FAMILY", 0x8001: "ADDRESS-ERROR-CODE",
        0x8002: "PASSWORD-ALGORITHMS", 0x8003: "ALTERNATE-DOMAIN", 0x8004: "ICMP", 0x8022: "SOFTWARE",
        0x8023: "ALTERNATE-SERVER", 0x8028: "FINGERPRINT", 0x8029: "ICE-CONTROLLED", 0x802A: "ICE-CONTROLLING",
        0x802B: "RESPONSE-ORIGIN", 0x802C: "OTHER-ADDRESS",
    ]

    /// True when this library decodes the attribute into a typed value.
    public var isKnown: Bool { Self.names[rawValue] != nil }

    public var description: String {
        Self.names[rawValue] ?? "0x" + String(rawValue, radix: 16, uppercase: true)
    }
}
