public import ArgumentParser
import Foundation
public import Logging
public import Prometheus
import ServiceLifecycle
import STUNCore
public import SignalingMQTT

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
            throw Self.report(error)
        }
        let level = Logger.Level(rawValue: configuration.logLevel.rawValue) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let tls: TLSMaterial?
        let authenticator: any PodArcadeAuthenticator
        do {
            tls = try PodArcadeServer.loadTLS(configuration)
            authenticator = try await PodArcadeServer.makeAuthenticator(configuration)
        } catch {
            throw Self.report(error)
        }
        let registry = MetricsExporter.bootstrapMetricsSystem()
        do {
            try await PodArcadeServer(
                configuration: configuration, tls: tls, authenticator: authenticator, metricsRegistry: registry
            ).run()
        } catch {
            FileHandle.standardError.write(Data("pod-arcade-server: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// Writes one line naming the variable (config.md); the caller exits with status 2.
    private static func report(_ error: ConfigurationError) -> ExitCode {
        FileHandle.standardError.write(Data("pod-arcade-server: \(error)\n".utf8))
        return ExitCode(2)
    }
}

/// Composes the server's services under one service group with graceful shutdown on SIGINT/SIGTERM.
public struct PodArcadeServer: Sendable {
    public let configuration: ServerConfiguration
    private let tls: TLSMaterial?
    private let authenticator: (any PodArcadeAuthenticator)?
    private let metricsRegistry: PrometheusCollectorRegistry
    private let logger = Logger(label: "pod-arcade.server")

    /// - Parameters:
    ///   - configuration: the validated settings.
    ///   - tls: HTTPS certificate and key (``loadTLS(_:)``); when TLS is on and this is nil a
    ///     self-signed certificate is generated.
    ///   - authenticator: checks MQTT credentials (``makeAuthenticator(_:)``); nil for the
    ///     pre-shared keys of the configuration.
    ///   - metricsRegistry: the registry swift-metrics was bootstrapped with, served on `/metrics`.
    public init(
        configuration: ServerConfiguration, tls: TLSMaterial? = nil, authenticator: (any PodArcadeAuthenticator)? = nil,
        metricsRegistry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
    ) {
        self.configuration = configuration
        self.tls = tls
        self.authenticator = authenticator
        self.metricsRegistry = metricsRegistry
    }

    /// Reads `TLS_CERT`/`TLS_KEY` when TLS is on and they are given.
    /// - Throws: ``ConfigurationError`` naming the file's variable.
    public static func loadTLS(_ configuration: ServerConfiguration) throws(ConfigurationError) -> TLSMaterial? {
        guard configuration.serveTLS, let certificate = configuration.tlsCertificatePath, let key = configuration.tlsKeyPath else {
            return nil
        }
        return try TLSMaterial.load(certificatePath: certificate, keyPath: key)
    }

    /// The authenticator for the configuration's method; for OpenID Connect it fetches the
    /// issuer's discovery document and keys first.
    /// - Throws: ``ConfigurationError`` naming `OIDC_SERVER` when the issuer cannot be used.
    public static func makeAuthenticator(
        _ configuration: ServerConfiguration, logger: Logger = Logger(label: "pod-arcade.oidc")
    ) async throws(ConfigurationError) -> any PodArcadeAuthenticator {
        guard configuration.authMethod == .oidc, let issuer = configuration.oidcServer, let clientID = configuration.oidcClientID else {
            return PSKAuthenticator(
                authRequired: configuration.authRequired, desktopPSK: configuration.desktopPSK, clientPSK: configuration.clientPSK)
        }
        let transport = OIDCIssuerTransport(issuer: issuer)
        let verifier: OIDCTokenVerifier
        do {
            let discovery = try await transport.discover()
            verifier = OIDCTokenVerifier(
                issuer: discovery.issuer, clientID: clientID, logger: logger,
                fetchKeySet: { try await transport.keySet(discovery) })
            try await verifier.loadKeys(now: Date())
            logger.info("OIDC issuer ready", metadata: ["issuer": "\(discovery.issuer)", "jwks_uri": "\(discovery.jwksURI)"])
        } catch {
            throw ConfigurationError(variable: "OIDC_SERVER", value: issuer.absoluteString, expected: "a reachable OpenID Connect issuer (\(error))")
        }
        return OIDCAuthenticator(verifier: verifier, desktopPSK: configuration.desktopPSK, clock: { Date() })
    }

    public func run() async throws {
        var services: [any Service] = []
        if let port = configuration.stunPort {
            services.append(StunServer(
                port: port, responder: .init(software: "pod-arcade-server")))
        } else {
            logger.info("STUN server disabled (STUN_PORT=-1)")
        }
        var broker: MQTTBrokerService?
        if configuration.mqttPort != nil || configuration.httpPort != nil || configuration.serveTLS {
            let service = MQTTBrokerService(
                port: configuration.mqttPort, iceServers: configuration.iceServers,
                authenticator: authenticator ?? PSKAuthenticator(
                    authRequired: configuration.authRequired, desktopPSK: configuration.desktopPSK,
                    clientPSK: configuration.clientPSK))
            services.append(service)
            broker = service
        } else {
            logger.info("MQTT broker disabled (MQTT_PORT=-1, HTTP_PORT=-1 and SERVE_TLS off)")
        }
        if let broker {
            let responder = PodArcadeHTTPResponder(
                webRoot: Self.loadWebRoot(logger: logger), clientConfig: ClientConfigDocument(configuration: configuration),
                metrics: MetricsExporter(registry: metricsRegistry, runtime: broker.runtime))
            let httpLogger = Logger(label: "pod-arcade.http")
            if let port = configuration.httpPort {
                services.append(try HTTPServerTransport.listener(
                    port: port, tls: nil, responder: responder, runtime: broker.runtime, logger: httpLogger))
            } else {
                logger.info("HTTP disabled (HTTP_PORT=-1)")
            }
            if configuration.serveTLS {
                let material = try tls ?? generateCertificate()
                services.append(try HTTPServerTransport.listener(
                    port: configuration.tlsPort, tls: material, responder: responder, runtime: broker.runtime, logger: httpLogger))
            }
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

    private func generateCertificate() throws -> TLSMaterial {
        let (material, _, _) = try TLSMaterial.generateSelfSigned(now: Date())
        logger.notice("TLS_CERT and TLS_KEY not given: generated a self-signed certificate", metadata: [
            "sha256_fingerprint": "\(material.fingerprint)",
        ])
        return material
    }

    /// The web client's files from the ServerHost resource bundle (`WebClient/`).
    static func loadWebRoot(logger: Logger) -> WebRoot {
        // `Bundle.module` stops the process when its folder is neither next to the executable
        // nor in the build folder it was built in (a binary copied elsewhere alone): look first.
        let besideExecutable = Bundle.main.bundleURL.appendingPathComponent("pod-arcade_ServerHost.resources")
        guard FileManager.default.fileExists(atPath: besideExecutable.path),
            let url = Bundle.module.url(forResource: "WebClient", withExtension: nil)
        else {
            logger.error(
                "web client files not found: copy pod-arcade_ServerHost.resources next to the executable; / will answer 404",
                metadata: ["looked_in": "\(besideExecutable.path)"])
            return WebRoot(files: [:])
        }
        do {
            let root = try WebRoot(directory: url)
            logger.debug("web client loaded", metadata: ["files": "\(root.files.count)", "from": "\(url.path)"])
            return root
        } catch {
            logger.error("cannot read the web client files; / will answer 404", metadata: ["error": "\(error)"])
            return WebRoot(files: [:])
        }
    }
}

/// Waits for graceful shutdown; keeps the process alive when no listener is enabled.
struct IdleService: Service {
    func run() async throws {
        try? await gracefulShutdown()
    }
}
