public import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import STUNCore
import SignalingMQTT

/// `pod-arcade-server`: every setting is an environment variable and a flag (config.md).
public struct ServerCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pod-arcade-server",
        abstract: "Pod Arcade server: web client, MQTT signaling broker, STUN server.",
        discussion: "Each option can also be set by the environment variable named in its help; a flag wins over the variable.")

    @Option(name: .customLong("http-port"), help: help("HTTP_PORT")) var httpPort: String?
    @Option(name: .customLong("serve-tls"), help: help("SERVE_TLS")) var serveTLS: String?
    @Option(name: .customLong("tls-port"), help: help("TLS_PORT")) var tlsPort: String?
    @Option(name: .customLong("tls-cert"), help: help("TLS_CERT")) var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: help("TLS_KEY")) var tlsKey: String?
    @Option(name: .customLong("mqtt-port"), help: help("MQTT_PORT")) var mqttPort: String?
    @Option(name: .customLong("stun-port"), help: help("STUN_PORT")) var stunPort: String?
    @Option(name: .customLong("ice-servers"), help: help("ICE_SERVERS")) var iceServers: String?
    @Option(name: .customLong("auth-required"), help: help("AUTH_REQUIRED")) var authRequired: String?
    @Option(name: .customLong("desktop-psk"), help: help("DESKTOP_PSK")) var desktopPSK: String?
    @Option(name: .customLong("client-psk"), help: help("CLIENT_PSK")) var clientPSK: String?
    @Option(name: .customLong("oidc-server"), help: help("OIDC_SERVER")) var oidcServer: String?
    @Option(name: .customLong("oidc-client-id"), help: help("OIDC_CLIENT_ID")) var oidcClientID: String?
    @Option(name: .customLong("log-level"), help: help("LOG_LEVEL")) var logLevel: String?

    public init() {}

    static func help(_ variable: String) -> ArgumentHelp {
        let setting = ServerConfiguration.settings.first { $0.variable == variable }!
        let fallback = setting.defaultValue.map { "default: \($0)" } ?? "no default"
        return ArgumentHelp("\(setting.help) (env \(variable); \(fallback))", valueName: "value")
    }

    var flags: [String: String] {
        let pairs: [(String, String?)] = [
            ("HTTP_PORT", httpPort), ("SERVE_TLS", serveTLS), ("TLS_PORT", tlsPort), ("TLS_CERT", tlsCert),
            ("TLS_KEY", tlsKey), ("MQTT_PORT", mqttPort), ("STUN_PORT", stunPort), ("ICE_SERVERS", iceServers),
            ("AUTH_REQUIRED", authRequired), ("DESKTOP_PSK", desktopPSK), ("CLIENT_PSK", clientPSK),
            ("OIDC_SERVER", oidcServer), ("OIDC_CLIENT_ID", oidcClientID), ("LOG_LEVEL", logLevel),
        ]
        return Dictionary(uniqueKeysWithValues: pairs.compactMap { name, value in value.map { (name, $0) } })
    }

    public func run() async throws {
        let configuration: ServerConfiguration
        do {
            configuration = try ServerConfiguration.resolve(flags: flags, environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("pod-arcade-server: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let level = Logger.Level(rawValue: configuration.logLevel.rawValue) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        do {
            try await PodArcadeServer(configuration: configuration).run()
        } catch {
            FileHandle.standardError.write(Data("pod-arcade-server: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Composes the server's services under one service group with graceful shutdown on SIGINT/SIGTERM.
public struct PodArcadeServer: Sendable {
    public let configuration: ServerConfiguration
    private let logger = Logger(label: "pod-arcade.server")

    public init(configuration: ServerConfiguration) {
        self.configuration = configuration
    }

    public func run() async throws {
        var services: [any Service] = []
        if let port = configuration.stunPort {
            services.append(StunServer(
                port: port, responder: .init(software: "pod-arcade-server")))
        } else {
            logger.info("STUN server disabled (STUN_PORT=-1)")
        }
        if configuration.mqttPort != nil || configuration.httpPort != nil {
            services.append(MQTTBrokerService(
                port: configuration.mqttPort, iceServers: configuration.iceServers,
                authenticator: PSKAuthenticator(
                    authRequired: configuration.authRequired, desktopPSK: configuration.desktopPSK,
                    clientPSK: configuration.clientPSK)))
        } else {
            logger.info("MQTT broker disabled (MQTT_PORT=-1 and HTTP_PORT=-1)")
        }
        logger.info("configuration loaded", metadata: [
            "auth_method": "\(configuration.authMethod.rawValue)",
            "ice_servers": "\(configuration.iceServers.count)",
        ])
        if services.isEmpty {
            // Nothing to serve yet, but stay up until asked to stop, like a server with idle listeners.
            services.append(IdleService())
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Waits for graceful shutdown; keeps the process alive when no listener is enabled.
struct IdleService: Service {
    func run() async throws {
        try? await gracefulShutdown()
    }
}
