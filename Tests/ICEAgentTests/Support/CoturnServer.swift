import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// A coturn `turnserver` started on free loopback ports for one test, with long-term credentials
/// `u:p` in realm `r`, killed by ``stop()``.
final class CoturnServer: @unchecked Sendable {
    // @unchecked: fields are set once in init; `process` is only touched by `stop()`.

    struct Options {
        var user = "u"
        var password = "p"
        var realm = "r"
        /// Listening and relay address: 127.0.0.1 or ::1.
        var host = "127.0.0.1"
        /// More listening addresses (on the same ports), e.g. ::1 next to 127.0.0.1 for clients
        /// that resolve `localhost` to either.
        var extraListeningIPs: [String] = []
        /// Caps every allocation's lifetime (`--max-allocate-lifetime`; coturn 4.6.1 grants this
        /// even when the client asks for less or nothing).
        var maxAllocateLifetime: Int?
        var permissionLifetime: Int?
        var channelLifetime: Int?
        /// Nonce lifetime in seconds (`--stale-nonce`); requests after it get 438.
        var staleNonce: Int?
        var tls = false
        /// The certificate's subjectAltName. swift-nio-ssl accepts an IP entry that matches the
        /// connected address whatever server name was asked for, so name checks need DNS only.
        var subjectAltName = "IP:127.0.0.1,IP:::1,DNS:localhost"
    }

    let options: Options
    /// UDP and TCP listening port.
    let port: Int
    /// TLS listening port, when ``Options/tls`` is set.
    let tlsPort: Int?
    /// The self-signed certificate coturn serves over TLS (PEM), when ``Options/tls`` is set.
    let certificatePath: String?
    let directory: URL
    private let process: Process

    /// The path of an executable on PATH (or /usr/bin, /usr/sbin), or nil.
    static func which(_ name: String) -> String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") + ["/usr/bin", "/usr/sbin"]
        return paths.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts coturn and waits until its TCP (and TLS) listener accepts connections and its UDP
    /// listener on every listening address answers a STUN Binding request.
    init(_ options: Options = Options()) async throws {
        let turnserver = try #require(
            Self.which("turnserver"),
            "coturn's turnserver is not installed: run scripts/deps.sh (apt-get install coturn)")
        self.options = options
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("coturn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try await Self.freePort(hosts: [options.host] + options.extraListeningIPs)
        var arguments = [
            "-n", "--no-cli", "--lt-cred-mech", "--user", "\(options.user):\(options.password)", "--realm", options.realm,
            "--listening-ip", options.host, "--relay-ip", options.host, "--allow-loopback-peers",
            "--listening-port", "\(port)", "--no-dtls", "--no-rfc5780",
            "--userdb", directory.appendingPathComponent("turndb").path,
            "--pidfile", directory.appendingPathComponent("turnserver.pid").path,
            "--log-file", directory.appendingPathComponent("turnserver.log").path, "--simple-log", "--no-stdout-log",
        ]
        // coturn 4.6.1 silently ignores these four unless the value is joined with "=".
        for ip in options.extraListeningIPs { arguments += ["--listening-ip", ip] }
        if let value = options.maxAllocateLifetime { arguments.append("--max-allocate-lifetime=\(value)") }
        if let value = options.permissionLifetime { arguments.append("--permission-lifetime=\(value)") }
        if let value = options.channelLifetime { arguments.append("--channel-lifetime=\(value)") }
        if let value = options.staleNonce { arguments.append("--stale-nonce=\(value)") }
        if options.tls {
            let tlsPort = try await Self.freePort(hosts: [options.host] + options.extraListeningIPs)
            let certificate = directory.appendingPathComponent("cert.pem").path
            let key = directory.appendingPathComponent("key.pem").path
            try Self.makeCertificate(certificate: certificate, key: key, subjectAltName: options.subjectAltName)
            arguments += ["--tls-listening-port", "\(tlsPort)", "--cert", certificate, "--pkey", key]
            self.tlsPort = tlsPort
            self.certificatePath = certificate
        } else {
            arguments.append("--no-tls")
            self.tlsPort = nil
            self.certificatePath = nil
        }
        process = Process()
        process.executableURL = URL(fileURLWithPath: turnserver)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        do {
            try await Self.waitForListener(host: options.host, port: port)
            // coturn opens its UDP listeners separately from the TCP one; under load they can
            // come up later, and an Allocate sent before then is lost for good.
            for host in [options.host] + options.extraListeningIPs {
                try await Self.waitForUDPListener(host: host, port: port)
            }
            if let tlsPort { try await Self.waitForListener(host: options.host, port: tlsPort) }
        } catch {
            stop()
            throw error
        }
    }

