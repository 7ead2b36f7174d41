/// Why a connection is refused: its client id, its username or its credentials.
///
/// Match on ``code``; ``reason`` is for logs. ``reasonCodeRawValue`` is the MQTT 5.0 CONNACK
/// reason code (§3.2.2.2) and ``connectReturnCodeV311`` the MQTT 3.1.1 return code (§3.2.2.3),
/// so the broker maps it without this file depending on the codec.
///
/// Wrong and missing passwords both map to Bad User Name or Password (0x86; 3.1.1: 0x04):
/// the original web client shows its "invalid credentials" prompt for 0x86 and for the 3.1.1
/// code 5, not for 0x87, and a missing password is a credential the user can fix. Not
/// Authorized (0x87; 3.1.1: 0x05) is kept for what no credential can fix: authentication is
/// required but no key is configured for this kind of client.
public struct PodArcadeAccessError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case clientIdentifierNotValid, invalidDesktopUsername, missingPassword, wrongPassword, invalidToken, notConfigured
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The client id does not begin with `desktop:` or `user:` followed by at least one
        /// character. Maps to 0x85 Client Identifier not valid (3.1.1: 0x02).
        public static let clientIdentifierNotValid = Code(.clientIdentifierNotValid)
        /// A desktop's username is missing or not a valid ``DesktopID``. Maps to 0x86 Bad User
        /// Name or Password (3.1.1: 0x04): the user name is malformed.
        public static let invalidDesktopUsername = Code(.invalidDesktopUsername)
        /// Authentication is required and no password was sent. Maps to 0x86 (3.1.1: 0x04).
        public static let missingPassword = Code(.missingPassword)
        /// The password is not the configured key. Maps to 0x86 (3.1.1: 0x04).
        public static let wrongPassword = Code(.wrongPassword)
        /// The password is not an OpenID Connect id token this server accepts (bad signature,
        /// unknown key, wrong issuer or audience, expired, or its subject does not match the
        /// username). Maps to 0x86 (3.1.1: 0x04): the user can log in again.
        public static let invalidToken = Code(.invalidToken)
        /// Authentication is required but no key is configured for this kind of client
        /// (`DESKTOP_PSK` for desktops, `CLIENT_PSK` for users). Maps to 0x87 Not authorized
        /// (3.1.1: 0x05).
        public static let notConfigured = Code(.notConfigured)

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// A sentence for logs; never contains a key or password.
    public let reason: String

    public init(_ code: Code, reason: String) {
        self.code = code
        self.reason = reason
    }

    /// The MQTT 5.0 CONNACK reason code: 0x85, 0x86 or 0x87.
    public var reasonCodeRawValue: UInt8 {
        switch code {
        case .clientIdentifierNotValid: 0x85
        case .notConfigured: 0x87
        default: 0x86
        }
    }

    /// Whether this maps to Bad User Name or Password (0x86).
    public var isBadUserNameOrPassword: Bool { reasonCodeRawValue == 0x86 }

    /// The MQTT 3.1.1 CONNACK return code by the plain mapping: 0x02 identifier rejected, 0x04
    /// bad user name or password, 0x05 not authorized. The Pod Arcade broker sends 0x05 for
    /// credential errors instead (``PodArcadeBrokerPolicy/refusalCode(for:version:)``).
    public var connectReturnCodeV311: UInt8 {
        switch reasonCodeRawValue {
        case 0x85: 0x02
        case 0x87: 0x05
        default: 0x04
        }
    }

    public var description: String { "connection refused (\(code)): \(reason)" }
}
