import ArgumentParser
import Foundation
import ICEAgent
import NIOConcurrencyHelpers
import NIOCore
import STUNCore

/// A command-line ICE agent for interop tests, network-namespace tests and benchmarks.
///
/// It speaks the JSON-lines protocol of `Tests/interop/ice_peer_aioice.py` on stdin/stdout, so
/// a test can pair it with aioice (or with itself) by relaying lines: credentials, trickled
/// candidates, end-of-candidates, then application data over the selected pair.
@main
struct IcePeerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ice-peer",
        abstract: "Runs one ICE agent; signaling is JSON lines on stdin/stdout.")

    @Option(help: "controlling or controlled") var role: String
    @Option(name: .customLong("ice-servers"), help: "ICE servers as JSON (the ICE_SERVERS shape)") var iceServers = "[]"
    @Option(help: "share this UDP port (WEBRTC_PORT); 0 opens sockets per interface") var port: UInt16 = 0
    @Option(help: "advertise these addresses as host candidates (WEBRTC_IPS)") var advertise = ""
    @Option(help: "use only these interface addresses (comma-separated)") var interfaces = ""
    @Flag(help: "offer loopback addresses") var loopback = false
    @Flag(name: .customLong("no-ipv6"), help: "offer no IPv6 addresses") var noIPv6 = false
    @Flag(name: .customLong("relay-only"), help: "offer relayed candidates only") var relayOnly = false
    @Flag(help: "send received data back") var echo = false
    @Flag(name: .customLong("insecure-turn"), help: "do not verify turns: certificates") var insecureTURN = false

    func run() async throws {
        let output = JSONLines()
        let servers: [IceServer]
        do {
            servers = try IceServer.parseList(json: iceServers)
        } catch {
            throw ValidationError("--ice-servers: \(error)")
        }
        let advertised: [IPAddress]
        do {
            advertised = try HostAddressSelection.parseAdvertisedAddresses(advertise)
        } catch {
            throw ValidationError("--advertise: \(error)")
        }
        var pinned: [IPAddress]?
        if !interfaces.isEmpty {
            pinned = try interfaces.split(separator: ",").map {
                guard let ip = IPAddress($0) else { throw ValidationError("--interfaces: '\($0)' is not an address") }
                return ip
            }
        }
        guard let iceRole = IceRole(rawValue: role) else { throw ValidationError("--role: controlling or controlled") }
        let configuration = IceTransportConfiguration(
            agent: .init(role: iceRole), iceServers: servers,
            hostAddresses: HostAddressSelection(includeLoopback: loopback, includeIPv6: !noIPv6, advertisedAddresses: advertised),
            interfaceAddresses: pinned, relayOnly: relayOnly, verifyTURNCertificates: !insecureTURN)
        let mux = port == 0 ? nil : try await UDPMux.bind(port: port, ipv6: !noIPv6)
        let transport = IceTransport(configuration: configuration, mux: mux)
        let clock = Clock()
        let echo = self.echo
        transport.setDataHandler { buffer in
            output.emit("data", ["data": Data(buffer.readableBytesView).base64EncodedString()])
            if echo { transport.send(buffer) }
        }
        let credentials = await transport.localCredentials
        output.emit("local-credentials", ["ufrag": credentials.usernameFragment, "pwd": credentials.password])

        let events = Task {
            for await event in transport.events {
                switch event {
                case .localCandidate(let candidate):
                    output.emit("local-candidate", ["candidate": candidate.sdpValue])
                case .gatheringComplete:
                    output.emit("gathering-complete", [:])
                case .serverFailed(let server, let reason):
                    output.emit("server-failed", ["server": server, "reason": reason])
                case .connectionStateChanged(let state):
                    var fields: [String: Any] = ["state": state.rawValue]
                    if state == .connected || state == .completed, let elapsed = clock.sinceFirstRemote() {
                        fields["elapsed_ms"] = elapsed
                    }
                    output.emit("state", fields)
                case .selectedPairChanged(let pair?):
                    output.emit("selected", ["local": describe(pair.local), "remote": describe(pair.remote)])
                case .selectedPairChanged(nil):
                    break
                }
            }
        }
        try await transport.start()

        for await line in StandardInputLines.stream() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let type = object["type"] as? String
            else {
                output.emit("error", ["message": "unreadable input line"])
                continue
            }
            switch type {
            case "remote-credentials":
                do {
                    transport.setRemoteCredentials(try IceCredentials(
                        usernameFragment: object["ufrag"] as? String ?? "", password: object["pwd"] as? String ?? ""))
                } catch {
                    output.emit("error", ["message": "bad remote credentials: \(error)"])
                }
            case "remote-candidate":
                clock.markFirstRemote()
                do {
                    transport.addRemoteCandidate(try IceCandidate(sdp: object["candidate"] as? String ?? ""))
                } catch {
                    output.emit("error", ["message": "bad remote candidate: \(error)"])
                }
            case "end-of-candidates":
                transport.endOfRemoteCandidates()
            case "send":
                if let text = object["data"] as? String, let data = Data(base64Encoded: text) {
                    transport.send(ByteBuffer(bytes: data))
                }
            case "stats":
                var fields: [String: Any] = ["agent": counters(await transport.statistics)]
                if let mux { fields["mux"] = counters(await mux.statistics) }
                output.emit("stats", fields)
            case "restart":
                await transport.restart()
                let fresh = await transport.localCredentials
                output.emit("local-credentials", ["ufrag": fresh.usernameFragment, "pwd": fresh.password])
            case "close":
                await transport.close()
                await mux?.close()
                events.cancel()
                return
            default:
                output.emit("error", ["message": "unknown input type \(type)"])
            }
        }
        await transport.close()
        await mux?.close()
    }
}

/// The integer fields of a statistics struct, by name.
private func counters(_ value: Any) -> [String: Int] {
    var out: [String: Int] = [:]
    for child in Mirror(reflecting: value).children {
        if let label = child.label, let number = child.value as? Int { out[label] = number }
    }
    return out
}

private func describe(_ candidate: IceCandidate) -> [String: Any] {
    ["type": candidate.type.rawValue, "address": candidate.address.description, "port": Int(candidate.port),
     "transport": candidate.transport.rawValue]
}

/// Writes one JSON object per line to stdout, with "type" and "t" (ms since start).
final class JSONLines: Sendable {
    private let start = NIODeadline.now()
    private let lock = NIOLockedValueBox(())

    func emit(_ type: String, _ fields: [String: Any]) {
        var object = fields
        object["type"] = type
        object["t"] = Double((NIODeadline.now() - start).nanoseconds) / 1_000_000
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        lock.withLockedValue { _ in
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }
}

/// When the first remote candidate arrived, for the "first remote candidate → connected" figure.
final class Clock: Sendable {
    private let first = NIOLockedValueBox<NIODeadline?>(nil)
    func markFirstRemote() { first.withLockedValue { if $0 == nil { $0 = .now() } } }
    func sinceFirstRemote() -> Double? {
        first.withLockedValue { $0.map { Double((NIODeadline.now() - $0).nanoseconds) / 1_000_000 } }
    }
}

/// Lines of standard input, read on a thread of their own.
enum StandardInputLines {
    static func stream() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        let thread = Thread {
            while let line = readLine() { continuation.yield(line) }
            continuation.finish()
        }
        thread.start()
        return stream
    }
}
