import ArgumentParser
import ICEAgent
import NIOCore
import STUNCore

#if canImport(Glibc)
import Glibc
#endif

/// Single-port benchmarks for `make bench-ice` (Benchmarks/ice-bench.py prints the rest):
/// `sessions` connects N browsers-like controlling agents (each with its own socket) to N
/// controlled sessions sharing one UDPMux port, in one process over loopback; `demux` times
/// the router's per-datagram decision with N sessions registered.
@main
struct IceBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ice-bench", subcommands: [Sessions.self, Demux.self])
}

struct Sessions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "N sessions on one shared port, all connected")
    @Option var sessions = 100
    @Option(help: "seconds to wait for all") var timeout = 30.0

    func run() async throws {
        let mux = try await UDPMux.bind(port: 0, ipv6: false)
        let loopback = [IPAddress("127.0.0.1")!]
        let started = NIODeadline.now()
        let results = try await withThrowingTaskGroup(of: Double?.self) { group in
            for _ in 0..<sessions {
                group.addTask {
                    let desktop = IceTransport(
                        configuration: .init(agent: .init(role: .controlled), hostAddresses: .init(includeLoopback: true, includeIPv6: false),
                                             interfaceAddresses: loopback),
                        mux: mux)
                    let browser = IceTransport(
                        configuration: .init(agent: .init(role: .controlling), hostAddresses: .init(includeLoopback: true, includeIPv6: false),
                                             interfaceAddresses: loopback))
                    defer { Task { await desktop.close(); await browser.close() } }
                    return try await connect(browser, desktop, timeout: .milliseconds(Int64(timeout * 1000)))
                }
            }
            var times: [Double?] = []
            for try await result in group { times.append(result) }
            return times
        }
        let total = Double((NIODeadline.now() - started).nanoseconds) / 1e6
        let connected = results.compactMap { $0 }.sorted()
        let stats = await mux.statistics
        print("sessions \(sessions) connected \(connected.count) on port \(mux.port) in \(String(format: "%.0f", total)) ms; "
              + "per session first-candidate->connected median \(fmt(percentile(connected, 0.5))) ms p99 \(fmt(percentile(connected, 0.99))) ms")
        print("mux routed by ufrag \(stats.routedByUfrag), by address \(stats.routedByAddress), dropped \(stats.droppedUnknownUfrag + stats.droppedUnknownAddress + stats.droppedMalformed)")
        await mux.close()
        if connected.count != sessions { throw ExitCode(1) }
    }
}

/// Runs signaling between two transports in process; returns ms from the first remote
/// candidate to the controlled side's connected state, or nil.
func connect(_ browser: IceTransport, _ desktop: IceTransport, timeout: TimeAmount) async throws -> Double? {
    try await browser.start()
    try await desktop.start()
    browser.setRemoteCredentials(await desktop.localCredentials)
    desktop.setRemoteCredentials(await browser.localCredentials)
    let firstCandidate = NIOLockedBox()
    let forward = Task {
        for await event in browser.events {
            if case .localCandidate(let candidate) = event {
                firstCandidate.mark()
                desktop.addRemoteCandidate(candidate)
            }
        }
    }
    let backward = Task {
        for await event in desktop.events {
            switch event {
            case .localCandidate(let candidate): browser.addRemoteCandidate(candidate)
            case .connectionStateChanged(.connected), .connectionStateChanged(.completed): return firstCandidate.elapsed()
            case .connectionStateChanged(.failed): return nil
            default: continue
            }
        }
        return nil
    }
    let timer = Task {
        try await Task.sleep(nanoseconds: UInt64(timeout.nanoseconds))
        backward.cancel()
    }
    let result = await backward.value
    timer.cancel()
    forward.cancel()
    return result
}

final class NIOLockedBox: @unchecked Sendable {
    private var first: NIODeadline?
    private let lock = NSLockLike()
    func mark() { lock.with { if first == nil { first = .now() } } }
    func elapsed() -> Double? { lock.with { first.map { Double((NIODeadline.now() - $0).nanoseconds) / 1e6 } } }
}

/// A pthread mutex (no Foundation in this target).
final class NSLockLike: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func with<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}

struct Demux: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "per-datagram routing cost of the shared port")
    @Option var sessions = 100
    @Option var packets = 2_000_000

    func run() throws {
        var router = UDPMuxRouter()
        var rng = SystemRandomNumberGenerator()
        var checks: [[UInt8]] = []
        var addresses: [TransportAddress] = []
        for index in 0..<sessions {
            let ufrag = "uf\(index)x"
            router.register(ufrag: ufrag, for: .init(index))
            let address = TransportAddress(ip: .v4(0xC000_0200 | UInt32(index & 0xFF)), port: UInt16(40_000 + index))
            router.confirm(address, for: .init(index))
            addresses.append(address)
            let message = StunMessage(method: .binding, messageClass: .request, transactionID: .random(using: &rng),
                                      attributes: [.username("\(ufrag):browser"), .priority(1_853_824_767), .iceControlling(tieBreaker: 1), .useCandidate])
            checks.append(message.encoded(messageIntegrity: StunKey(bytes: Array("passwordpasswordpassword".utf8)), fingerprint: true))
        }
        let srtp: [UInt8] = [0x80, 0x60] + [UInt8](repeating: 0xAB, count: 1_100)
        for (name, packetFor) in [("SRTP by address", { (_: Int) in srtp }), ("STUN check by ufrag", { (i: Int) in checks[i] })] {
            var routed = 0
            let start = NIODeadline.now()
            for n in 0..<packets {
                let index = n % sessions
                if case .session = router.route(packetFor(index), from: addresses[index]) { routed += 1 }
            }
            let ns = Double((NIODeadline.now() - start).nanoseconds) / Double(packets)
            print("demux \(name): \(String(format: "%.1f", ns)) ns/packet over \(packets) packets, \(sessions) sessions, routed \(routed)")
        }
    }
}

func percentile(_ sorted: [Double], _ p: Double) -> Double? {
    guard !sorted.isEmpty else { return nil }
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p + 0.5))]
}

func fmt(_ value: Double?) -> String { value.map { String(format: "%.1f", $0) } ?? "-" }
