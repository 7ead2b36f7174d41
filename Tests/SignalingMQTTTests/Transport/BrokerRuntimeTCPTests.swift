import NIOCore
import NIOPosix
import SignalingMQTT
import Testing

/// ``MQTTBrokerRuntime`` over real loopback TCP (on Linux its epoll transport), driven by our
/// own ``MQTTClient``: delivery, payloads far larger than the socket buffers (partial writes,
/// backpressure), connections that end without DISCONNECT, and shutdown.
@Suite(.timeLimit(.minutes(2)))
struct BrokerRuntimeTCPTests {
    typealias Runtime = MQTTBrokerRuntime<OpenBrokerPolicy>

    /// - Parameter loop: nil for the runtime's own loop (on Linux the epoll transport), or a NIO
    ///   loop, with which TCP connections are NIO channels.
    static func start(_ configuration: MQTTBrokerConfiguration = .init(), loop: (any EventLoop)? = nil) async throws -> (Runtime, Int) {
        let runtime = Runtime(broker: MQTTBroker(configuration: configuration, policy: OpenBrokerPolicy()), loop: loop)
        let address = try await runtime.listenTCP(host: "127.0.0.1", port: 0)
        return (runtime, address.port!)
    }

    static func client(_ id: String, port: Int, version: MQTTProtocolVersion = .v3_1_1, will: MQTTWill? = nil) -> ClientProbe {
        var configuration = MQTTClientConfiguration(
            url: MQTTClientURL(transport: .tcp, usesTLS: false, host: "127.0.0.1", port: port), clientID: id, will: will,
            version: version)
        configuration.reconnect = MQTTReconnectBackoff(initialDelay: .seconds(60), maximumDelay: .seconds(60))
        return ClientProbe(MQTTClient(configuration: configuration))
    }

    @Test(arguments: [MQTTProtocolVersion.v3_1_1, .v5], [false, true])
    func messagesAtQoS0And1ArriveInOrderOverTCP(version: MQTTProtocolVersion, onNIOLoop: Bool) async throws {
        let (runtime, port) = try await Self.start(loop: onNIOLoop ? MultiThreadedEventLoopGroup.singleton.next() : nil)
        let subscriber = Self.client("sub", port: port, version: version)
        let publisher = Self.client("pub", port: port, version: version)
        try await within(.seconds(10), "connect") {
            try await subscriber.client.connect()
            try await publisher.client.connect()
        }
        _ = try await within(.seconds(10), "subscribe") { try await subscriber.client.subscribe("t/#", qos: .exactlyOnce) }
        try await within(.seconds(10), "publish") {
            for index in 0..<300 {
                let qos = MQTTQoS(rawValue: UInt8(index % 2))!  // our client publishes at QoS 0 and 1
                try await publisher.client.publish(topic: "t/\(index % 7)", payload: "m\(index)", qos: qos)
            }
        }
        try await subscriber.message(on: "t/5", payload: "m299")
        let payloads = subscriber.messages.map(\.payloadString)
        #expect(payloads == (0..<300).map { "m\($0)" })
        let (statistics, clients) = await runtime.snapshot()
        #expect(statistics.messagesReceived == 300)
        #expect(clients["client"] == 2)
        await subscriber.client.disconnect()
        await publisher.client.disconnect()
        await runtime.shutdown()
    }

    @Test func payloadsLargerThanTheSocketBuffersArriveWhole() async throws {
        let (runtime, port) = try await Self.start(MQTTBrokerConfiguration(maximumPacketSize: 16 << 20))
        let subscriber = Self.client("sub", port: port)
        let publisher = Self.client("pub", port: port)
        try await within(.seconds(10), "connect") {
            try await subscriber.client.connect()
            try await publisher.client.connect()
        }
        _ = try await within(.seconds(10), "subscribe") { try await subscriber.client.subscribe("big", qos: .atLeastOnce) }
        // 3 × 6 MB: more than loopback's socket buffers hold, so the broker's writes are partial
        // and wait for the socket to drain.
        let payloads = (0..<3).map { index in String(repeating: Character(UnicodeScalar(UInt8(65 + index))), count: 6 << 20) }
        try await within(.seconds(30), "publish") {
            for payload in payloads { try await publisher.client.publish(topic: "big", payload: payload, qos: .atLeastOnce) }
        }
        try await subscriber.message(on: "big", payload: payloads[2], timeout: .seconds(30))
        #expect(subscriber.messages.map(\.payloadString) == payloads)
        await subscriber.client.disconnect()
        await publisher.client.disconnect()
        await runtime.shutdown()
    }

    @Test func aConnectionThatDropsIsNoticedAndItsWillPublished() async throws {
        let (runtime, port) = try await Self.start()
        let watcher = Self.client("watcher", port: port)
        try await within(.seconds(10), "connect watcher") { try await watcher.client.connect() }
        _ = try await within(.seconds(10), "subscribe") { try await watcher.client.subscribe("wills/#") }
        let will = MQTTWill(topic: "wills/dropped", payload: ByteBuffer(string: "gone"), qos: .atLeastOnce, retain: false)
        let dropped = Self.client("dropped", port: port, will: will)
        try await within(.seconds(10), "connect dropped") { try await dropped.client.connect() }
        await dropped.client._dropConnection()
        try await watcher.message(on: "wills/dropped", payload: "gone")
        let (statistics, _) = await runtime.snapshot()
        #expect(statistics.willsPublished == 1)
        await watcher.client.disconnect()
        await dropped.client.disconnect()
        await runtime.shutdown()
    }

    @Test func shutdownClosesEveryConnection() async throws {
        let (runtime, port) = try await Self.start()
        let probe = Self.client("probe", port: port)
        try await within(.seconds(10), "connect") { try await probe.client.connect() }
        await runtime.shutdown()
        try await probe.event("connection lost") { if case .disconnected = $0 { true } else { false } }
        await probe.client.disconnect()
    }
}
