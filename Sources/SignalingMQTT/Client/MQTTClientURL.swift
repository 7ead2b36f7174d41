/// Where an ``MQTTClient`` connects: the `MQTT_HOST` URL of config.md.
///
/// Accepted forms (scheme case-insensitive):
///
/// | scheme | transport | TLS | default port |
/// |---|---|---|---|
/// | `tcp`, `mqtt` | MQTT over TCP | no | 1883 |
/// | `ssl`, `mqtts` | MQTT over TCP | yes | 8883 |
/// | `ws` | MQTT over WebSocket (path default `/mqtt`) | no | 80 |
/// | `wss` | MQTT over WebSocket (path default `/mqtt`) | yes | 443 |
///
/// An IPv6 literal goes in brackets (`tcp://[::1]:1883`). TCP URLs take no path (a lone `/` is
/// allowed); WebSocket URLs keep path and query as the request target. User info (`user@host`)
/// is refused: credentials go in ``MQTTClientConfiguration``, not in a URL that gets logged.
public struct MQTTClientURL: Hashable, Sendable, CustomStringConvertible {
    public enum Transport: Hashable, Sendable {
        /// The MQTT byte stream directly on TCP (MQTT 5.0 §4.2).
        case tcp
        /// Binary WebSocket frames with subprotocol `mqtt` (MQTT 5.0 §6).
        case webSocket
    }

    public var transport: Transport
    public var usesTLS: Bool
    /// A DNS name or an IP literal, without brackets.
    public var host: String
    public var port: Int
    /// The WebSocket request target (path and query); empty for TCP.
    public var path: String

    public init(transport: Transport, usesTLS: Bool, host: String, port: Int, path: String = "") {
        self.transport = transport
        self.usesTLS = usesTLS
        self.host = host
        self.port = port
        self.path = path
    }

    /// Parses an `MQTT_HOST` value.
    ///
    /// - Parameter string: e.g. `tcp://localhost:1883`, `mqtts://broker`, `wss://[2001:db8::1]/mqtt`.
    ///   Surrounding whitespace is ignored.
    /// - Throws: ``MQTTClientURLError`` naming the part that is wrong.
    public init(parsing string: String) throws(MQTTClientURLError) {
        let text = string.trimmingWhitespace()
        func fail(_ code: MQTTClientURLError.Code, _ detail: String) -> MQTTClientURLError {
            MQTTClientURLError(code, url: string, detail: detail)
        }
        guard let separator = text.firstRange(of: "://") else {
            throw fail(.missingScheme, "expected scheme://host[:port], e.g. tcp://localhost:1883")
        }
        let scheme = text[..<separator.lowerBound].lowercased()
        switch scheme {
        case "tcp", "mqtt": (transport, usesTLS, port) = (.tcp, false, 1883)
        case "ssl", "mqtts": (transport, usesTLS, port) = (.tcp, true, 8883)
        case "ws": (transport, usesTLS, port) = (.webSocket, false, 80)
        case "wss": (transport, usesTLS, port) = (.webSocket, true, 443)
        default:
            throw fail(.unsupportedScheme, "scheme \"\(scheme)\" is not one of tcp, mqtt, ssl, mqtts, ws, wss")
        }

        // Authority ends at the first '/', '?' or '#'.
        var rest = text[separator.upperBound...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }  // fragments are never sent
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var target = String(rest[authorityEnd...])
        guard !authority.contains("@") else {
            throw fail(.userInfoNotAllowed, "credentials belong in the configuration, not in the URL")
        }

        // Host: a bracketed IPv6 literal or a name / IPv4 address; then an optional ":port".
        let portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw fail(.invalidHost, "IPv6 literal has no closing ']'")
            }
            let literal = authority[authority.index(after: authority.startIndex)..<close]
            guard literal.contains(":"), literal.allSatisfy(\.isIPv6LiteralCharacter) else {
                throw fail(.invalidHost, "\"\(literal)\" is not an IPv6 address")
            }
            host = String(literal)
            let after = authority[authority.index(after: close)...]
            if after.isEmpty {
                portText = nil
            } else if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else {
                throw fail(.invalidHost, "unexpected \"\(after)\" after the IPv6 literal")
            }
        } else {
            let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else {
                throw fail(.invalidHost, "an IPv6 address must be in brackets, e.g. tcp://[::1]:1883")
            }
            host = String(parts[0])
            portText = parts.count == 2 ? parts[1] : nil
            guard host.allSatisfy(\.isHostNameCharacter) else {
                throw fail(.invalidHost, "\"\(host)\" is not a host name or address")
            }
        }
        guard !host.isEmpty else { throw fail(.missingHost, "no host after \"\(scheme)://\"") }

        if let portText {
            guard let value = Int(portText), portText.allSatisfy(\.isASCIIDigit), (1...65535).contains(value) else {
                throw fail(.invalidPort, "port \"\(portText)\" is not a number from 1 to 65535")
            }
            port = value
        }

        switch transport {
        case .tcp:
            guard target.isEmpty || target == "/" else {
                throw fail(.pathNotAllowed, "\(scheme):// takes no path, found \"\(target)\"; use ws:// or wss:// for a WebSocket path")
            }
            target = ""
        case .webSocket:
            if target.isEmpty { target = "/mqtt" } else if target.hasPrefix("?") { target = "/mqtt" + target }
            guard target.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                throw fail(.invalidPath, "path \"\(target)\" must be ASCII without spaces (percent-encode the rest)")
            }
        }
        path = target
    }

    /// Whether ``host`` is an IP literal (then TLS sends no SNI and checks the certificate's IP).
    public var hostIsIPAddress: Bool {
        host.contains(":") || (!host.isEmpty && host.allSatisfy { $0.isASCIIDigit || $0 == "." })
    }

    /// The default port of this URL's transport and TLS use.
    public var defaultPort: Int {
        switch (transport, usesTLS) {
        case (.tcp, false): 1883
        case (.tcp, true): 8883
        case (.webSocket, false): 80
        case (.webSocket, true): 443
        }
    }

    /// `host[:port]` for an HTTP `Host` header (RFC 9110 §7.2): brackets around IPv6, no default port.
    var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == defaultPort ? name : "\(name):\(port)"
    }

    /// The URL in canonical form, e.g. `ws://[::1]:80/mqtt`.
    public var description: String {
        let scheme =
            switch (transport, usesTLS) {
            case (.tcp, false): "tcp"
            case (.tcp, true): "ssl"
            case (.webSocket, false): "ws"
            case (.webSocket, true): "wss"
            }
        let name = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(name):\(port)\(path)"
    }
}

