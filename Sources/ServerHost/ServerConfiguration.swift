public import Foundation
public import STUNCore

/// Everything `pod-arcade-server` is configured with (config.md), validated.
public struct ServerConfiguration: Sendable {
    /// How users authenticate (protocol.md, `/config.json` `auth_method`).
    public enum AuthMethod: String, Sendable {
        case none, psk, oidc
    }

    /// Plain HTTP port; nil when disabled.
    public var httpPort: Int?
    public var serveTLS: Bool
    public var tlsPort: Int
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    /// MQTT over TCP port; nil when disabled.
    public var mqttPort: Int?
    /// Built-in STUN server port; nil when disabled (the default).
    public var stunPort: Int?
    public var iceServers: [IceServer]
    public var authRequired: Bool
    public var desktopPSK: String?
    public var clientPSK: String?
    public var oidcServer: URL?
    public var oidcClientID: String?
    public var logLevel: LogLevelSetting

    /// `psk` when `CLIENT_PSK` is set, `oidc` when the OpenID Connect issuer is set and there is
    /// no `CLIENT_PSK`, else `none` (config.md).
    public var authMethod: AuthMethod {
        guard authRequired else { return .none }
        if clientPSK != nil { return .psk }
        if oidcServer != nil { return .oidc }
        return .none
    }

    /// The settings, with their variables, flags and defaults, in `--help` order.
    public static let settings: [Setting] = [
        Setting("HTTP_PORT", "8080", "plain HTTP port for the web client, /config.json, /metrics and /mqtt; -1 disables"),
        Setting("SERVE_TLS", "false", "also serve HTTPS"),
        Setting("TLS_PORT", "8443", "HTTPS port"),
        Setting("TLS_CERT", nil, "PEM certificate file; generated self-signed when TLS is on and it is missing"),
        Setting("TLS_KEY", nil, "PEM private key file for TLS_CERT"),
        Setting("MQTT_PORT", "1883", "plain MQTT over TCP port; -1 disables"),
        Setting("STUN_PORT", "-1", "built-in STUN server on UDP (IPv4 and IPv6); -1 disables, 0 picks a free port"),
        Setting("ICE_SERVERS", "[]", "JSON array of ICE servers for clients, published retained on server/ice-servers"),
        Setting("AUTH_REQUIRED", "false", "require authentication"),
        Setting("DESKTOP_PSK", nil, "pre-shared key desktops must present", secret: true),
        Setting("CLIENT_PSK", nil, "pre-shared key users must present (auth method psk)", secret: true),
        Setting("OIDC_SERVER", nil, "OpenID Connect issuer URL (auth method oidc when no CLIENT_PSK)"),
        Setting("OIDC_CLIENT_ID", nil, "OpenID Connect client id"),
        Setting("LOG_LEVEL", "info", "trace, debug, info, warning or error"),
    ]

