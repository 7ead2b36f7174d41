/// The `<media>` field of an `m=` line (RFC 8866 §5.14).
public enum SDPMediaKind: Hashable, Sendable, CustomStringConvertible {
    case audio, video, application
    /// Any other token (`text`, `message`, ...), kept as written.
    case other(String)

    public init(_ token: some StringProtocol) {
        switch token {
        case "audio": self = .audio
        case "video": self = .video
        case "application": self = .application
        default: self = .other(String(token))
        }
    }

    public var description: String {
        switch self {
        case .audio: "audio"
        case .video: "video"
        case .application: "application"
        case .other(let token): token
        }
    }
}

/// One media description: an `m=` line and the `i=`, `c=`, `b=`, `k=` and `a=` lines that
/// follow it up to the next `m=` (RFC 8866 §5.14). Attributes keep their order.
public struct SDPMediaDescription: Hashable, Sendable, SDPAttributeCarrier {
    public var kind: SDPMediaKind
    /// 0 marks a rejected or disabled section (RFC 3264 §6, RFC 8829 §5.3.1); 9 is the
    /// discard port JSEP writes before candidates are known.
    public var port: UInt16
    /// The `/<number of ports>` suffix of the port, when written.
    public var portCount: UInt16?
    /// `UDP/TLS/RTP/SAVPF`, `UDP/DTLS/SCTP`, ...
    public var proto: String
    /// RTP payload type numbers, or `webrtc-datachannel` for SCTP.
    public var formats: [String]
    /// `i=`
    public var information: String?
    /// `c=` lines (more than one only for layered multicast).
    public var connections: [SDPConnection]
    /// `b=` lines.
    public var bandwidths: [SDPBandwidth]
    /// `k=` (obsolete, kept as written).
    public var encryptionKey: String?
    public var attributes: [SDPAttribute]

    public init(
        kind: SDPMediaKind, port: UInt16, portCount: UInt16? = nil, proto: String, formats: [String],
        information: String? = nil, connections: [SDPConnection] = [], bandwidths: [SDPBandwidth] = [],
        encryptionKey: String? = nil, attributes: [SDPAttribute] = []
    ) {
        self.kind = kind
        self.port = port
        self.portCount = portCount
        self.proto = proto
        self.formats = formats
        self.information = information
        self.connections = connections
        self.bandwidths = bandwidths
        self.encryptionKey = encryptionKey
        self.attributes = attributes
    }

    /// Parses the value of an `m=` line: `<media> SP <port>[/<count>] SP <proto> 1*(SP <fmt>)`.
    init?(mediaLine value: Substring) {
        let parts = value.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(isMediaFieldChar) }) else {
            return nil
        }
        let portField = parts[1].split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let port = parseNumber(portField[0], as: UInt16.self) else { return nil }
        var count: UInt16?
        if portField.count == 2 {
            guard let parsed = parseNumber(portField[1], as: UInt16.self), parsed > 0 else { return nil }
            count = parsed
        }
        self.init(
            kind: SDPMediaKind(parts[0]), port: port, portCount: count, proto: String(parts[2]),
            formats: parts[3...].map(String.init))
    }

    /// The value of the `m=` line.
    public var mediaLine: String {
        let portText = portCount.map { "\(port)/\($0)" } ?? "\(port)"
        return ([kind.description, portText, proto] + formats).joined(separator: " ")
    }

    /// True for `RTP/...` profiles (`UDP/TLS/RTP/SAVPF`, `RTP/AVP`, ...), whose formats are
    /// payload type numbers.
    public var isRTP: Bool { proto.split(separator: "/").contains("RTP") }

    /// Lines without line endings, in RFC 8866 order: m, i, c, b, k, a.
    var lines: [String] {
        var out = ["m=" + mediaLine]
        if let information { out.append("i=" + information) }
        out += connections.map { "c=" + $0.value }
        out += bandwidths.map { "b=" + $0.text }
        if let encryptionKey { out.append("k=" + encryptionKey) }
        out += attributes.map { "a=" + $0.description }
        return out
    }
}

/// Visible ASCII: the `m=` fields are tokens, numbers and `/`-joined protocol names.
private func isMediaFieldChar(_ byte: UInt8) -> Bool { byte > 0x20 && byte < 0x7F }

/// A decimal number of at most 10 digits that fits `T`.
func parseNumber<T: FixedWidthInteger>(_ text: some StringProtocol, as type: T.Type) -> T? {
    guard !text.isEmpty, text.utf8.count <= 10, text.utf8.allSatisfy(isDigit) else { return nil }
    return T(text, radix: 10)
}