/// Why an `MQTT_HOST` URL was refused. Match on ``code``; ``description`` is one line naming the
/// URL, what is wrong and what was expected (config.md asks start-up errors to read that way).
public struct MQTTClientURLError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case missingScheme, unsupportedScheme, userInfoNotAllowed, missingHost, invalidHost, invalidPort
            case pathNotAllowed, invalidPath
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// No `scheme://`.
        public static let missingScheme = Code(.missingScheme)
        /// A scheme other than tcp, mqtt, ssl, mqtts, ws, wss.
        public static let unsupportedScheme = Code(.unsupportedScheme)
        /// `user[:password]@` before the host.
        public static let userInfoNotAllowed = Code(.userInfoNotAllowed)
        /// Nothing between `://` and the port or path.
        public static let missingHost = Code(.missingHost)
        /// Characters a host name cannot have, an unbracketed IPv6 address, or a bad bracket.
        public static let invalidHost = Code(.invalidHost)
        /// A port that is not a decimal number in 1...65535.
        public static let invalidPort = Code(.invalidPort)
        /// A path on a TCP URL.
        public static let pathNotAllowed = Code(.pathNotAllowed)
        /// A WebSocket path with spaces or non-ASCII characters.
        public static let invalidPath = Code(.invalidPath)

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// The URL as given.
    public let url: String
    /// What is wrong and what was expected.
    public let detail: String

    public init(_ code: Code, url: String, detail: String) {
        self.code = code
        self.url = url
        self.detail = detail
    }

    public var description: String { "invalid MQTT URL \"\(url)\": \(detail)" }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
    fileprivate var isHostNameCharacter: Bool { isASCII && (isLetter || isNumber || self == "-" || self == "." || self == "_") }
    /// Hex digits, ':' and '.' (embedded IPv4), and '%' for a zone id (RFC 6874), whose name may
    /// have letters, digits, '-', '_' and '.'.
    fileprivate var isIPv6LiteralCharacter: Bool {
        isASCII && (isLetter || isNumber || self == ":" || self == "." || self == "%" || self == "-" || self == "_")
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[first...last])
    }
}
