public import Logging
import Metrics
import NIOCore
import NIOPosix
public import ServiceLifecycle
public import SignalingMQTT
public import STUNCore

/// The embedded MQTT broker on `MQTT_PORT` with the Pod Arcade rules (protocol.md), and the
/// server's own retained `server/ice-servers` message, republished hourly.
public final class MQTTBrokerService: Service, Sendable {
    public let runtime: MQTTBrokerRuntime<PodArcadeBrokerPolicy>
    private let port: Int?
    private let iceServersJSON: String
    private let logger: Logger
    private let onBound: @Sendable (Int) -> Void

    /// - Parameters:
    ///   - port: TCP port for MQTT, nil for none (the WebSocket endpoint can still use the runtime).
    ///   - authenticator: checks credentials (PSK or OIDC).
    public init(
        port: Int?, iceServers: [IceServer], authenticator: any PodArcadeAuthenticator,
        configuration: MQTTBrokerConfiguration = .init(), logger: Logger = Logger(label: "pod-arcade.mqtt"),
        onBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        let policy = PodArcadeBrokerPolicy()
        self.port = port
        self.iceServersJSON = IceServer.json(for: iceServers)
        self.logger = logger
        self.onBound = onBound
        self.runtime = MQTTBrokerRuntime(
            broker: MQTTBroker(configuration: configuration, policy: policy), logger: logger,
            authenticator: { connect in
                guard case .success(let identity) = policy.identity(for: connect) else { return .failure(.clientIdentifierNotValid) }
                switch await authenticator.authenticate(identity: identity, username: connect.username, password: connect.password) {
                case .accepted: return .success(())
                case .rejected(let error):
                    return .failure(policy.refusalCode(for: error, version: connect.version))
                }
            },
            onEvent: { event in MQTTBrokerService.record(event, logger: logger) })
    }

    public func run() async throws {
        if let port {
            let address = try await runtime.listenTCP(host: "::", port: port)
            logger.info("MQTT broker listening", metadata: ["address": "tcp \(address)"])
            onBound(address.port ?? port)
        }
        try await publishIceServers()
        // protocol.md: `server/ice-servers` is republished hourly.
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(3600))
                    if Task.isCancelled { break }
                    try? await self.publishIceServers()
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        await runtime.shutdown()
        logger.info("MQTT broker stopped")
    }

    private func publishIceServers() async throws {
        try await runtime.publish(
            topic: "server/ice-servers", payload: ByteBuffer(string: iceServersJSON), qos: .atLeastOnce, retain: true)
    }

    private static let connections = Counter(label: "pod_arcade_mqtt_connections_total")
    private static let refused = Counter(label: "pod_arcade_mqtt_refused_total")
    private static let malformed = Counter(label: "pod_arcade_mqtt_malformed_total")
    private static let publishRefused = Counter(label: "pod_arcade_mqtt_publish_refused_total")
    private static let dropped = Counter(label: "pod_arcade_mqtt_dropped_messages_total")

    /// Creates the counters, so that `/metrics` lists them at 0 before the first event.
    static func registerMetrics() {
        _ = (connections, refused, malformed, publishRefused, dropped)
    }

    static func record(_ event: MQTTBrokerEvent, logger: Logger) {
        switch event {
        case .connected(let id, let clientID, let kind, let version, let present):
            connections.increment()
            logger.info("MQTT client connected", metadata: ["connection": "\(id)", "client": "\(clientID)", "kind": "\(kind)", "version": "\(version)", "session_present": "\(present)"])
        case .refused(let id, let clientID, let reason):
            refused.increment()
            logger.info("MQTT connection refused", metadata: ["connection": "\(id)", "client": "\(clientID ?? "-")", "reason": "\(reason)"])
        case .disconnected(let id, let clientID, _, let reason):
            logger.info("MQTT client disconnected", metadata: ["connection": "\(id)", "client": "\(clientID)", "reason": "\(reason)"])
        case .malformed(let id, let description, _):
            malformed.increment()
            logger.info("MQTT connection closed: malformed packet", metadata: ["connection": "\(id)", "error": "\(description)"])
        case .protocolViolation(let id, let description, _):
            malformed.increment()
            logger.info("MQTT connection closed: protocol violation", metadata: ["connection": "\(id)", "error": "\(description)"])
        case .publishRefused(let id, let clientID, let topic):
            publishRefused.increment()
            logger.info("MQTT publish refused", metadata: ["connection": "\(id)", "client": "\(clientID)", "topic": "\(topic)"])
        case .subscribeRefused(let id, let clientID, let filter):
            logger.info("MQTT subscribe refused", metadata: ["connection": "\(id)", "client": "\(clientID)", "filter": "\(filter)"])
        case .messageDropped(let clientID):
            dropped.increment()
            logger.debug("MQTT message dropped: queue full", metadata: ["client": "\(clientID)"])
        case .slowClientDisconnected(let id, let clientID):
            logger.info("MQTT slow client disconnected", metadata: ["connection": "\(id)", "client": "\(clientID)"])
        case .willPublished(let clientID, let topic):
            logger.debug("MQTT will published", metadata: ["client": "\(clientID)", "topic": "\(topic)"])
        }
    }
}
