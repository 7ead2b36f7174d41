import COpenSSL
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import SecureMedia

/// Interop over real UDP on loopback with the `openssl s_server` command (its own datagram
/// BIO, timers and key export), not with a second DTLSEndpoint: checks our record packing,
/// use_srtp negotiation and the RFC 5764 §4.2 key layout against what OpenSSL's tool prints.
@Suite("DTLS against openssl s_server over loopback UDP", .timeLimit(.minutes(1)))
struct DTLSOpenSSLTransportTests {
    static func writeDER(_ certificate: DTLSCertificate, to directory: URL) throws -> (cert: URL, key: URL) {
        let certURL = directory.appendingPathComponent("cert.der")
        let keyURL = directory.appendingPathComponent("key.der")
        try Data(certificate.derBytes).write(to: certURL)
        let length = i2d_PrivateKey(certificate.privateKey, nil)
        #expect(length > 0)
        var key = [UInt8](repeating: 0, count: Int(length))
        _ = key.withUnsafeMutableBufferPointer { buffer in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_PrivateKey(certificate.privateKey, &cursor)
        }
        try Data(key).write(to: keyURL)
        return (certURL, keyURL)
    }

    @Test("Our client connects to openssl s_server, exports the same keys and sends data", arguments: SRTPProtectionProfile.allCases)
    func clientAgainstOpenSSLServer(profile: SRTPProtectionProfile) async throws {
        let serverCertificate = try DTLSCertificate.generate(commonName: "openssl-s-server")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dtls-interop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let files = try Self.writeDER(serverCertificate, to: directory)

        let keyLength = 2 * (profile.keyLength + profile.saltLength)
        let process = try TestChildProcess(
            [
                "/usr/bin/openssl", "s_server", "-dtls1_2", "-accept", "127.0.0.1:0", "-naccept", "1",
                "-certform", "DER", "-cert", files.cert.path, "-keyform", "DER", "-key", files.key.path,
                "-use_srtp", profile.openSSLName, "-keymatexport", "EXTRACTOR-dtls_srtp",
                "-keymatexportlen", "\(keyLength)", "-Verify", "1",
            ],
            errorOutput: .standardOutput)  // stdin stays open: s_server stops at EOF on stdin
        defer { process.killGroup() }
        let banner = try #require(await process.waitForOutput(containing: "ACCEPT 127.0.0.1:", timeout: .seconds(30)))
        let portText = banner.split(separator: "ACCEPT 127.0.0.1:")[1].prefix { $0.isNumber }
        let port = try #require(Int(portText))

        let endpoint = try DTLSEndpoint(
            role: .client, certificate: DTLSTestCertificates.client,
            remoteFingerprints: [serverCertificate.fingerprint]
        )
        let group = MultiThreadedEventLoopGroup.singleton
        let server = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        let channel = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                    wrappingChannelSynchronously: channel
                )
            }
        }
        let message = "hello from pod arcade \(profile)"
        try await channel.executeThenClose { inbound, outbound in
            func send(_ result: DTLSOutput) async throws {
                for datagram in result.datagrams {
                    #expect(datagram.readableBytes <= endpoint.mtu)
                    try await outbound.write(AddressedEnvelope(remoteAddress: server, data: datagram))
                }
            }
            try await send(endpoint.start(now: .now()))
            var datagrams = inbound.makeAsyncIterator()
            while endpoint.state == .connecting, let envelope = try await datagrams.next() {
                try await send(endpoint.receive(envelope.data, now: .now()))
            }
            try #require(endpoint.state == .connected)
            try await send(endpoint.writeApplicationData(ByteBuffer(string: message + "\n"), now: .now()))
            try await send(endpoint.close(now: .now()))
        }

        let keys = try #require(endpoint.keyingMaterial)
        #expect(keys.profile == profile)
        let printed = try #require(await process.waitForOutput(containing: message, timeout: .seconds(30)))
        #expect(printed.contains("SRTP Extension negotiated, profile=\(profile.openSSLName)"))
        // RFC 5764 §4.2 order: client key, server key, client salt, server salt (we are the client).
        let expected = keys.local.key + keys.remote.key + keys.local.salt + keys.remote.salt
        let hex = expected.map { String(format: "%02X", $0) }.joined()
        #expect(printed.contains("Keying material: \(hex)"))
        await process.stop(grace: .seconds(2))
    }
}
