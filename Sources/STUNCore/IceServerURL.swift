/// A STUN or TURN server URL (RFC 7064 §3.1, RFC 7065 §3.1).
///
/// ```
/// stunURI = scheme ":" host [ ":" port ]          scheme = "stun" / "stuns"
/// turnURI = scheme ":" host [ ":" port ] [ "?transport=" transport ]
///                                                  scheme = "turn" / "turns"; transport = "udp" / "tcp"
/// ```
/// `?transport=` is also accepted on `stun:` URLs, because deployments written for the
/// original Pod Arcade use `stun:host:3478?transport=udp`.
public struct IceServerURL: Hashable, Sendable, CustomStringConvertible {
    public enum Scheme: String, Hashable, Sendable, CaseIterable {
        case stun, stuns, turn, turns

        /// True for `stuns:` and `turns:` (TLS, RFC 7064 §3.2, RFC 7065 §3.2).
        public var isSecure: Bool { self == .stuns || self == .turns }
        /// True for `turn:` and `turns:`.
        public var isTURN: Bool { self == .turn || self == .turns }
        /// 3478, or 5349 for the secure schemes (RFC 7064 §3.2, RFC 7065 §3.2).
        public var defaultPort: UInt16 { isSecure ? 5349 : 3478 }
    }

    public enum Transport: String, Hashable, Sendable {
        case udp, tcp
    }

    /// Hosts: an IP literal (IPv6 without brackets here) or a DNS name.
    public enum Host: Hashable, Sendable, CustomStringConvertible {
        case ip(IPAddress)
        case name(String)

        public var description: String {
            switch self {
            case .ip(let ip): if case .v6 = ip { "[\(ip)]" } else { "\(ip)" }
            case .name(let name): name
            }
        }
    }

    public var scheme: Scheme
    public var host: Host
    public var port: UInt16
    /// The transport to reach the server over. Secure schemes always use TCP (TLS); plain ones
    /// default to UDP (RFC 7065 §3: "transport ... defaults to UDP" for turn).
    public var transport: Transport

    public init(scheme: Scheme, host: Host, port: UInt16? = nil, transport: Transport? = nil) {
        self.scheme = scheme
        self.host = host
        self.port = port ?? scheme.defaultPort
        self.transport = transport ?? (scheme.isSecure ? .tcp : .udp)
    }

    /// Parses a URL.
    /// - Throws: ``IceServerURLError`` saying what part is wrong.
    public init(parsing text: String) throws(IceServerURLError) {
        guard let colon = text.firstIndex(of: ":") else { throw .init(url: text, problem: "no scheme (expected stun:, stuns:, turn: or turns:)") }
        guard let scheme = Scheme(rawValue: text[..<colon].lowercased()) else {
            throw .init(url: text, problem: "unknown scheme '\(text[..<colon])' (expected stun, stuns, turn or turns)")
        }
        var rest = text[text.index(after: colon)...]
        if rest.hasPrefix("//") {
            throw .init(url: text, problem: "'//' is not part of a \(scheme.rawValue): URL (RFC 7064/7065 take scheme:host:port)")
        }
        var transport: Transport?
        if let question = rest.firstIndex(of: "?") {
            let query = rest[rest.index(after: question)...]
            rest = rest[..<question]
            guard query.lowercased().hasPrefix("transport=") else {
                throw .init(url: text, problem: "unknown query '\(query)' (only ?transport=udp|tcp is defined)")
            }
            let value = query.dropFirst("transport=".count).lowercased()
            guard let parsed = Transport(rawValue: value) else {
                throw .init(url: text, problem: "transport '\(value)' is not udp or tcp")
            }
            if scheme.isSecure && parsed == .udp {
                throw .init(url: text, problem: "\(scheme.rawValue): runs over TLS, so transport=udp is not possible")
            }
            transport = parsed
        }
        let hostText: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw .init(url: text, problem: "unclosed '[' in IPv6 host") }
            hostText = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .init(url: text, problem: "unexpected '\(after)' after IPv6 host") }
                portText = after.dropFirst()
            }
            guard case .v6? = IPAddress(hostText) else { throw .init(url: text, problem: "'\(hostText)' is not an IPv6 address") }
        } else {
            if let portColon = rest.lastIndex(of: ":") {
                guard rest.firstIndex(of: ":") == portColon else {
                    throw .init(url: text, problem: "IPv6 hosts must be in brackets, e.g. \(scheme.rawValue):[2001:db8::1]:3478")
                }
                hostText = rest[..<portColon]
                portText = rest[rest.index(after: portColon)...]
            } else {
                hostText = rest
            }
        }
        guard !hostText.isEmpty else { throw .init(url: text, problem: "missing host") }
        var port: UInt16?
        if let portText {
            guard let value = UInt16(portText), value > 0 else {
                throw .init(url: text, problem: "port '\(portText)' is not a number from 1 to 65535")
            }
            port = value
        }
        let host: Host
        if let ip = IPAddress(hostText), !hostText.contains("%") {
            host = .ip(ip)
        } else {
            // RFC 3986 reg-name, restricted to what DNS names use.
            let allowed = hostText.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }
            guard allowed, !hostText.hasPrefix("."), !hostText.hasPrefix("-"), hostText.count <= 253 else {
                throw .init(url: text, problem: "'\(hostText)' is not a valid host name")
            }
            host = .name(hostText.lowercased())
        }
        self.init(scheme: scheme, host: host, port: port, transport: transport)
    }

    public var description: String {
        var text = "\(scheme.rawValue):\(host):\(port)"
        if scheme.isTURN || transport != .udp { text += "?transport=\(transport.rawValue)" }
        return text
    }
}

/// A URL in an ICE server list that does not follow RFC 7064/7065.
public struct IceServerURLError: Error, Hashable, Sendable, CustomStringConvertible {
    public let url: String
    public let problem: String

    public var description: String { "'\(url)': \(problem)" }
}
