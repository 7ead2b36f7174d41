/// The value of an ERROR-CODE attribute (RFC 8489 §14.8): a code 300–699 and a UTF-8 reason.
public struct StunErrorCode: Hashable, Sendable, CustomStringConvertible {
    /// The numeric code, class × 100 + number.
    public var code: Int
    /// The reason phrase (at most 127 characters / 763 bytes, RFC 8489 §14.8).
    public var reason: String

    /// - Parameters:
    ///   - code: 300–699.
    ///   - reason: defaults to the RFC's suggested phrase for the code.
    public init(code: Int, reason: String? = nil) {
        self.code = code
        self.reason = reason ?? StunErrorCode.defaultReason(for: code)
    }

    public static let tryAlternate = StunErrorCode(code: 300)
    public static let badRequest = StunErrorCode(code: 400)
    public static let unauthenticated = StunErrorCode(code: 401)
    public static let forbidden = StunErrorCode(code: 403)
    public static let unknownAttribute = StunErrorCode(code: 420)
    public static let allocationMismatch = StunErrorCode(code: 437)
    public static let staleNonce = StunErrorCode(code: 438)
    public static let addressFamilyNotSupported = StunErrorCode(code: 440)
    public static let wrongCredentials = StunErrorCode(code: 441)
    public static let unsupportedTransportProtocol = StunErrorCode(code: 442)
    public static let peerAddressFamilyMismatch = StunErrorCode(code: 443)
    public static let allocationQuotaReached = StunErrorCode(code: 486)
    public static let roleConflict = StunErrorCode(code: 487)
    public static let serverError = StunErrorCode(code: 500)
    public static let insufficientCapacity = StunErrorCode(code: 508)

    /// Reason phrases suggested by RFC 8489 §14.8, RFC 8656 §19 and RFC 8445 §7.3.1.1.
    public static func defaultReason(for code: Int) -> String {
        switch code {
        case 300: "Try Alternate"
        case 400: "Bad Request"
        case 401: "Unauthenticated"
        case 403: "Forbidden"
        case 420: "Unknown Attribute"
        case 437: "Allocation Mismatch"
        case 438: "Stale Nonce"
        case 440: "Address Family not Supported"
        case 441: "Wrong Credentials"
        case 442: "Unsupported Transport Protocol"
        case 443: "Peer Address Family Mismatch"
        case 486: "Allocation Quota Reached"
        case 487: "Role Conflict"
        case 500: "Server Error"
        case 508: "Insufficient Capacity"
        default: ""
        }
    }

    public var description: String { reason.isEmpty ? "\(code)" : "\(code) \(reason)" }
}

/// A password algorithm and its parameters (RFC 8489 §14.11, §14.12, §18.5).
public struct PasswordAlgorithm: Hashable, Sendable, CustomStringConvertible {
    public var number: UInt16
    public var parameters: [UInt8]

    public init(number: UInt16, parameters: [UInt8] = []) {
        self.number = number
        self.parameters = parameters
    }

    public static let md5 = PasswordAlgorithm(number: 0x0001)
    public static let sha256 = PasswordAlgorithm(number: 0x0002)

    public var description: String {
        switch number {
        case 1: "MD5"
        case 2: "SHA-256"
        default: "algorithm \(number)"
        }
    }
}
