import COpenSSL
import Synchronization

/// An ECDSA P-256 key pair and a self-signed X.509 certificate for DTLS, with its SHA-256
/// fingerprint for the SDP `a=fingerprint` attribute.
///
/// RFC 8827 §6.5 / RFC 8122 §5: WebRTC endpoints authenticate each other by the certificate
/// fingerprint carried in signaling, so the certificate is self-signed. One per process is the
/// intended use (``shared()``); it is immutable after creation, so it is safe to share between
/// event loops (OpenSSL reference-counts the key and certificate it is given).
public final class DTLSCertificate: @unchecked Sendable {
    // Both handles are read-only after init; OpenSSL's X509/EVP_PKEY are safe to use from many
    // threads once built (their reference counts are atomic).
    let x509: OpaquePointer
    let privateKey: OpaquePointer

    /// SHA-256 over the DER certificate.
    public let fingerprint: DTLSFingerprint
    /// The certificate in DER form.
    public let derBytes: [UInt8]

    private init(x509: OpaquePointer, privateKey: OpaquePointer, fingerprint: DTLSFingerprint, der: [UInt8]) {
        self.x509 = x509
        self.privateKey = privateKey
        self.fingerprint = fingerprint
        self.derBytes = der
    }

    deinit {
        X509_free(x509)
        EVP_PKEY_free(privateKey)
    }

    /// Makes a fresh key pair and certificate: CN "pod-arcade", a random 63-bit serial, valid
    /// from one day ago to 30 days ahead, signed with ECDSA-SHA256.
    public static func generate(commonName: String = "pod-arcade") throws(DTLSError) -> DTLSCertificate {
        guard let key = makeP256Key() else {
            throw DTLSError(.certificateGeneration, detail: "P-256 key: \(OpenSSLErrors.drain())")
        }
        guard let x509 = X509_new() else {
            EVP_PKEY_free(key)
            throw DTLSError(.certificateGeneration, detail: "X509_new")
        }
        func fail(_ step: String) -> DTLSError {
            X509_free(x509)
            EVP_PKEY_free(key)
            return DTLSError(.certificateGeneration, detail: "\(step): \(OpenSSLErrors.drain())")
        }
        guard X509_set_version(x509, Int(X509_VERSION_3)) == 1 else { throw fail("version") }

        var serialBytes = [UInt8](repeating: 0, count: 8)
        guard RAND_bytes(&serialBytes, Int32(serialBytes.count)) == 1 else { throw fail("serial") }
        var serial: UInt64 = 0
        for byte in serialBytes { serial = serial << 8 | UInt64(byte) }
        serial &= 0x7FFF_FFFF_FFFF_FFFF  // RFC 5280 §4.1.2.2: positive
        if serial == 0 { serial = 1 }
        guard ASN1_INTEGER_set_uint64(X509_get_serialNumber(x509), serial) == 1 else { throw fail("serial") }

        // X509_gmtime_adj reads the wall clock inside OpenSSL; certificates are not engines.
        guard X509_gmtime_adj(X509_getm_notBefore(x509), -86_400) != nil,
            X509_gmtime_adj(X509_getm_notAfter(x509), 30 * 86_400) != nil
        else { throw fail("validity") }

        guard let name = X509_get_subject_name(x509),
            X509_NAME_add_entry_by_txt(name, "CN", pa_MBSTRING_ASC(), commonName, -1, -1, 0) == 1,
            X509_set_issuer_name(x509, name) == 1
        else { throw fail("name") }
        guard X509_set_pubkey(x509, key) == 1 else { throw fail("public key") }
        guard X509_sign(x509, key, EVP_sha256()) > 0 else { throw fail("signature") }

        guard let digest = sha256Fingerprint(of: x509), let der = derEncoding(of: x509) else {
            throw fail("fingerprint")
        }
        return DTLSCertificate(x509: x509, privateKey: key, fingerprint: digest, der: der)
    }

    /// A certificate made on first use and kept for the life of the process.
    public static func shared() throws(DTLSError) -> DTLSCertificate {
        try sharedStorage.withLock { (stored: inout DTLSCertificate?) throws(DTLSError) -> DTLSCertificate in
            if let stored { return stored }
            let made = try DTLSCertificate.generate()
            stored = made
            return made
        }
    }

    private static let sharedStorage = Mutex<DTLSCertificate?>(nil)

    private static func makeP256Key() -> OpaquePointer? {
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else { return nil }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1,
            EVP_PKEY_CTX_set_group_name(context, "P-256") == 1
        else { return nil }
        var key: OpaquePointer?
        guard EVP_PKEY_generate(context, &key) == 1 else { return nil }
        return key
    }

    static func sha256Fingerprint(of x509: OpaquePointer) -> DTLSFingerprint? {
        digest(of: x509, algorithm: "sha-256").map { DTLSFingerprint(algorithm: "sha-256", bytes: $0) }
    }

    /// The digest of a certificate with the hash an SDP fingerprint names (RFC 8122 §5:
    /// sha-1, sha-224, sha-256, sha-384, sha-512, md5, md2); nil for names OpenSSL lacks.
    static func digest(of x509: OpaquePointer, algorithm: String) -> [UInt8]? {
        let openSSLName: String
        switch algorithm.lowercased() {
        case "sha-1": openSSLName = "SHA1"
        case "sha-224": openSSLName = "SHA224"
        case "sha-256": openSSLName = "SHA256"
        case "sha-384": openSSLName = "SHA384"
        case "sha-512": openSSLName = "SHA512"
        case "md5": openSSLName = "MD5"
        default: return nil
        }
        guard let md = EVP_get_digestbyname(openSSLName) else { return nil }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(x509, md, &out, &length) == 1 else { return nil }
        return Array(out[0..<Int(length)])
    }

    private static func derEncoding(of x509: OpaquePointer) -> [UInt8]? {
        let length = i2d_X509(x509, nil)
        guard length > 0 else { return nil }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_X509(x509, &cursor)
        }
        return written == length ? der : nil
    }
}

/// OpenSSL's per-thread error queue as text.
enum OpenSSLErrors {
    /// Takes every queued error, oldest first, and clears the queue.
    static func drain() -> String {
        var parts: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            parts.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return parts.joined(separator: "; ")
    }
}
