/// An ICE username fragment and password (RFC 8445 §5.3, RFC 8839 §5.4).
///
/// `ice-ufrag` is 4–256 ice-chars and `ice-pwd` 22–256 ice-chars, where
/// `ice-char = ALPHA / DIGIT / "+" / "/"`; each must carry at least 24 and 128 bits of
/// randomness respectively, which ``random(using:)`` provides.
public struct IceCredentials: Hashable, Sendable, CustomStringConvertible {
    public let usernameFragment: String
    public let password: String

    /// - Throws: ``IceCredentialsError`` when either value breaks the §5.3 limits.
    public init(usernameFragment: String, password: String) throws(IceCredentialsError) {
        guard (4...256).contains(usernameFragment.utf8.count),
            usernameFragment.utf8.allSatisfy(IceCredentials.isIceChar)
        else { throw IceCredentialsError.invalidUsernameFragment }
        guard (22...256).contains(password.utf8.count), password.utf8.allSatisfy(IceCredentials.isIceChar) else {
            throw IceCredentialsError.invalidPassword
        }
        self.usernameFragment = usernameFragment
        self.password = password
    }

    /// Fresh credentials: an 8-character ufrag (48 bits) and a 24-character password (144 bits).
    /// - Parameter generator: the random source; pass a seeded one in tests.
    public static func random(using generator: inout some RandomNumberGenerator) -> IceCredentials {
        func text(_ count: Int) -> String {
            String(decoding: (0..<count).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] },
                   as: UTF8.self)
        }
        let ufrag = text(8)
        let password = text(24)
        // Both are made of ice-chars within the limits, so the checked initializer cannot fail.
        return IceCredentials(unchecked: ufrag, password)
    }

    /// Fresh credentials from the system's secure generator.
    public static func random() -> IceCredentials {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    private init(unchecked ufrag: String, _ password: String) {
        self.usernameFragment = ufrag
        self.password = password
    }

    /// The password is not printed.
    public var description: String { "ufrag \(usernameFragment)" }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// `ice-char = ALPHA / DIGIT / "+" / "/"` (RFC 8839 §5.1).
    static func isIceChar(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
            || byte == 0x2B || byte == 0x2F
    }
}

/// Why credentials were refused (RFC 8445 §5.3).
public enum IceCredentialsError: Error, Hashable, Sendable {
    /// The ufrag is not 4–256 ice-chars.
    case invalidUsernameFragment
    /// The password is not 22–256 ice-chars.
    case invalidPassword
}
