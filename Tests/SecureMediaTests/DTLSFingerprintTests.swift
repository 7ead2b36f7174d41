import Testing

@testable import SecureMedia

@Suite("DTLS fingerprint attribute values")
struct DTLSFingerprintTests {
    @Test("A Chromium fingerprint value parses and prints back in uppercase")
    func roundTrip() throws {
        let value = "sha-256 2B:1D:7A:0C:aa:ff:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"
        let fingerprint = try #require(DTLSFingerprint(sdpValue: value))
        #expect(fingerprint.algorithm == "sha-256")
        #expect(fingerprint.bytes.count == 32)
        #expect(fingerprint.bytes[4] == 0xAA)
        #expect(fingerprint.sdpValue == value.uppercased().replacingOccurrences(of: "SHA-256", with: "sha-256"))
    }

    @Test("Malformed hex is refused", arguments: ["sha-256 2B:1", "sha-256 2B::1D", "sha-256 ZZ", "sha-256", "2B:1D", ""])
    func malformed(value: String) {
        #expect(DTLSFingerprint(sdpValue: value) == nil)
    }
}
