/// The class of a STUN message (RFC 8489 §5: C1 and C0 bits).
public enum StunClass: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case request = 0b00
    case indication = 0b01
    case successResponse = 0b10
    case errorResponse = 0b11

    public var description: String {
        switch self {
        case .request: "request"
        case .indication: "indication"
        case .successResponse: "success response"
        case .errorResponse: "error response"
        }
    }

    /// True for success and error responses.
    public var isResponse: Bool { self == .successResponse || self == .errorResponse }
}

/// A 12-bit STUN method (RFC 8489 §5, §18.2; RFC 8656 §17; RFC 6062 §6.1).
public struct StunMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16

    /// - Parameter rawValue: the method number; only the low 12 bits are kept.
    public init(rawValue: UInt16) { self.rawValue = rawValue & 0x0FFF }

    public static let binding = StunMethod(rawValue: 0x001)
    public static let allocate = StunMethod(rawValue: 0x003)
    public static let refresh = StunMethod(rawValue: 0x004)
    public static let send = StunMethod(rawValue: 0x006)
    public static let data = StunMethod(rawValue: 0x007)
    public static let createPermission = StunMethod(rawValue: 0x008)
    public static let channelBind = StunMethod(rawValue: 0x009)
    public static let connect = StunMethod(rawValue: 0x00A)
    public static let connectionBind = StunMethod(rawValue: 0x00B)
    public static let connectionAttempt = StunMethod(rawValue: 0x00C)

    public var description: String {
        switch self {
        case .binding: "Binding"
        case .allocate: "Allocate"
        case .refresh: "Refresh"
        case .send: "Send"
        case .data: "Data"
        case .createPermission: "CreatePermission"
        case .channelBind: "ChannelBind"
        case .connect: "Connect"
        case .connectionBind: "ConnectionBind"
        case .connectionAttempt: "ConnectionAttempt"
        default: "0x" + String(rawValue, radix: 16)
        }
    }
}

/// The 14-bit message type field: method bits interleaved with the class bits (RFC 8489 §5, Figure 3).
public struct StunMessageType: Hashable, Sendable, CustomStringConvertible {
    public var method: StunMethod
    public var messageClass: StunClass

    public init(method: StunMethod, messageClass: StunClass) {
        self.method = method
        self.messageClass = messageClass
    }

    /// Decodes the 16-bit type field; the two most significant bits must be zero (RFC 8489 §5).
    public init?(rawValue: UInt16) {
        guard rawValue & 0xC000 == 0 else { return nil }
        let m = (rawValue & 0x000F) | ((rawValue & 0x00E0) >> 1) | ((rawValue & 0x3E00) >> 2)
        let c = ((rawValue & 0x0010) >> 4) | ((rawValue & 0x0100) >> 7)
        self.method = StunMethod(rawValue: m)
        self.messageClass = StunClass(rawValue: UInt8(c))!
    }

    /// The 16-bit type field as sent.
    public var rawValue: UInt16 {
        let m = method.rawValue
        let c = UInt16(messageClass.rawValue)
        return (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 0x1) << 4) | ((c & 0x2) << 7)
    }

    public var description: String { "\(method) \(messageClass)" }
}

/// The 96-bit transaction id (RFC 8489 §6: "uniformly and randomly chosen from the interval 0 .. 2**96-1").
public struct TransactionID: Hashable, Sendable, CustomStringConvertible {
    /// The first 8 bytes, big-endian.
    public var high: UInt64
    /// The last 4 bytes, big-endian.
    public var low: UInt32

    public init(high: UInt64, low: UInt32) {
        self.high = high
        self.low = low
    }

    /// - Returns: nil unless exactly 12 bytes are given.
    public init?<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        guard bytes.count == 12 else { return nil }
        var high: UInt64 = 0, low: UInt32 = 0
        for (index, byte) in bytes.enumerated() {
            if index < 8 { high = (high << 8) | UInt64(byte) } else { low = (low << 8) | UInt32(byte) }
        }
        self.init(high: high, low: low)
    }

    /// A fresh id from a cryptographically secure generator by default.
    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> TransactionID {
        TransactionID(high: generator.next(), low: UInt32(truncatingIfNeeded: generator.next() as UInt64))
    }

    /// A fresh id from the system's secure generator.
    public static func random() -> TransactionID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// The 12 bytes as sent.
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(12)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: high >> UInt64(shift))) }
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: low >> UInt32(shift))) }
        return out
    }

    public var description: String { bytes.map { hex2($0) }.joined() }
}

@inline(__always)
func hex2(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}

/// The fixed magic cookie (RFC 8489 §5).
public let stunMagicCookie: UInt32 = 0x2112_A442
