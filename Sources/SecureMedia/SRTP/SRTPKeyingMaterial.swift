/// SRTP master keys and salts for one direction each, exported from a DTLS handshake.
///
/// RFC 5764 §4.2: the exporter output (label "EXTRACTOR-dtls_srtp") is laid out as
/// client_write_SRTP_master_key | server_write_SRTP_master_key | client_write_SRTP_master_salt |
/// server_write_SRTP_master_salt. The DTLS client protects what it sends with the client key;
/// ``local`` is what this endpoint sends with, ``remote`` what it receives with.
public struct SRTPKeyingMaterial: Sendable, Hashable, CustomStringConvertible {
    /// A master key and salt.
    public struct Keys: Sendable, Hashable {
        public var key: [UInt8]
        public var salt: [UInt8]

        public init(key: [UInt8], salt: [UInt8]) {
            self.key = key
            self.salt = salt
        }

        /// key ‖ salt, the form libsrtp's policy takes.
        public var concatenated: [UInt8] { key + salt }
    }

    public var profile: SRTPProtectionProfile
    /// Used to protect outgoing SRTP and SRTCP.
    public var local: Keys
    /// Used to unprotect incoming SRTP and SRTCP.
    public var remote: Keys

    public init(profile: SRTPProtectionProfile, local: Keys, remote: Keys) {
        self.profile = profile
        self.local = local
        self.remote = remote
    }

    /// Splits the exporter output per RFC 5764 §4.2 and picks the directions for `isClient`.
    /// Nil when `exported` is not exactly 2 × (key + salt) bytes for `profile`.
    public init?(profile: SRTPProtectionProfile, exported: [UInt8], isClient: Bool) {
        let keyLength = profile.keyLength
        let saltLength = profile.saltLength
        guard exported.count == 2 * (keyLength + saltLength) else { return nil }
        let clientKey = Array(exported[0..<keyLength])
        let serverKey = Array(exported[keyLength..<(2 * keyLength)])
        let clientSalt = Array(exported[(2 * keyLength)..<(2 * keyLength + saltLength)])
        let serverSalt = Array(exported[(2 * keyLength + saltLength)...])
        let client = Keys(key: clientKey, salt: clientSalt)
        let server = Keys(key: serverKey, salt: serverSalt)
        self.init(profile: profile, local: isClient ? client : server, remote: isClient ? server : client)
    }

    /// Names the profile only: keys never go to logs.
    public var description: String { "SRTPKeyingMaterial(\(profile))" }
}
