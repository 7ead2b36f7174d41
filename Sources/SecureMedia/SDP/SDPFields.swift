/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>` (RFC 8866 §5.2).
///
/// JSEP (RFC 8829 §5.2.1) makes the session id a random 63-bit number and bumps the version
/// on every new description.
public struct SDPOrigin: Hashable, Sendable {
    public var username: String
    public var sessionID: UInt64
    public var sessionVersion: UInt64
    public var networkType: String
    public var addressType: String
    public var address: String

    public init(
        username: String = "-", sessionID: UInt64, sessionVersion: UInt64, networkType: String = "IN",
        addressType: String = "IP4", address: String = "127.0.0.1"
    ) {
        self.username = username
        self.sessionID = sessionID
        self.sessionVersion = sessionVersion
        self.networkType = networkType
        self.addressType = addressType
        self.address = address
    }

    init?(value: Substring) {
        let parts = value.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 6, parts.allSatisfy({ !$0.isEmpty }),
            parts[1].utf8.allSatisfy(isDigit), parts[2].utf8.allSatisfy(isDigit),
            let id = UInt64(parts[1]), let version = UInt64(parts[2])
        else { return nil }
        self.init(
            username: String(parts[0]), sessionID: id, sessionVersion: version, networkType: String(parts[3]),
            addressType: String(parts[4]), address: String(parts[5]))
    }

    public var value: String { "\(username) \(sessionID) \(sessionVersion) \(networkType) \(addressType) \(address)" }
}

/// `c=<nettype> <addrtype> <connection-address>` (RFC 8866 §5.7). The address keeps any
/// `/ttl` or `/count` suffix as written.
public struct SDPConnection: Hashable, Sendable {
    public var networkType: String
    public var addressType: String
    public var address: String

    public init(networkType: String = "IN", addressType: String = "IP4", address: String) {
        self.networkType = networkType
        self.addressType = addressType
        self.address = address
    }

    init?(value: Substring) {
        let parts = value.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        self.init(networkType: String(parts[0]), addressType: String(parts[1]), address: String(parts[2]))
    }

    /// `IN IP4 0.0.0.0`: the placeholder JSEP writes before candidates are known (RFC 8829 §5.2.1).
    public static let placeholder = SDPConnection(address: "0.0.0.0")

    public var value: String { "\(networkType) \(addressType) \(address)" }
}

/// `b=<bwtype>:<bandwidth>` (RFC 8866 §5.8), e.g. `AS:2000` or `TIAS:2000000`.
public struct SDPBandwidth: Hashable, Sendable {
    public var type: String
    public var value: UInt64

    public init(type: String, value: UInt64) {
        self.type = type
        self.value = value
    }

    init?(value text: Substring) {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let type = text[..<colon]
        let number = text[text.index(after: colon)...]
        guard !type.isEmpty, type.utf8.allSatisfy(isTokenChar), !number.isEmpty, number.utf8.count <= 19,
            number.utf8.allSatisfy(isDigit), let value = UInt64(number)
        else { return nil }
        self.init(type: String(type), value: value)
    }

    public var text: String { "\(type):\(value)" }
}

/// `t=<start-time> <stop-time>` with its `r=` repeat lines kept as written (RFC 8866 §5.9, §5.10).
public struct SDPTiming: Hashable, Sendable {
    public var start: UInt64
    public var stop: UInt64
    public var repeats: [String]

    public init(start: UInt64 = 0, stop: UInt64 = 0, repeats: [String] = []) {
        self.start = start
        self.stop = stop
        self.repeats = repeats
    }

    init?(value: Substring) {
        let parts = value.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 20 && $0.utf8.allSatisfy(isDigit) }),
            let start = UInt64(parts[0]), let stop = UInt64(parts[1])
        else { return nil }
        self.init(start: start, stop: stop)
    }

    public var value: String { "\(start) \(stop)" }
}

/// One `a=` line (RFC 8866 §5.13): `a=<name>` (a property) or `a=<name>:<value>`. The value is
/// kept exactly as written, leading spaces included (`a=msid-semantic: WMS`), so unknown
/// attributes survive a parse and re-serialization unchanged.
public struct SDPAttribute: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var value: String?

    public init(_ name: String, _ value: String? = nil) {
        self.name = name
        self.value = value
    }

    /// The line without `a=` and without its line ending.
    public var description: String { value.map { "\(name):\($0)" } ?? name }
}

func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

/// `token-char` of RFC 8866 §9: visible ASCII except the separators `"(),/:;<=>?@[\]{}` and space.
func isTokenChar(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x21, 0x23...0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x30...0x39, 0x41...0x5A, 0x5E...0x7E: true
    default: false
    }
}
