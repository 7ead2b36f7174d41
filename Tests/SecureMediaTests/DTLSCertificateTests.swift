import COpenSSL
import Testing

@testable import SecureMedia

@Suite("DTLS certificate generation")
struct DTLSCertificateTests {
    @Test("A generated certificate is self-signed P-256 with a SHA-256 fingerprint of its DER bytes")
    func generated() throws {
        let certificate = try DTLSCertificate.generate()
        #expect(certificate.fingerprint.algorithm == "sha-256")
        #expect(certificate.fingerprint.bytes.count == 32)
        var digest = [UInt8](repeating: 0, count: 32)
        var digestLength: UInt32 = 0
        #expect(EVP_Digest(certificate.derBytes, certificate.derBytes.count, &digest, &digestLength, EVP_sha256(), nil) == 1)
        #expect(certificate.fingerprint.bytes == digest)
        #expect(DTLSFingerprint(sdpValue: certificate.fingerprint.sdpValue) == certificate.fingerprint)

        // Self-signed: the certificate's own key verifies its signature.
        let publicKey = try #require(X509_get0_pubkey(certificate.x509))
        #expect(X509_verify(certificate.x509, publicKey) == 1)
        #expect(EVP_PKEY_get_bits(publicKey) == 256)
        var groupName = [CChar](repeating: 0, count: 64)
        var groupLength = 0
        #expect(EVP_PKEY_get_group_name(publicKey, &groupName, groupName.count, &groupLength) == 1)
        #expect(String(decoding: groupName.prefix(groupLength).map { UInt8(bitPattern: $0) }, as: UTF8.self) == "prime256v1")
        // Valid now: notBefore in the past, notAfter in the future.
        #expect(X509_cmp_current_time(X509_get0_notBefore(certificate.x509)) < 0)
        #expect(X509_cmp_current_time(X509_get0_notAfter(certificate.x509)) > 0)
    }

    @Test("Two certificates have different keys, serials and fingerprints")
    func distinct() throws {
        let first = try DTLSCertificate.generate()
        let second = try DTLSCertificate.generate()
        #expect(first.fingerprint != second.fingerprint)
        #expect(ASN1_INTEGER_cmp(X509_get0_serialNumber(first.x509), X509_get0_serialNumber(second.x509)) != 0)
    }

    @Test("The shared certificate is made once")
    func shared() throws {
        let first = try DTLSCertificate.shared()
        let second = try DTLSCertificate.shared()
        #expect(first === second)
    }
}
