import Foundation
import ICEAgent
import NIOCore
import NIOPosix
import STUNCore

// Test-side sockets for interop with real peers: an IceAgent over one UDP socket, and a
// line-oriented child process. The product's transports come with the lead's work.

/// Runs an ``IceAgent`` over one UDP socket on one event loop: datagrams in, transmits out,
/// a timer for `nextTimeout()`. Non-STUN datagrams are echoed back on the selected pair.
final class IceAgentUDPDriver: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    var agent: IceAgent
    let selected: EventLoopPromise<IceCandidatePair>
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    private var done = false
    private(set) var echoed = 0

    /// Addresses the driver talks to; anything else is neither read nor sent to.
    let allowed: @Sendable (IPAddress) -> Bool

    init(
        agent: IceAgent, selected: EventLoopPromise<IceCandidatePair>,
        allowed: @escaping @Sendable (IPAddress) -> Bool = { $0.isLoopback }
    ) {
        self.agent = agent
        self.selected = selected
        self.allowed = allowed
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        drive()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        // Tests talk to loopback or their own namespaces only; anything else is ignored.
        guard let source = TransportAddress(socketAddress: envelope.remoteAddress), allowed(source.ip) else { return }
        if let first = bytes.first, first < 4 {
            agent.handleReceive(bytes, from: source, on: IceBaseID(0), now: .now())
        } else if let pair = agent.selectedPair, pair.remoteAddress == source {
            echoed += 1
            send(bytes, to: source)
        }
        drive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable and the like: ICE retransmits.
    }

    /// Performs the agent's outputs and arms its timer; call after every input.
    func drive() {
        guard context != nil else { return }
        while let transmit = agent.pollTransmit() { send(transmit.bytes, to: transmit.destination) }
        while let event = agent.pollEvent() {
            switch event {
            case .selectedPairChanged(let pair?) where !done:
                done = true
                selected.succeed(pair)
            case .connectionStateChanged(.failed) where !done:
                done = true
                selected.fail(IceInteropError.iceFailed)
            default:
                break
            }
        }
        timer?.cancel()
        guard let next = agent.nextTimeout(), let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: next) {
            bound.value.agent.handleTimeout(now: .now())
            bound.value.drive()
        }
    }

    private func send(_ bytes: [UInt8], to destination: TransportAddress) {
        guard let context, allowed(destination.ip), let address = try? SocketAddress(ipAddress: destination.ip.description, port: Int(destination.port))
        else { return }
        let envelope = AddressedEnvelope(remoteAddress: address, data: context.channel.allocator.buffer(bytes: bytes))
        context.writeAndFlush(wrapOutboundOut(envelope), promise: nil)
    }
}

enum IceInteropError: Error {
    case iceFailed, peerFailed(String), timedOut
}

extension TransportAddress {
    init?(socketAddress: SocketAddress) {
        guard let text = socketAddress.ipAddress, let ip = IPAddress(text), let port = socketAddress.port else { return nil }
        self.init(ip: ip.unmappedIPv4 ?? ip, port: UInt16(port))
    }
}

/// A Python child process speaking one JSON object per line on stdin/stdout.
final class IceLinePeer: @unchecked Sendable {
    // Only touched from the test's task and the one reading queue, one after the other.
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffer: [UInt8] = []

    /// - Parameters:
    ///   - python: the executable (python3, or a wrapper such as `ip netns exec`).
    ///   - script: passed with `-c` before `arguments`; empty to pass `arguments` alone.
    init(python: String, script: String, arguments: [String], lifetime: TimeInterval = 20) throws {
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = script.isEmpty ? arguments : ["-c", script] + arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // However the test ends, the child does not outlive it by more than `lifetime`.
        DispatchQueue.global().asyncAfter(deadline: .now() + lifetime) {
            if self.process.isRunning { kill(self.process.processIdentifier, SIGTERM) }
        }
    }

    func send(_ object: [String: any Sendable]) throws {
        let data = try JSONSerialization.data(withJSONObject: object)
        input.fileHandleForWriting.write(data + Data("\n".utf8))
    }

    /// The next line as a JSON object; nil at end of file.
    func receive() async -> [String: Any]? {
        let line: String? = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                while true {
                    if let newline = self.buffer.firstIndex(of: 0x0A) {
                        let line = String(decoding: self.buffer[..<newline], as: UTF8.self)
                        self.buffer.removeFirst(newline + 1)
                        continuation.resume(returning: line)
                        return
                    }
                    let chunk = self.output.fileHandleForReading.availableData
                    if chunk.isEmpty {
                        continuation.resume(returning: nil)
                        return
                    }
                    self.buffer += chunk
                }
            }
        }
        guard let line, let data = line.data(using: .utf8) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// Closes the child's stdin and waits for it to exit; after `grace` it gets SIGTERM (so
    /// a script can clean up, e.g. quit a browser), and SIGKILL 5 s later.
    func stop(grace: TimeInterval = 10) {
        try? input.fileHandleForWriting.close()
        if !waitForExit(seconds: grace) {
            if process.isRunning { kill(process.processIdentifier, SIGTERM) }
            if !waitForExit(seconds: 5) { stopIfRunning() }
        }
        process.waitUntilExit()
    }

    private func waitForExit(seconds: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        return !process.isRunning
    }

    private func stopIfRunning() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}


/// A network namespace made for one test, joined to this one by a veth pair with a random /30
/// of 198.18.0.0/15 (RFC 2544's benchmarking range). Removed by ``remove()``.
struct IceTestNamespace: Sendable {
    let name: String
    let hostLink: String
    let hostAddress: String
    let namespaceAddress: String

    static func run(_ arguments: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    /// - Returns: nil when namespaces cannot be made here (not root, no `ip`).
    static func make(tag: String) -> IceTestNamespace? {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") else { return nil }
        var random = SystemRandomNumberGenerator()
        let unique = "\(getpid() % 100_000)\(random.next() % 1000)"
        let subnet = Int(random.next() % 32_768) * 4
        let prefix = "198.\(18 + subnet / 65_536).\(subnet / 256 % 256)."
        let namespace = IceTestNamespace(
            name: "\(tag)-\(unique)", hostLink: "v\(tag.prefix(3))h\(unique)",
            hostAddress: prefix + "\(subnet % 256 + 1)", namespaceAddress: prefix + "\(subnet % 256 + 2)")
        let nsLink = "v\(tag.prefix(3))n\(unique)"
        let steps: [[String]] = [
            ["netns", "add", namespace.name],
            ["link", "add", namespace.hostLink, "type", "veth", "peer", "name", nsLink],
            ["link", "set", nsLink, "netns", namespace.name],
            ["addr", "add", "\(namespace.hostAddress)/30", "dev", namespace.hostLink],
            ["link", "set", namespace.hostLink, "up"],
            ["netns", "exec", namespace.name, "ip", "addr", "add", "\(namespace.namespaceAddress)/30", "dev", nsLink],
            ["netns", "exec", namespace.name, "ip", "link", "set", nsLink, "up"],
            ["netns", "exec", namespace.name, "ip", "link", "set", "lo", "up"],
            // Chromium gathers only on the interface of the default route. The host does not
            // forward (ip_forward is 0 on these machines), so nothing leaves through it.
            ["netns", "exec", namespace.name, "ip", "route", "add", "default", "via", namespace.hostAddress],
        ]
        for step in steps where !run(step) {
            namespace.remove()
            return nil
        }
        return namespace
    }

    /// Deletes the veth pair and the namespace.
    func remove() {
        _ = Self.run(["link", "delete", hostLink])
        _ = Self.run(["netns", "delete", name])
    }
}
