public import STUNCore

/// The kind of a candidate (RFC 8445 §5.1.1, RFC 8839 §5.1 `cand-type`).
public enum IceCandidateType: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// An address of a local interface (§5.1.1.1).
    case host
    /// The address a STUN server saw (§5.1.1.2).
    case serverReflexive = "srflx"
    /// An address learnt from connectivity checks (§7.2.5.3.1, §7.3.1.3).
    case peerReflexive = "prflx"
    /// An address allocated on a TURN server (§5.1.1.2, RFC 8656).
    case relay

    /// The recommended type preference (RFC 8445 §5.1.2.2): host 126, prflx 110, srflx 100, relay 0.
    public var typePreference: UInt32 {
        switch self {
        case .host: 126
        case .peerReflexive: 110
        case .serverReflexive: 100
        case .relay: 0
        }
    }

    /// The SDP token (`host`, `srflx`, `prflx`, `relay`).
    public var description: String { rawValue }
}

/// The transport protocol of a candidate (RFC 8839 §5.1 `transport`, RFC 6544 for TCP).
public enum IceTransportProtocol: String, Hashable, Sendable, CustomStringConvertible {
    case udp
    case tcp

    public var description: String { rawValue }
}

/// The role of a TCP candidate (RFC 6544 §4.5 `tcptype`).
public enum IceTcpType: String, Hashable, Sendable, CustomStringConvertible {
    case active
    case passive
    /// Simultaneous open.
    case simultaneousOpen = "so"

    public var description: String { rawValue }
}

/// A candidate's connection address: an IP address, or a hostname such as the mDNS names
/// browsers use to hide their host addresses (`<uuid>.local`, RFC 8839 §5.1, draft-ietf-mmusic-mdns-ice-candidates).
public enum IceCandidateAddress: Hashable, Sendable, CustomStringConvertible {
    case ip(IPAddress)
    case hostname(String)

    /// Parses an IP literal, otherwise a hostname (letters, digits, `-`, `.`; 1–253 characters).
    /// - Returns: nil when the text is neither.
    public init?(_ text: some StringProtocol) {
        if let ip = IPAddress(text), !text.contains("%") {
            self = .ip(ip)
            return
        }
        guard !text.isEmpty, text.utf8.count <= 253, !text.hasPrefix("."), !text.hasPrefix("-"),
            text.utf8.allSatisfy({ byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2D || byte == 0x2E
            }),
            // All digits and dots would be a malformed IPv4 literal, not a name.
            !text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E })
        else { return nil }
        self = .hostname(String(text))
    }

    /// The IP address, or nil for a hostname.
    public var ip: IPAddress? {
        if case .ip(let ip) = self { return ip }
        return nil
    }

    /// True for a hostname ending in `.local` (multicast DNS, RFC 6762).
    public var isMulticastDNSName: Bool {
        if case .hostname(let name) = self { return name.lowercased().hasSuffix(".local") }
        return false
    }

    public var description: String {
        switch self {
        case .ip(let ip): ip.description
        case .hostname(let name): name
        }
    }
}
