import NIOCore

@testable import SecureMedia

/// Two DTLS endpoints joined by an in-memory network under simulated time. Datagrams are
/// delivered in order; a drop rule may discard any of them; when nothing is in flight the
/// clock jumps to the earliest deadline the endpoints returned.
final class DTLSTestPair {
    enum Direction: Hashable { case toServer, toClient }

    let client: DTLSEndpoint
    let server: DTLSEndpoint
    var now = NIODeadline.uptimeNanoseconds(5_000_000_000)
    let start: NIODeadline

    var inFlight: [(Direction, ByteBuffer)] = []
    var clientEvents: [DTLSEvent] = []
    var serverEvents: [DTLSEvent] = []
    var clientDeadline: NIODeadline?
    var serverDeadline: NIODeadline?
    /// Every datagram each side sent, in order (including dropped ones).
    var sent: [Direction: [ByteBuffer]] = [.toServer: [], .toClient: []]
    /// Decides whether the n-th datagram (0-based) in a direction is lost.
    var drop: (Direction, Int) -> Bool = { _, _ in false }
    /// Extra datagrams to deliver before the n-th real one in a direction.
    var inject: (Direction, Int) -> [ByteBuffer] = { _, _ in [] }
    /// Times at which handleTimeout was called, per side.
    var clientTimeouts: [NIODeadline] = []

    init(
        clientCertificate: DTLSCertificate,
        serverCertificate: DTLSCertificate,
        clientExpects: [DTLSFingerprint]? = nil,
        serverExpects: [DTLSFingerprint]? = nil,
        mtu: Int = 1200,
        serverProfiles: [SRTPProtectionProfile] = [.aeadAES128GCM, .aes128CMHMACSHA1_80],
        timers: DTLSTimers = DTLSTimers()
    ) throws {
        client = try DTLSEndpoint(
            role: .client, certificate: clientCertificate,
            remoteFingerprints: clientExpects ?? [serverCertificate.fingerprint], mtu: mtu, timers: timers
        )
        server = try DTLSEndpoint(
            role: .server, certificate: serverCertificate,
            remoteFingerprints: serverExpects ?? [clientCertificate.fingerprint], mtu: mtu,
            srtpProfiles: serverProfiles, timers: timers
        )
        start = now
    }

    func absorb(_ output: DTLSOutput, from direction: Direction) {
        for datagram in output.datagrams {
            let index = sent[direction]!.count
            sent[direction]!.append(datagram)
            if !drop(direction, index) {
                for extra in inject(direction, index) { inFlight.append((direction, extra)) }
                inFlight.append((direction, datagram))
            }
        }
        switch direction {
        case .toServer:
            clientEvents += output.events
            clientDeadline = output.nextTimeout
        case .toClient:
            serverEvents += output.events
            serverDeadline = output.nextTimeout
        }
    }

    func startBoth() {
        absorb(server.start(now: now), from: .toClient)
        absorb(client.start(now: now), from: .toServer)
    }

    /// Runs until both sides are connected, or one failed, or `maxSteps` passed.
    @discardableResult
    func run(maxSteps: Int = 500, until done: (DTLSTestPair) -> Bool = DTLSTestPair.bothSettled) -> Int {
        var steps = 0
        while steps < maxSteps, !done(self) {
            steps += 1
            if !inFlight.isEmpty {
                let (direction, datagram) = inFlight.removeFirst()
                switch direction {
                case .toServer: absorb(server.receive(datagram, now: now), from: .toClient)
                case .toClient: absorb(client.receive(datagram, now: now), from: .toServer)
                }
                continue
            }
            let deadlines = [clientDeadline, serverDeadline].compactMap { $0 }
            guard let next = deadlines.min() else { break }
            now = max(now, next)
            if let deadline = clientDeadline, deadline <= now {
                clientTimeouts.append(now)
                absorb(client.handleTimeout(now: now), from: .toServer)
            }
            if let deadline = serverDeadline, deadline <= now {
                absorb(server.handleTimeout(now: now), from: .toClient)
            }
        }
        return steps
    }

    static func bothSettled(_ pair: DTLSTestPair) -> Bool {
        let settled: Set<DTLSEndpoint.State> = [.connected, .failed, .closed]
        return settled.contains(pair.client.state) && settled.contains(pair.server.state)
    }

    var clientKeys: SRTPKeyingMaterial? { Self.keys(in: clientEvents) }
    var serverKeys: SRTPKeyingMaterial? { Self.keys(in: serverEvents) }

    static func keys(in events: [DTLSEvent]) -> SRTPKeyingMaterial? {
        for event in events { if case .connected(let keys) = event { return keys } }
        return nil
    }

    static func failure(in events: [DTLSEvent]) -> DTLSError? {
        for event in events { if case .failed(let error) = event { return error } }
        return nil
    }

    static func applicationData(in events: [DTLSEvent]) -> [[UInt8]] {
        events.compactMap { event in
            if case .applicationData(let buffer) = event { return Array(buffer.readableBytesView) }
            return nil
        }
    }
}

/// Certificates are slow-ish to make (a P-256 key each); tests share two.
enum DTLSTestCertificates {
    static let client: DTLSCertificate = try! DTLSCertificate.generate(commonName: "test-client")
    static let server: DTLSCertificate = try! DTLSCertificate.generate(commonName: "test-server")
}

/// A deterministic generator for garbage bytes (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
