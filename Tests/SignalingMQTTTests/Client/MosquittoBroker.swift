import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private mosquitto for one test: its own temporary directory, generated configuration and
/// self-signed certificate, and free ports for four listeners (TCP, WebSocket, TLS, secure
/// WebSocket). Never the system service. ``stop()`` kills it with SIGKILL and waits, without
/// ever blocking a thread on the process.
final class MosquittoBroker: Sendable {
    struct Ports: Sendable {
        let tcp: Int
        let webSocket: Int
        let tls: Int
        let secureWebSocket: Int
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let directory: URL
    let ports: Ports
    /// The self-signed certificate (CN=localhost) the TLS listeners present; trust it as the CA.
    var certificatePath: String { directory.appendingPathComponent("cert.pem").path }
    private let executable: String
    private let process = Mutex<Process?>(nil)

    /// Creates the directory, certificate and configuration and starts mosquitto.
    /// - Throws: ``Failure`` when mosquitto or openssl is missing or mosquitto does not come up.
    static func start() async throws -> MosquittoBroker {
        let executable = try findExecutable("mosquitto", hint: "install the Debian package `mosquitto` (scripts/deps.sh does)")
        let openssl = try findExecutable("openssl", hint: "install the Debian package `openssl`")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mqtt-client-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let ports = Ports(tcp: try freePort(), webSocket: try freePort(), tls: try freePort(), secureWebSocket: try freePort())
        try await run(openssl, [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
            "-days", "1", "-keyout", directory.appendingPathComponent("key.pem").path,
            "-out", directory.appendingPathComponent("cert.pem").path,
        ])
        let broker = MosquittoBroker(executable: executable, directory: directory, ports: ports)
        try broker.writeConfiguration()
        try await broker.launch()
        return broker
    }

    private init(executable: String, directory: URL, ports: Ports) {
        self.executable = executable
        self.directory = directory
        self.ports = ports
    }

    private func writeConfiguration() throws {
        let dir = directory.path
        var lines = [
            "per_listener_settings false",
            "allow_anonymous true",
            "persistence false",
            "log_dest file \(dir)/mosquitto.log",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        // As root mosquitto would switch to the `mosquitto` user, which cannot read our files.
        if getuid() == 0 { lines.append("user root") }
        lines += [
            "listener \(ports.tcp) 127.0.0.1",
            "listener \(ports.webSocket)",
            "protocol websockets",
            "listener \(ports.tls)",
            "certfile \(dir)/cert.pem",
            "keyfile \(dir)/key.pem",
            "listener \(ports.secureWebSocket)",
            "protocol websockets",
            "certfile \(dir)/cert.pem",
            "keyfile \(dir)/key.pem",
        ]
        try (lines.joined(separator: "\n") + "\n").write(
            to: directory.appendingPathComponent("mosquitto.conf"), atomically: true, encoding: .utf8)
    }

    /// Starts mosquitto (again) on the same ports and waits until every listener accepts.
    func launch() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-c", directory.appendingPathComponent("mosquitto.conf").path]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process.withLock { $0 = process }
        let deadline = ContinuousClock.now + .seconds(10)
        for port in [ports.tcp, ports.webSocket, ports.tls, ports.secureWebSocket] {
            while !Self.accepts(port: port) {
                guard process.isRunning, ContinuousClock.now < deadline else {
                    await sigkill()
                    throw Failure(description: "mosquitto did not listen on \(port); its log:\n\(log)")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// SIGKILL, then waits (polling, never blocking a thread) until the process is gone.
    func sigkill() async {
        guard let process = self.process.withLock({ current in defer { current = nil }; return current }) else { return }
        if process.isRunning { _ = kill(process.processIdentifier, SIGKILL) }
        let deadline = ContinuousClock.now + .seconds(5)
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Kills mosquitto and removes its directory.
    func stop() async {
        await sigkill()
        try? FileManager.default.removeItem(at: directory)
    }

    var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("mosquitto.log"), encoding: .utf8)) ?? "(no log)"
    }

    // MARK: Helpers

    private static func findExecutable(_ name: String, hint: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"]
        for directory in directories {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw Failure(description: "\(name) not found in PATH or the sbin directories: \(hint)")
    }

    /// Runs a short-lived tool to completion (killing it after 30 s).
    private static func run(_ executable: String, _ arguments: [String]) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(30)
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                _ = kill(process.processIdentifier, SIGKILL)
                throw Failure(description: "\(executable) did not finish")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        guard process.terminationStatus == 0 else {
            throw Failure(description: "\(executable) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
    }

    /// Ports handed out in this process, so that brokers of tests running in parallel never share one.
    private static let handedOut = Mutex<Set<Int>>([])

    /// A port nothing listens on now, on any address, below the kernel's ephemeral range (where
    /// the clients' own connections take their local ports) and not handed out before.
    private static func freePort() throws -> Int {
        for _ in 0..<1_000 {
            let port = Int.random(in: 20_000..<32_000)
            guard handedOut.withLock({ $0.insert(port).inserted }) else { continue }
            let free = try withIPv4Socket { fd, address in
                address.sin_addr.s_addr = INADDR_ANY
                address.sin_port = UInt16(port).bigEndian
                return withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                    }
                }
            }
            if free { return port }
        }
        throw Failure(description: "no free port found")
    }

    /// Whether a TCP connection to 127.0.0.1:`port` is accepted.
    static func accepts(port: Int) -> Bool {
        (try? withIPv4Socket { fd, address in
            address.sin_port = UInt16(port).bigEndian
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
        }) ?? false
    }

    private static func withIPv4Socket<T>(_ body: (Int32, inout sockaddr_in) throws -> T) throws -> T {
        #if os(Linux)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return try body(fd, &address)
    }
}
