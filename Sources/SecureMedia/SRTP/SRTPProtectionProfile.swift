/// An SRTP protection profile negotiated by the DTLS `use_srtp` extension.
///
/// RFC 5764 §4.1.2 registers SRTP_AES128_CM_HMAC_SHA1_80 (0x0001); RFC 7714 §14.2 adds
/// SRTP_AEAD_AES_128_GCM (0x0007). Key and salt lengths: RFC 5764 §4.1.2 (128-bit key,
/// 112-bit salt) and RFC 7714 §12 (128-bit key, 96-bit salt).
public enum SRTPProtectionProfile: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// AES-128 in Galois/Counter Mode, 16-byte tag (RFC 7714). Preferred.
    case aeadAES128GCM
    /// AES-128 counter mode with an 80-bit HMAC-SHA1 tag (RFC 3711 default, RFC 5764).
    case aes128CMHMACSHA1_80

    /// The two-byte identifier in the use_srtp extension.
    public var id: UInt16 {
        switch self {
        case .aeadAES128GCM: 0x0007
        case .aes128CMHMACSHA1_80: 0x0001
        }
    }

    /// The profile name OpenSSL's `SSL_CTX_set_tlsext_use_srtp` understands.
    public var openSSLName: String {
        switch self {
        case .aeadAES128GCM: "SRTP_AEAD_AES_128_GCM"
        case .aes128CMHMACSHA1_80: "SRTP_AES128_CM_SHA1_80"
        }
    }

    /// Master key length in bytes.
    public var keyLength: Int { 16 }

    /// Master salt length in bytes.
    public var saltLength: Int {
        switch self {
        case .aeadAES128GCM: 12
        case .aes128CMHMACSHA1_80: 14
        }
    }

    /// Bytes an SRTP packet grows by (the authentication tag).
    public var rtpTagLength: Int {
        switch self {
        case .aeadAES128GCM: 16
        case .aes128CMHMACSHA1_80: 10
        }
    }

    public init?(id: UInt16) {
        guard let profile = Self.allCases.first(where: { $0.id == id }) else { return nil }
        self = profile
    }

    public var description: String { openSSLName }
}
