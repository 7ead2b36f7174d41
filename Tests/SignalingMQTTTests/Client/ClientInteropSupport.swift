import NIOCore
import SignalingMQTT
import Synchronization
import Testing

/// Records what an ``MQTTClient`` receives, so a test can wait for it by polling.
final class ClientProbe: Sendable {
    let client: MQTTClient
    private let received = Mutex<[MQTTPublish]>([])
    private let seenEvents = Mutex<[MQTTClientConnectionEvent]>([])

    init(_ client: MQTTClient) {
        self.client = client
        Task {
            for await message in client.messages { self.received.withLock { $0.append(message) } }
        }
        Task {
            for await event in client.events { self.seenEvents.withLock { $0.append(event) } }
        }
    }

    var messages: [MQTTPublish] { received.withLock { $0 } }
    var events: [MQTTClientConnectionEvent] { seenEvents.withLock { $0 } }

    /// Waits for a message on `topic`.
    @discardableResult
    func message(on topic: String, payload: String? = nil, timeout: Duration = .seconds(10)) async throws -> MQTTPublish {
        try await poll("a message on \(topic)", timeout: timeout) {
            messages.first { $0.topic == topic && (payload == nil || $0.payloadString == payload) }
        }
    }

    /// Waits until `count` events match.
    func event(_ what: String, count: Int = 1, timeout: Duration = .seconds(10), _ matches: @escaping (MQTTClientConnectionEvent) -> Bool) async throws {
        _ = try await poll(what, timeout: timeout) { events.filter(matches).count >= count ? true : nil }
    }
}

struct TimedOut: Error, CustomStringConvertible {
    let description: String
}

/// Polls `check` every 10 ms until it gives a value.
func poll<T>(_ what: String, timeout: Duration, _ check: () -> T?) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    while true {
        if let value = check() { return value }
        guard ContinuousClock.now < deadline else { throw TimedOut(description: "timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// Runs `body`, but gives up after `timeout`: a client call that never completes (waiting for an
/// ack that does not come) must fail the test, not hang the run. The abandoned call ends when the
/// test disconnects its clients.
@discardableResult
func within<T: Sendable>(_ timeout: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let once = Once<T>()
    return try await withCheckedThrowingContinuation { continuation in
        once.set(continuation)
        Task {
            let result: Result<T, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            once.resume(with: result)
        }
        Task {
            try? await Task.sleep(for: timeout)
            once.resume(with: .failure(TimedOut(description: "timed out: \(what)")))
        }
    }
}

/// A continuation resumed by whichever comes first.
private final class Once<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)

    func set(_ continuation: CheckedContinuation<T, any Error>) {
        self.continuation.withLock { $0 = continuation }
    }

    func resume(with result: Result<T, any Error>) {
        continuation.withLock { $0.take() }?.resume(with: result)
    }
}

/// A mosquitto and the clients a test made; everything is disconnected and killed at the end,
/// also when the test fails.
final class InteropScenario: Sendable {
    let broker: MosquittoBroker
    private let clients = Mutex<[MQTTClient]>([])

    private init(broker: MosquittoBroker) {
        self.broker = broker
    }

    static func run(_ body: (InteropScenario) async throws -> Void) async throws {
        let scenario = InteropScenario(broker: try await MosquittoBroker.start())
        do {
            try await body(scenario)
        } catch {
            print("mosquitto log of the failed test:\n\(scenario.broker.log)")
            await scenario.finish()
            throw error
        }
        await scenario.finish()
    }

    private func finish() async {
        for client in clients.withLock({ $0 }) { await client.disconnect() }
        await broker.stop()
    }

    enum Endpoint: Sendable, CustomTestStringConvertible {
        case tcp, webSocket, tls, secureWebSocket

        var testDescription: String {
            switch self {
            case .tcp: "tcp"
            case .webSocket: "ws"
            case .tls: "mqtts"
            case .secureWebSocket: "wss"
            }
        }
    }

    func url(_ endpoint: Endpoint) -> String {
        let ports = broker.ports
        return switch endpoint {
        case .tcp: "tcp://127.0.0.1:\(ports.tcp)"
        case .webSocket: "ws://127.0.0.1:\(ports.webSocket)/mqtt"
        case .tls: "mqtts://localhost:\(ports.tls)"
        case .secureWebSocket: "wss://localhost:\(ports.secureWebSocket)/mqtt"
        }
    }

    /// A client of this scenario's broker, trusting its certificate, with a fast reconnect.
    func client(
        _ clientID: String, endpoint: Endpoint = .tcp, version: MQTTProtocolVersion = .v3_1_1, will: MQTTWill? = nil,
        configure: (inout MQTTClientConfiguration) -> Void = { _ in }
    ) throws -> ClientProbe {
        var configuration = MQTTClientConfiguration(
            url: try MQTTClientURL(parsing: url(endpoint)), clientID: clientID, will: will, keepAlive: .seconds(10),
            version: version, tls: .trusting(pemFile: broker.certificatePath))
        configuration.reconnect = MQTTReconnectBackoff(initialDelay: .milliseconds(100), maximumDelay: .seconds(1))
        configuration.connectTimeout = .seconds(5)
        configure(&configuration)
        let client = MQTTClient(configuration: configuration)
        clients.withLock { $0.append(client) }
        return ClientProbe(client)
    }
}
