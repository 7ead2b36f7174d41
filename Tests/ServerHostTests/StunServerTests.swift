import Logging
import NIOCore
import NIOPosix
import STUNCore
import ServiceLifecycle
import Testing

@testable import ServerHost

/// The STUN listener over real loopback sockets, driven by our own client transaction.
@Suite(.timeLimit(.minutes(2))) struct StunServerTests {
    /// Runs a STUN server on loopback for the duration of `body`. With port 0 a start-up that
    /// fails (another test's socket took the chosen port on the second address family) is
    /// retried on a new port; a failed start-up never leaves the test waiting.
    static func withServer<T: Sendable>(
        port: Int = 0, hosts: [String] = ["127.0.0.1", "::1"], transport: StunServer.Transport = .platformDefault,
        _ body: @Sendable (Int) async throws -> T
    ) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await runServer(port: port, hosts: hosts, transport: transport, body)
            } catch let error as ServerDidNotStart where port == 0 && attempt < 5 {
                print("StunServerTests: start-up failed (\(error.underlying.map { "\($0)" } ?? "no error")), retrying on a new port")
            }
        }
    }

    struct ServerDidNotStart: Error { let underlying: (any Error)? }

    private static func runServer<T: Sendable>(
        port: Int, hosts: [String], transport: StunServer.Transport, _ body: @Sendable (Int) async throws -> T
    ) async throws -> T {
        let (bound, continuation) = AsyncStream.makeStream(of: StunServer.Bound.self)
        let server = StunServer(port: port, hosts: hosts, transport: transport, responder: .init(software: "pod-arcade-test")) {
            continuation.yield($0)
            continuation.finish()
        }
        let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                // However run ends, the wait for the bound port below ends with it.
                defer { continuation.finish() }
                try await group.run()
            }
            var iterator = bound.makeAsyncIterator()
            guard let ready = await iterator.next() else {
                var failure: (any Error)?
                do { try await tasks.waitForAll() } catch { failure = error }
                throw ServerDidNotStart(underlying: failure)
            }
            let result = try await body(ready.port)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        }
    }

    static let transports: [StunServer.Transport] = [.eventLoop, .batchedSyscalls]

    @Test(arguments: ["127.0.0.1", "::1"], transports)
    func aBindingRequestGetsTheClientsOwnAddressBack(host: String, transport: StunServer.Transport) async throws {
        try await Self.withServer(transport: transport) { port in
            let server = try SocketAddress(ipAddress: host, port: port)
            let (response, local, _) = try await bindingTransaction(to: server, from: host)
            #expect(response.messageClass == .successResponse)
            #expect(response.xorMappedAddress == TransportAddress(local))
            #expect(response.software == "pod-arcade-test")
            #expect(response.hasFingerprint)
        }
    }

    @Test(arguments: transports)
    func anUnknownComprehensionRequiredAttributeGets420(transport: StunServer.Transport) async throws {
        try await Self.withServer(transport: transport) { port in
            let server = try SocketAddress(ipAddress: "127.0.0.1", port: port)
            let (response, _, _) = try await bindingTransaction(
                to: server, from: "127.0.0.1", attributes: [.unknown(type: StunAttributeType(0x7F01), value: [1, 2, 3, 4])])
            #expect(response.messageClass == .errorResponse)
            #expect(response.errorCode?.code == 420)
            #expect(response.first(.unknownAttributes) == .unknownAttributes([StunAttributeType(0x7F01)]))
        }
    }

    @Test(arguments: transports)
    func garbageAndHugeDatagramsDoNotStopTheServer(transport: StunServer.Transport) async throws {
        try await Self.withServer(transport: transport) { port in
            let server = try SocketAddress(ipAddress: "127.0.0.1", port: port)
            let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
            var generator = SystemRandomNumberGenerator()
            let payloads: [[UInt8]] = [
                [], [0x00], Array(repeating: 0xFF, count: 19),
                [0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42] + Array(repeating: 0, count: 12),  // lying length
                (0..<65_000).map { _ in UInt8.random(in: 0...255, using: &generator) },
                [0x00, 0x01, 0xFF, 0xFC, 0x21, 0x12, 0xA4, 0x42] + Array(repeating: 0, count: 65_000 - 8),
            ]
            for payload in payloads {
                try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: server, data: channel.allocator.buffer(bytes: payload)))
            }
            try await channel.close()
            let (response, _, _) = try await bindingTransaction(to: server, from: "127.0.0.1")
            #expect(response.messageClass == .successResponse)
        }
    }

    @Test func theTransactionRetransmitsUntilTheServerAnswers() async throws {
        // Find a free port, then start the server there only after the first transmission was
        // lost. Another test may take the port in between: then the whole scenario is retried.
        for attempt in 1...5 {
            let probe = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
            let port = probe.localAddress!.port!
            try await probe.close()
            let server = try SocketAddress(ipAddress: "127.0.0.1", port: port)
            let configuration = StunClientTransaction.Configuration(initialRTO: .milliseconds(100))
            let client = Task { try await bindingTransaction(to: server, from: "127.0.0.1", configuration: configuration) }
            try await Task.sleep(for: .milliseconds(250))
            do {
                let (response, _, transmissions) = try await Self.withServer(port: port, hosts: ["127.0.0.1"]) { _ in try await client.value }
                #expect(response.messageClass == .successResponse)
                #expect(transmissions >= 2)
                return
            } catch is ServerDidNotStart where attempt < 5 {
                client.cancel()
                _ = try? await client.value
            }
        }
    }

    @Test func aTransactionWithNoServerTimesOutOnSchedule() async throws {
        let probe = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = probe.localAddress!.port!
        try await probe.close()
        let configuration = StunClientTransaction.Configuration(initialRTO: .milliseconds(10), maxTransmissions: 3, lastWaitMultiplier: 2)
        await #expect(throws: StunClientError.self) {
            _ = try await bindingTransaction(to: try SocketAddress(ipAddress: "127.0.0.1", port: port), from: "127.0.0.1", configuration: configuration)
        }
    }

    @Test(arguments: transports)
    func aTakenPortFailsStartUpInsteadOfSharingIt(transport: StunServer.Transport) async throws {
        try await Self.withServer(hosts: ["127.0.0.1"], transport: transport) { port in
            let second = StunServer(port: port, hosts: ["127.0.0.1"], transport: transport)
            let group = ServiceGroup(services: [second], logger: Logger(label: "test"))
            await #expect(throws: (any Error).self) { try await group.run() }
        }
    }

    @Test func manyClientsAreAllAnsweredAcrossTheSockets() async throws {
        try await Self.withServer(hosts: ["127.0.0.1"], transport: .batchedSyscalls) { port in
            let server = try SocketAddress(ipAddress: "127.0.0.1", port: port)
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<32 {
                    group.addTask {
                        let (response, local, _) = try await bindingTransaction(to: server, from: "127.0.0.1")
                        return response.xorMappedAddress == TransportAddress(local)
                    }
                }
                for try await correct in group { #expect(correct) }
            }
        }
    }
}
