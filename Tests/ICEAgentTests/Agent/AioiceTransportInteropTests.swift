import Foundation
import ICEAgent
import NIOCore
import NIOPosix
import STUNCore
import Testing

// Our agent against aioice (the ICE stack of aiortc) over real UDP on loopback. The socket
// driver lives in this test file only; the product's transports come with the lead's work.

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

    init(agent: IceAgent, selected: EventLoopPromise<IceCandidatePair>) {
        self.agent = agent
        self.selected = selected
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        drive()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        guard let source = TransportAddress(socketAddress: envelope.remoteAddress) else { return }
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
                selected.fail(InteropError.iceFailed)
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
        guard let context, let address = try? SocketAddress(ipAddress: destination.ip.description, port: Int(destination.port))
        else { return }
        let envelope = AddressedEnvelope(remoteAddress: address, data: context.channel.allocator.buffer(bytes: bytes))
        context.writeAndFlush(wrapOutboundOut(envelope), promise: nil)
    }
}

enum InteropError: Error {
    case iceFailed, peerFailed(String), timedOut
}

extension TransportAddress {
    init?(socketAddress: SocketAddress) {
        guard let text = socketAddress.ipAddress, let ip = IPAddress(text), let port = socketAddress.port else { return nil }
        self.init(ip: ip.unmappedIPv4 ?? ip, port: UInt16(port))
    }
}

/// A Python child process speaking one JSON object per line on stdin/stdout.
final class LinePeer: @unchecked Sendable {
    // Only touched from the test's task and the one reading queue, one after the other.
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffer: [UInt8] = []

    init(python: String, script: String, arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script] + arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // However the test ends, the child does not outlive it by more than 20 s.
        DispatchQueue.global().asyncAfter(deadline: .now() + 20) { self.stopIfRunning() }
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

    func stop() {
        try? input.fileHandleForWriting.close()
        stopIfRunning()
        process.waitUntilExit()
    }

    private func stopIfRunning() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

@Suite("Interop with aioice over loopback UDP", .serialized)
struct AioiceTransportInteropTests {
    /// aioice skips loopback when gathering (real-peers.md), so the script offers 127.0.0.1 itself.
    static let script = #"""
import asyncio, json, sys
import aioice
from aioice import Candidate, ice

ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

def say(**fields):
    print(json.dumps(fields), flush=True)

async def main():
    controlling = sys.argv[1] == "controlling"
    connection = aioice.Connection(ice_controlling=controlling, components=1, use_ipv6=False)
    await connection.gather_candidates()
    say(ufrag=connection.local_username, pwd=connection.local_password,
        candidates=["candidate:" + c.to_sdp() for c in connection.local_candidates])
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    remote = json.loads(line)
    connection.remote_username = remote["ufrag"]
    connection.remote_password = remote["pwd"]
    for sdp in remote["candidates"]:
        await connection.add_remote_candidate(Candidate.from_sdp(sdp[len("candidate:"):]))
    await connection.add_remote_candidate(None)
    try:
        await asyncio.wait_for(connection.connect(), 10)
    except Exception as error:
        say(state="failed", error=repr(error))
        return
    say(state="connected")
    await connection.send(b"ping from aioice")
    data = await asyncio.wait_for(connection.recv(), 5)
    say(echo=data.decode())
    await connection.close()

asyncio.run(main())
"""#

    static var python: String? {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let venv = root.appendingPathComponent(".build-venv/bin/python3").path
        if FileManager.default.isExecutableFile(atPath: venv) { return venv }
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return paths.map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test(arguments: [IceRole.controlled, .controlling])
    func ourAgentConnectsToAioiceAndCarriesData(ourRole: IceRole) async throws {
        let python = try #require(Self.python, "python3 with aioice is needed: run scripts/deps.sh")
        let peer = try LinePeer(python: python, script: Self.script,
                                arguments: [ourRole == .controlled ? "controlling" : "controlled"])
        defer { peer.stop() }
        let offer = try #require(await peer.receive(), "aioice did not start (is it installed? scripts/deps.sh)")
        let remoteCredentials = try IceCredentials(
            usernameFragment: try #require(offer["ufrag"] as? String), password: try #require(offer["pwd"] as? String))
        let remoteLines = try #require(offer["candidates"] as? [String])
        let remoteCandidates = try remoteLines.map { try IceCandidate(sdp: $0) }
        #expect(remoteCandidates.allSatisfy { $0.type == .host })

        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let selected = loop.makePromise(of: IceCandidatePair.self)
        let credentials = IceCredentials.random()
        let agent = IceAgent(configuration: .init(role: ourRole), localCredentials: credentials, now: .now())
        let channel = try await DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IceAgentUDPDriver(agent: agent, selected: selected))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { channel.close(promise: nil) }
        let local = IceCandidate(
            address: TransportAddress(socketAddress: channel.localAddress!)!, type: .host)

        try await loop.submit {
            let driver = try channel.pipeline.syncOperations.handler(type: IceAgentUDPDriver.self)
            driver.agent.addLocalCandidate(local, base: IceBaseID(0))
            driver.agent.setRemoteCredentials(remoteCredentials)
            for candidate in remoteCandidates { driver.agent.addRemoteCandidate(candidate, now: .now()) }
            driver.agent.endOfRemoteCandidates()
            driver.drive()
        }.get()
        try peer.send(["ufrag": credentials.usernameFragment, "pwd": credentials.password, "candidates": [local.sdpValue]])

        loop.scheduleTask(in: .seconds(10)) { selected.fail(InteropError.timedOut) }
        let pair = try await selected.futureResult.get()
        #expect((pair.local.type, pair.remote.type) == (.host, .host))
        #expect(remoteCandidates.contains { $0.transportAddress == pair.remoteAddress })

        let state = try #require(await peer.receive())
        #expect(state["state"] as? String == "connected", "aioice: \(state)")
        let echo = try #require(await peer.receive())
        #expect(echo["echo"] as? String == "ping from aioice")
        let (echoed, agentState, statistics) = try await loop.submit {
            let driver = try channel.pipeline.syncOperations.handler(type: IceAgentUDPDriver.self)
            return (driver.echoed, driver.agent.connectionState, driver.agent.statistics)
        }.get()
        #expect(echoed == 1)
        #expect(agentState == .connected || agentState == .completed)
        #expect(statistics.integrityFailures == 0 && statistics.fingerprintFailures == 0)
        #expect(statistics.checksReceived >= 1 && statistics.responsesReceived >= 1)
    }
}
