import Crypto
public import Foundation
public import NIOSSL
import SwiftASN1
import X509

/// The HTTPS server's certificate chain and key: read from `TLS_CERT`/`TLS_KEY`, or a
/// self-signed ECDSA P-256 certificate generated at start-up (config.md).
public struct TLSMaterial: Sendable {
    public let certificateChain: [NIOSSLCertificate]
    public let privateKey: NIOSSLPrivateKey
    /// SHA-256 of the leaf certificate's DER, as colon-separated upper-case hex (what browsers
    /// and `openssl x509 -fingerprint -sha256` show).
    public let fingerprint: String
    /// Whether the certificate was generated here.
    public let generated: Bool

    /// The NIOSSL server configuration.
    public var serverConfiguration: TLSConfiguration {
        TLSConfiguration.makeServerConfiguration(
            certificateChain: certificateChain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
    }

    /// Reads PEM files and checks that the key belongs to the certificate.
    /// - Throws: ``ConfigurationError`` naming `TLS_CERT` or `TLS_KEY`.
    public static func load(certificatePath: String, keyPath: String) throws(ConfigurationError) -> TLSMaterial {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw ConfigurationError(variable: "TLS_CERT", value: certificatePath, expected: "a readable PEM certificate file (\(error))")
        }
        guard let leaf = chain.first else {
            throw ConfigurationError(variable: "TLS_CERT", value: certificatePath, expected: "a PEM file holding at least one certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw ConfigurationError(variable: "TLS_KEY", value: keyPath, expected: "a readable, unencrypted PEM private key file (\(error))")
        }
        let material: TLSMaterial
        do {
            material = TLSMaterial(
                certificateChain: chain, privateKey: key, fingerprint: fingerprint(der: try leaf.toDERBytes()), generated: false)
            // Building a context checks that the key matches the certificate.
            _ = try NIOSSLContext(configuration: material.serverConfiguration)
        } catch {
            throw ConfigurationError(variable: "TLS_KEY", value: keyPath, expected: "the private key of the certificate in TLS_CERT (\(error))")
        }
        return material
    }

    /// A self-signed certificate for `localhost`, 127.0.0.1 and ::1 (plus `hostNames`), valid
    /// from an hour before `now` for a year, with a new P-256 key.
    /// - Returns: the material and the PEM texts (certificate, key).
    public static func generateSelfSigned(now: Date, hostNames: [String] = []) throws -> (TLSMaterial, certificatePEM: String, keyPEM: String) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("Pod Arcade")
            CommonName("pod-arcade-server")
        }
        var alternativeNames: [GeneralName] = [.dnsName("localhost")]
        alternativeNames += hostNames.map { .dnsName($0) }
        alternativeNames.append(.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])))
        alternativeNames.append(.ipAddress(ASN1OctetString(contentBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])))
        let extensions = try Certificate.Extensions {
            // No KeyUsage: with one that lacks keyCertSign, OpenSSL and BoringSSL do not treat the
            // certificate as self-signed, so a client that trusts this very certificate (a
            // desktop given the PEM) could not verify it.
            Critical(BasicConstraints.notCertificateAuthority)
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames(alternativeNames)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(365 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
            issuerPrivateKey: .init(key))
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        let der = serializer.serializedBytes
        let certificatePEM = try certificate.serializeAsPEM().pemString
        let keyPEM = key.pemRepresentation
        let material = TLSMaterial(
            certificateChain: [try NIOSSLCertificate(bytes: der, format: .der)],
            privateKey: try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem),
            fingerprint: fingerprint(der: der), generated: true)
        return (material, certificatePEM, keyPEM)
    }

    static func fingerprint(der: [UInt8]) -> String {
        SHA256.hash(data: der).map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }
}
