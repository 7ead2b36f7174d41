import NIOCore
import SignalingMQTT
import Testing

/// ``MQTTClient`` against a real mosquitto (Debian `mosquitto`, started by each test on free
/// ports and killed with SIGKILL at the end). Without mosquitto these tests fail and say so.
@Suite(.timeLimit(.minutes(2)))
struct ClientMosquittoInteropTests {
    typealias Endpoint = InteropScenario.Endpoint

    static let endpointsAndVersions: [(Endpoint, MQTTProtocolVersion)] = [
        (.tcp, .v3_1_1), (.tcp, .v5), (.webSocket, .v3_1_1), (.webSocket, .v5), (.tls, .v3_1_1), (.secureWebSocket, .v5),
    ]

    @Test(arguments: endpointsAndVersions)
    func aClientReceivesItsOwnPublicationsAtQoS0And1(endpoint: Endpoint, version: MQTTProtocolVersion) async throws {
        try await InteropScenario.run { scenario in
            let probe = try scenario.client("desktop:echo", endpoint: endpoint, version: version)
            let client = probe.client
            try await within(.seconds(10), "connect") { try await client.connect() }
            let granted = try await within(.seconds(10), "subscribe") { try await client.subscribe("echo/#", qos: .atLeastOnce) }
            #expect(granted == .atLeastOnce)
            try await within(.seconds(10), "publish QoS 0") { try await client.publish(topic: "echo/zero", payload: "0") }
            try await within(.seconds(10), "publish QoS 1") {
                try await client.publish(topic: "echo/one", payload: "1", qos: .atLeastOnce)
            }
            // 40 KB crosses several TCP reads and, over WebSocket, several frames.
            let large = String(repeating: "0123456789", count: 4_000)
            try await within(.seconds(10), "publish 40 KB") {
                try await client.publish(topic: "echo/large", payload: large, qos: .atLeastOnce)
            }
            #expect(try await probe.message(on: "echo/zero").qos == .atMostOnce)
            #expect(try await probe.message(on: "echo/one").qos == .atLeastOnce)
            #expect(try await probe.message(on: "echo/large").payloadString == large)
            try await within(.seconds(10), "unsubscribe") { try await client.unsubscribe("echo/#") }
            try await within(.seconds(10), "publish after unsubscribe") {
                try await client.publish(topic: "echo/after", payload: "x", qos: .atLeastOnce)
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(!probe.messages.contains { $0.topic == "echo/after" })
        }
    }

    @Test func aRetainedMessageReachesALaterSubscriber() async throws {
        try await InteropScenario.run { scenario in
            let desktop = try scenario.client("desktop:retain").client
            try await within(.seconds(10), "connect desktop") { try await desktop.connect() }
            try await within(.seconds(10), "publish retained") {
                try await desktop.publish(topic: "desktops/retain/status", payload: "online", qos: .atLeastOnce, retain: true)
            }
            let user = try scenario.client("user:late", endpoint: .webSocket)
            try await within(.seconds(10), "connect user") { try await user.client.connect() }
            try await within(.seconds(10), "subscribe") { try await user.client.subscribe("desktops/+/status") }
            let status = try await user.message(on: "desktops/retain/status")
            #expect(status.payloadString == "online")
            #expect(status.retain)
        }
    }

    @Test func theWillIsPublishedWhenTheConnectionDropsButNotAfterDisconnect() async throws {
        try await InteropScenario.run { scenario in
            let watcher = try scenario.client("user:watcher")
            try await within(.seconds(10), "connect watcher") { try await watcher.client.connect() }
            try await within(.seconds(10), "subscribe") { try await watcher.client.subscribe("desktops/+/status") }

            func will(_ id: String) -> MQTTWill {
                MQTTWill(topic: "desktops/\(id)/status", payload: ByteBuffer(string: "offline"), qos: .atLeastOnce, retain: true)
            }
            let crashing = try scenario.client("desktop:crash", endpoint: .webSocket, will: will("crash"))
            let leaving = try scenario.client("desktop:leave", will: will("leave"))
            for probe in [crashing, leaving] {
                let client = probe.client
                try await within(.seconds(10), "connect") { try await client.connect() }
            }
            await crashing.client._dropConnection()
            await leaving.client.disconnect()
            let offline = try await watcher.message(on: "desktops/crash/status", payload: "offline")
            #expect(offline.qos == .atLeastOnce)
            try await Task.sleep(for: .milliseconds(500))
            #expect(!watcher.messages.contains { $0.topic == "desktops/leave/status" })
            // The dropped client came back by itself.
            try await crashing.event("reconnect", count: 2) { if case .connected = $0 { true } else { false } }
        }
    }

    @Test(arguments: [Endpoint.tcp, .webSocket])
    func afterTheBrokerIsKilledAndRestartedTheClientReconnectsAndResubscribes(endpoint: Endpoint) async throws {
        try await InteropScenario.run { scenario in
            let probe = try scenario.client("desktop:survivor", endpoint: endpoint)
            let client = probe.client
            try await within(.seconds(10), "connect") { try await client.connect() }
            try await within(.seconds(10), "subscribe") { try await client.subscribe("desktops/survivor/sessions/+/webrtc-offer") }
            try await within(.seconds(10), "publish") {
                try await client.publish(topic: "desktops/survivor/sessions/a/webrtc-offer", payload: "before", qos: .atLeastOnce)
            }
            try await probe.message(on: "desktops/survivor/sessions/a/webrtc-offer", payload: "before")

            await scenario.broker.sigkill()
            try await probe.event("connection lost") {
                if case .disconnected(_, reconnecting: true) = $0 { true } else { false }
            }
            // Published while the broker is down: waits in the client until it is back.
            let pending = Task {
                try await client.publish(topic: "desktops/survivor/sessions/b/webrtc-offer", payload: "during", qos: .atLeastOnce)
            }
            try await Task.sleep(for: .milliseconds(300))
            try await scenario.broker.launch()

            try await probe.event("reconnected", count: 2) { if case .connected = $0 { true } else { false } }
            try await probe.event("resubscribed") {
                if case .resubscribed(_, let codes) = $0 { codes == [.grantedQoS1] } else { false }
            }
            try await within(.seconds(10), "publish queued while down") { try await pending.value }
            try await probe.message(on: "desktops/survivor/sessions/b/webrtc-offer", payload: "during")

            let browser = try scenario.client("user:browser", endpoint: .webSocket)
            try await within(.seconds(10), "connect browser") { try await browser.client.connect() }
            try await within(.seconds(10), "browser publishes") {
                try await browser.client.publish(topic: "desktops/survivor/sessions/c/webrtc-offer", payload: "after", qos: .atLeastOnce)
            }
            try await probe.message(on: "desktops/survivor/sessions/c/webrtc-offer", payload: "after")
        }
    }

    @Test func tlsWithTheTestCertificateTrustedConnectsAndAnUntrustedOneIsRefused() async throws {
        try await InteropScenario.run { scenario in
            let trusted = try scenario.client("desktop:tls", endpoint: .tls)
            try await within(.seconds(10), "connect trusted") { try await trusted.client.connect() }
            try await within(.seconds(10), "subscribe") { try await trusted.client.subscribe("tls/#") }
            try await within(.seconds(10), "publish") { try await trusted.client.publish(topic: "tls/x", payload: "secret", qos: .atLeastOnce) }
            try await trusted.message(on: "tls/x", payload: "secret")

            let untrusted = try scenario.client("desktop:untrusted", endpoint: .tls) { $0.tls = MQTTClientTLSConfiguration() }
            let error = try await within(.seconds(10), "connect untrusted") { () async -> MQTTClientError? in
                do {
                    try await untrusted.client.connect()
                    return nil
                } catch {
                    return error as? MQTTClientError
                }
            }
            #expect(error?.code == .transportFailed)

            let insecure = try scenario.client("desktop:insecure", endpoint: .secureWebSocket) {
                $0.tls = MQTTClientTLSConfiguration(insecureSkipVerify: true)
            }
            try await within(.seconds(10), "connect insecure") { try await insecure.client.connect() }
        }
    }

    @Test func connectingToTheWrongKindOfListenerFailsWithATypedError() async throws {
        try await InteropScenario.run { scenario in
            let ports = scenario.broker.ports
            let cases: [(String, MQTTClientError.Code)] = [
                ("ws://127.0.0.1:\(ports.tcp)/mqtt", .webSocketUpgradeFailed),  // MQTT listener, not HTTP
                ("tcp://127.0.0.1:\(try closedPort())", .transportFailed),
            ]
            for (url, code) in cases {
                let probe = try scenario.client("desktop:wrong") { $0.url = try! MQTTClientURL(parsing: url) }
                let error = try await within(.seconds(10), "connect \(url)") { () async -> MQTTClientError? in
                    do {
                        try await probe.client.connect()
                        return nil
                    } catch {
                        return error as? MQTTClientError
                    }
                }
                #expect(error?.code == code, "\(url): \(String(describing: error))")
                #expect(await probe.client.state == .idle)
            }
        }
    }

    /// A port on 127.0.0.1 nothing listens on (found by trying from a high one down).
    private func closedPort() throws -> Int {
        for port in stride(from: 65_000, to: 60_000, by: -7) where !MosquittoBroker.accepts(port: port) { return port }
        throw TimedOut(description: "no closed port")
    }
}
