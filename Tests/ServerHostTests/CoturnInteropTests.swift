import Foundation
import NIOCore
import NIOPosix
import STUNCore
import Testing

/// Our client transaction against coturn's STUN server (Debian `coturn`, started here on loopback).
@Suite(.serialized) struct CoturnInteropTests {
    /// The path of an executable on PATH, or nil.
    static func which(_ name: String) -> String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") + ["/usr/bin", "/usr/sbin"]
        return paths.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func freeUDPPort() async throws -> Int {
        let probe = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = probe.localAddress!.port!
        try await probe.close()
        return port
    }

    @Test(arguments: ["127.0.0.1", "::1"])
    func ourClientTransactionGetsTheMappedAddressFromCoturn(host: String) async throws {
        let turnserver = try #require(Self.which("turnserver"), "coturn's turnserver is not installed: run `make deps` (apt-get install coturn)")
        let port = try await Self.freeUDPPort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("coturn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: turnserver)
        process.arguments = [
            "-n", "--stun-only", "--no-cli", "--no-tls", "--no-dtls", "--no-rfc5780",
            "--listening-ip", host, "--listening-port", "\(port)",
            "--pidfile", directory.appendingPathComponent("turnserver.pid").path,
            "--log-file", directory.appendingPathComponent("turnserver.log").path, "--no-stdout-log",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            // coturn ignores SIGTERM for a long while; SIGKILL so waitUntilExit cannot block a test thread.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        // Our RFC 8489 transaction retransmits until coturn is up; 100 ms RTO, ~6 s budget.
        let configuration = StunClientTransaction.Configuration(initialRTO: .milliseconds(100), maxTransmissions: 7, lastWaitMultiplier: 16)
        let server = try SocketAddress(ipAddress: host, port: port)
        let (response, local, _) = try await bindingTransaction(to: server, from: host, configuration: configuration)
        #expect(response.messageClass == .successResponse)
        #expect(response.xorMappedAddress == TransportAddress(local))
    }
}
