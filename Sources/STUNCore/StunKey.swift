import Crypto
import Foundation

/// The key for MESSAGE-INTEGRITY and MESSAGE-INTEGRITY-SHA256 (RFC 8489 §9.1.1, §9.2.2).
public struct StunKey: Hashable, Sendable {
    /// The HMAC key bytes.
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// Short-term credential key: the OpaqueString-processed password (RFC 8489 §9.1.1).
    /// ICE uses the remote ufrag/password this way (RFC 8445 §7.2.2).
    public static func shortTerm(password: String) -> StunKey {
        StunKey(bytes: Array(opaqueString(password).utf8))
    }

    /// Long-term credential key (RFC 8489 §9.2.2):
    /// `MD5(username ":" OpaqueString(realm) ":" OpaqueString(password))`, or the same with
    /// SHA-256 when the SHA-256 password algorithm is in use (§18.5).
    public static func longTerm(
        username: String, realm: String, password: String, algorithm: PasswordAlgorithm = .md5
    ) -> StunKey {
        let input = Array("\(username):\(opaqueString(realm)):\(opaqueString(password))".utf8)
        if algorithm.number == PasswordAlgorithm.sha256.number {
            return StunKey(bytes: Array(SHA256.hash(data: input)))
        }
        return StunKey(bytes: Array(Insecure.MD5.hash(data: input)))
    }

    /// USERHASH value: `SHA-256(OpaqueString(username) ":" OpaqueString(realm))` (RFC 8489 §14.4).
    public static func userhash(username: String, realm: String) -> [UInt8] {
        Array(SHA256.hash(data: Array("\(opaqueString(username)):\(opaqueString(realm))".utf8)))
    }

    /// The mapping and normalisation of the PRECIS OpaqueString profile (RFC 8265 §4.2.2):
    /// non-ASCII spaces become U+0020, then NFC. Characters the profile disallows are passed
    /// through rather than rejected; credentials come from configuration, not from the wire.
    public static func opaqueString(_ text: String) -> String {
        let mapped = String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
            scalar.properties.generalCategory == .spaceSeparator ? " " : scalar
        }))
        return mapped.precomposedStringWithCanonicalMapping
    }
}