    /// Resolves and validates every setting: a flag wins over the variable, which wins over the default.
    /// - Parameters:
    ///   - flags: values given on the command line, keyed by variable name.
    ///   - environment: the process environment.
    ///   - fileExists: checks TLS file paths (injected for tests).
    /// - Throws: ``ConfigurationError`` for the first setting that is wrong.
    public static func resolve(
        flags: [String: String], environment: [String: String],
        fileExists: ((String) -> Bool)? = nil
    ) throws(ConfigurationError) -> ServerConfiguration {
        let fileExists = fileExists ?? { FileManager.default.isReadableFile(atPath: $0) }
        func value(_ name: String) -> String? {
            if let flag = flags[name] { return flag }
            if let env = environment[name], !env.isEmpty { return env }
            return settings.first { $0.variable == name }?.defaultValue
        }
        func nonEmpty(_ name: String) -> String? {
            guard let text = value(name)?.trimmingWhitespace(), !text.isEmpty else { return nil }
            return text
        }

        let logLevel = try LogLevelSetting(parsing: value("LOG_LEVEL") ?? "info")
        let httpPort = try SettingValue.port(value("HTTP_PORT")!, variable: "HTTP_PORT")
        let serveTLS = try SettingValue.bool(value("SERVE_TLS")!, variable: "SERVE_TLS")
        guard let tlsPort = try SettingValue.port(value("TLS_PORT")!, variable: "TLS_PORT", allowDisable: false) else {
            throw ConfigurationError(variable: "TLS_PORT", value: value("TLS_PORT"), expected: "a port number 0-65535")
        }
        let mqttPort = try SettingValue.port(value("MQTT_PORT")!, variable: "MQTT_PORT")
        let stunPort = try SettingValue.port(value("STUN_PORT")!, variable: "STUN_PORT")

        if serveTLS, let httpPort, httpPort != 0, httpPort == tlsPort {
            throw ConfigurationError(variable: "TLS_PORT", value: value("TLS_PORT"), expected: "a port other than HTTP_PORT")
        }
        let certificate = nonEmpty("TLS_CERT"), key = nonEmpty("TLS_KEY")
        if (certificate == nil) != (key == nil) {
            let missing = certificate == nil ? "TLS_CERT" : "TLS_KEY"
            throw ConfigurationError(variable: missing, value: nil, expected: "TLS_CERT and TLS_KEY must be given together")
        }
        if serveTLS {
            for (variable, path) in [("TLS_CERT", certificate), ("TLS_KEY", key)] {
                if let path, !fileExists(path) {
                    throw ConfigurationError(variable: variable, value: path, expected: "a readable PEM file")
                }
            }
        }

        let iceServers: [IceServer]
        do {
            iceServers = try IceServer.parseList(json: value("ICE_SERVERS") ?? "[]")
        } catch {
            throw ConfigurationError(variable: "ICE_SERVERS", value: nil, expected: error.description)
        }

        let authRequired = try SettingValue.bool(value("AUTH_REQUIRED")!, variable: "AUTH_REQUIRED")
        let desktopPSK = nonEmpty("DESKTOP_PSK"), clientPSK = nonEmpty("CLIENT_PSK")
        var oidcServer: URL?
        if let text = nonEmpty("OIDC_SERVER") {
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http",
                url.host != nil
            else {
                throw ConfigurationError(variable: "OIDC_SERVER", value: text, expected: "an http(s) issuer URL such as https://auth.example.org/realms/pod")
            }
            oidcServer = url
        }
        let oidcClientID = nonEmpty("OIDC_CLIENT_ID")
        if oidcServer != nil && oidcClientID == nil && clientPSK == nil {
            throw ConfigurationError(variable: "OIDC_CLIENT_ID", value: nil, expected: "required when OIDC_SERVER is set")
        }
        if authRequired {
            if clientPSK == nil && oidcServer == nil {
                throw ConfigurationError(
                    variable: "AUTH_REQUIRED", value: value("AUTH_REQUIRED"),
                    expected: "authentication needs CLIENT_PSK, or OIDC_SERVER and OIDC_CLIENT_ID, for users")
            }
            if desktopPSK == nil {
                throw ConfigurationError(variable: "DESKTOP_PSK", value: nil, expected: "required when AUTH_REQUIRED is true")
            }
        }

        return ServerConfiguration(
            httpPort: httpPort, serveTLS: serveTLS, tlsPort: tlsPort, tlsCertificatePath: certificate,
            tlsKeyPath: key, mqttPort: mqttPort, stunPort: stunPort, iceServers: iceServers,
            authRequired: authRequired, desktopPSK: desktopPSK, clientPSK: clientPSK, oidcServer: oidcServer,
            oidcClientID: oidcClientID, logLevel: logLevel)
    }
}

/// One setting: its environment variable, the matching flag, default and help.
public struct Setting: Sendable {
    public let variable: String
    public let defaultValue: String?
    public let help: String
    /// Never echoed back in errors or logs.
    public let secret: Bool

    init(_ variable: String, _ defaultValue: String?, _ help: String, secret: Bool = false) {
        self.variable = variable
        self.defaultValue = defaultValue
        self.help = help
        self.secret = secret
    }

    /// `STUN_PORT` → `stun-port`.
    public var flag: String { variable.lowercased().replacingOccurrences(of: "_", with: "-") }
}
