import Foundation
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import SignalingMQTT
import Testing

@testable import ServerHost

/// Our own MQTT client (the one the desktop uses, `MQTT_HOST=ws://…/mqtt` or `wss://…/mqtt`)
/// through the server's WebSocket endpoint into the embedded broker, in process on loopback.
@Suite(.timeLimit(.minutes(1))) struct MQTTWebSocketEndpointTests {
    private static func withEndpoint(
        tls: TLSMaterial?, _ body: @Sendable (Int) async throws -> Void
    ) async throws {
        let logger = Logger(label: "test.http")
        let runtime = MQTTBrokerRuntime(broker: MQTTBroker(configuration: .init(), policy: PodArcadeBrokerPolicy()))
        let responder = PodArcadeHTTPResponder(
            webRoot: WebRoot(files: [:]), clientConfig: ClientConfigDocument(configuration: try .resolve(flags: [:], environment: [:])),
            metrics: nil)
        let (bound, boundContinuation) = AsyncStream.makeStream(of: Int.self)
        let listener = try HTTPServerTransport.listener(
            host: "127.0.0.1", port: 0, tls: tls, responder: responder, runtime: runtime, logger: logger,
            onBound: { boundContinuation.yield($0) })
        let group = ServiceGroup(configuration: .init(services: [listener], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var ports = bound.makeAsyncIterator()
            let port = try #require(await ports.next())
            do {
                try await body(port)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        await runtime.shutdown()
    }

    private static func roundTrip(url: String, version: MQTTProtocolVersion, tls: MQTTClientTLSConfiguration = .init()) async throws {
        func client(_ id: String) throws -> MQTTClient {
            MQTTClient(configuration: MQTTClientConfiguration(
                url: try MQTTClientURL(parsing: url), clientID: id, version: version, tls: tls))
        }
        let subscriber = try client("user:sub-\(version.rawValue)")
        let publisher = try client("user:pub-\(version.rawValue)")
        try await subscriber.connect()
        _ = try await subscriber.subscribe("desktops/d1/sessions/s1/#")
        try await publisher.connect()
        // Larger than one WebSocket frame of many clients, so it spans frames on the way in.
        let offer = String(repeating: "a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n", count: 600)
        try await publisher.publish(topic: "desktops/d1/sessions/s1/webrtc-offer", payload: offer)
        var messages = subscriber.messages.makeAsyncIterator()
        let message = try #require(await messages.next())
        #expect(message.topic == "desktops/d1/sessions/s1/webrtc-offer")
        #expect(String(buffer: message.payload) == offer)
        await publisher.disconnect()
        await subscriber.disconnect()
    }

    @Test(arguments: [MQTTProtocolVersion.v3_1_1, .v5])
    func ourClientPublishesAndSubscribesOverWS(version: MQTTProtocolVersion) async throws {
        try await Self.withEndpoint(tls: nil) { port in
            try await Self.roundTrip(url: "ws://127.0.0.1:\(port)/mqtt", version: version)
        }
    }

    @Test func ourClientPublishesAndSubscribesOverWSSWithAGeneratedCertificate() async throws {
        let (material, certificatePEM, _) = try TLSMaterial.generateSelfSigned(now: Date())
        let pem = FileManager.default.temporaryDirectory.appendingPathComponent("ws-cert-\(UUID().uuidString).pem")
        try Data(certificatePEM.utf8).write(to: pem)
        defer { try? FileManager.default.removeItem(at: pem) }
        try await Self.withEndpoint(tls: material) { port in
            try await Self.roundTrip(url: "wss://localhost:\(port)/mqtt", version: .v5, tls: .trusting(pemFile: pem.path))
        }
    }
}

@Suite struct WebSocketSinkTests {
    @Test func eachFlushIsOneFrameAndAFullQueueTellsTheBrokerTheClientIsSlow() async throws {
        // No CONNECT is ever sent on this stream: a connect timeout far beyond the test keeps a
        // starved test process (parallel fuzz tests) from having the broker close it midway.
        let configuration = MQTTBrokerConfiguration(connectTimeout: .hours(1))
        let runtime = MQTTBrokerRuntime(broker: MQTTBroker(configuration: configuration, policy: PodArcadeBrokerPolicy()))
        let (commands, continuation) = AsyncStream.makeStream(of: WebSocketSink.Command.self)
        let sink = WebSocketSink(continuation: continuation)
        let id = try await runtime.openStream(sink)
        sink.attach(id: id, runtime: runtime)

        sink.write(ByteBuffer(repeating: 1, count: 150 * 1024))
        sink.write(ByteBuffer(repeating: 2, count: 50 * 1024))
        sink.flush()
        #expect(sink.isWritable)
        sink.write(ByteBuffer(repeating: 3, count: 100 * 1024))
        sink.flush()
        #expect(!sink.isWritable, "300 KiB queued is above the 256 KiB mark")
        sink.sent(200 * 1024)
        #expect(!sink.isWritable, "100 KiB queued is still above the 32 KiB mark")
        sink.sent(80 * 1024)
        #expect(sink.isWritable)
        sink.flush()  // nothing written since the last flush: no empty frame
        sink.close()

        var frames: [Int] = []
        var closed = false
        for await command in commands {
            switch command {
            case .frame(let buffer): frames.append(buffer.readableBytes)
            case .close: closed = true
            }
        }
        #expect(frames == [200 * 1024, 100 * 1024])
        #expect(closed)
        runtime.closed(id)
        await runtime.shutdown()
    }
}
