import Foundation
import ICEAgent
import NIOCore
import NIOPosix
import STUNCore
import Testing

// Our agent against aioice (the ICE stack of aiortc) over real UDP on loopback, driven by
// Support/UDPTransportDriver.swift.

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
        let peer = try IceLinePeer(python: python, script: Self.script,
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

        loop.scheduleTask(in: .seconds(10)) { selected.fail(IceInteropError.timedOut) }
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