    /// Kills coturn (it ignores SIGTERM for a long while) and removes its directory.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// coturn's log, for failure messages.
    var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("turnserver.log"), encoding: .utf8)) ?? ""
    }

    /// A port free for both TCP and UDP on every one of `hosts`.
    static func freePort(hosts: [String]) async throws -> Int {
        let group = MultiThreadedEventLoopGroup.singleton
        for _ in 0..<20 {
            let tcp = try await ServerBootstrap(group: group).bind(host: hosts[0], port: 0).get()
            let port = tcp.localAddress!.port!
            var probes: [any Channel] = [tcp]
            var free = true
            for host in hosts {
                if host != hosts[0], let other = try? await ServerBootstrap(group: group).bind(host: host, port: port).get() {
                    probes.append(other)
                } else if host != hosts[0] {
                    free = false
                }
                if let udp = try? await DatagramBootstrap(group: group).bind(host: host, port: port).get() {
                    probes.append(udp)
                } else {
                    free = false
                }
            }
            for probe in probes { try? await probe.close() }
            if free { return port }
        }
        throw CoturnError("no port free for both TCP and UDP on \(hosts)")
    }

    /// A self-signed P-256 certificate for `subjectAltName`, made with the openssl CLI.
    static func makeCertificate(certificate: String, key: String, subjectAltName: String) throws {
        let openssl = try #require(which("openssl"), "the openssl CLI is not installed (apt-get install openssl)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: openssl)
        process.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=\(subjectAltName)",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CoturnError("openssl req failed with status \(process.terminationStatus)") }
    }

    /// Polls a TCP connect until coturn accepts (up to 10 s).
    static func waitForListener(host: String, port: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(200)).connect(host: host, port: port).get()
            {
                try? await channel.close()
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CoturnError("coturn did not listen on port \(port) within 10 s")
    }
}

/// Notes that a datagram arrived.
private final class AnyDatagram: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let arrived = Atomic<Bool>(false)
    func channelRead(context: ChannelHandlerContext, data: NIOAny) { arrived.store(true, ordering: .relaxed) }
}

extension CoturnServer {
    /// Sends a STUN Binding request (RFC 8489 §6) over UDP every 100 ms until coturn answers
    /// (up to 10 s).
    static func waitForUDPListener(host: String, port: Int) async throws {
        let handler = AnyDatagram()
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in channel.pipeline.addHandler(handler) }
            .bind(host: host.contains(":") ? "::1" : "127.0.0.1", port: 0).get()
        defer { channel.close(promise: nil) }
        let server = try SocketAddress(ipAddress: host, port: port)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            var request = channel.allocator.buffer(capacity: 20)
            request.writeInteger(UInt16(0x0001))  // Binding request
            request.writeInteger(UInt16(0))  // no attributes
            request.writeInteger(UInt32(0x2112_A442))  // magic cookie
            for _ in 0..<12 { request.writeInteger(UInt8.random(in: 0...255)) }
            try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: server, data: request)).get()
            try await Task.sleep(for: .milliseconds(100))
            if handler.arrived.load(ordering: .relaxed) { return }
        }
        throw CoturnError("coturn did not answer STUN over UDP on \(host) port \(port) within 10 s")
    }
}

struct CoturnError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
