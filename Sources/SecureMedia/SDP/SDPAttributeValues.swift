/// `a=sendrecv`, `a=sendonly`, `a=recvonly`, `a=inactive` (RFC 8866 §6.7); absent means sendrecv.
public enum SDPDirection: String, Hashable, Sendable, CaseIterable {
    case sendrecv, sendonly, recvonly, inactive

    /// The peer's view of the same stream: sendonly ↔ recvonly.
    public var reversed: SDPDirection {
        switch self {
        case .sendonly: .recvonly
        case .recvonly: .sendonly
        case .sendrecv, .inactive: self
        }
    }

    public var sends: Bool { self == .sendrecv || self == .sendonly }
    public var receives: Bool { self == .sendrecv || self == .recvonly }
}

/// `a=setup` (RFC 4145 §4, RFC 8842 §5): who opens the DTLS association.
public enum SDPSetupRole: String, Hashable, Sendable, CaseIterable {
    /// The endpoint starts the DTLS handshake (DTLS client).
    case active
    /// The endpoint waits for the handshake (DTLS server).
    case passive
    /// Either; offers say this (RFC 8842 §5.1).
    case actpass
    /// Not allowed in WebRTC (RFC 8842 §5.1).
    case holdconn
}

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]` (RFC 8866 §6.6).
public struct SDPRTPMap: Hashable, Sendable {
    public var payloadType: UInt8
    /// As written (`H264`, `opus`); compare case-insensitively.
    public var encodingName: String
    public var clockRate: UInt32
    /// For audio the channel count (`opus/48000/2`).
    public var encodingParameters: String?

    public init(payloadType: UInt8, encodingName: String, clockRate: UInt32, encodingParameters: String? = nil) {
        self.payloadType = payloadType
        self.encodingName = encodingName
        self.clockRate = clockRate
        self.encodingParameters = encodingParameters
    }

    public init?(value: some StringProtocol) {
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let payloadType = parseNumber(parts[0], as: UInt8.self), payloadType < 128 else {
            return nil
        }
        let encoding = parts[1].split(separator: "/", omittingEmptySubsequences: false)
        guard (2...3).contains(encoding.count), !encoding[0].isEmpty, encoding[0].utf8.allSatisfy(isTokenChar),
            let clockRate = parseNumber(encoding[1], as: UInt32.self), clockRate > 0
        else { return nil }
        var parameters: String?
        if encoding.count == 3 {
            guard !encoding[2].isEmpty, encoding[2].utf8.allSatisfy(isTokenChar) else { return nil }
            parameters = String(encoding[2])
        }
        self.init(
            payloadType: payloadType, encodingName: String(encoding[0]), clockRate: clockRate,
            encodingParameters: parameters)
    }

    /// Channels for audio: the encoding parameter, 1 when absent (RFC 8866 §6.6).
    public var channels: Int { encodingParameters.flatMap { Int($0) } ?? 1 }

    public var value: String {
        "\(payloadType) \(encodingName)/\(clockRate)" + (encodingParameters.map { "/\($0)" } ?? "")
    }
}

/// `a=fmtp:<format> <format specific parameters>` (RFC 8866 §6.15). Parameters are read as
/// `key=value` pairs separated by `;` (RFC 6184, RFC 7587, RFC 4588 style); a part without `=`
/// (RED's `111/111`) is kept as a key with an empty value and written back as it was.
public struct SDPFormatParameters: Hashable, Sendable {
    public var format: String
    public var parameters: [Parameter]

    public struct Parameter: Hashable, Sendable {
        public var key: String
        public var value: String
        /// False for a bare part such as `111/111`.
        public var hasValue: Bool

        public init(_ key: String, _ value: String) {
            self.key = key
            self.value = value
            self.hasValue = true
        }

        init(bare: String) {
            key = bare
            value = ""
            hasValue = false
        }

        var text: String { hasValue ? "\(key)=\(value)" : key }
    }

    public init(format: String, parameters: [Parameter]) {
        self.format = format
        self.parameters = parameters
    }

    public init?(value: some StringProtocol) {
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.allSatisfy(isTokenChar) else { return nil }
        var parameters: [Parameter] = []
        for piece in parts[1].split(separator: ";", omittingEmptySubsequences: true) {
            let item = piece.drop { $0 == " " }
            guard !item.isEmpty, !item.contains(" ") else { return nil }
            if let equals = item.firstIndex(of: "=") {
                let key = item[..<equals]
                guard !key.isEmpty else { return nil }
                parameters.append(Parameter(String(key), String(item[item.index(after: equals)...])))
            } else {
                parameters.append(Parameter(bare: String(item)))
            }
        }
        guard !parameters.isEmpty else { return nil }
        self.init(format: String(parts[0]), parameters: parameters)
    }

    /// The value of the first parameter named `key` (case-insensitive, as RFC 6184 §8.1 and
    /// RFC 7587 §6.1 compare them).
    public subscript(key: String) -> String? {
        let lowered = key.lowercased()
        return parameters.first { $0.hasValue && $0.key.lowercased() == lowered }?.value
    }

    /// Parameters as a dictionary (the first occurrence of each key wins).
    public var dictionary: [String: String] {
        var out: [String: String] = [:]
        for parameter in parameters where parameter.hasValue && out[parameter.key] == nil {
            out[parameter.key] = parameter.value
        }
        return out
    }

    public var value: String { "\(format) " + parameters.map(\.text).joined(separator: ";") }
}

/// `a=rtcp-fb:<payload type or *> <type> [<parameter>]` (RFC 4585 §4.2): `nack`, `nack pli`,
/// `ccm fir`, `goog-remb`, `transport-cc`.
public struct SDPRTCPFeedback: Hashable, Sendable {
    /// A payload type number, or `*` for all.
    public var format: String
    public var type: String
    public var parameter: String?

    public init(format: String, type: String, parameter: String? = nil) {
        self.format = format
        self.type = type
        self.parameter = parameter
    }

    public init?(value: some StringProtocol) {
        let parts = value.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0] == "*" || parseNumber(parts[0], as: UInt8.self).map({ $0 < 128 }) == true,
            !parts[1].isEmpty, parts[1].utf8.allSatisfy(isTokenChar)
        else { return nil }
        var parameter: String?
        if parts.count == 3 {
            guard !parts[2].isEmpty else { return nil }
            parameter = String(parts[2])
        }
        self.init(format: String(parts[0]), type: String(parts[1]), parameter: parameter)
    }

    /// `nack`, `nack pli`, ...: type and parameter.
    public var kind: String { parameter.map { "\(type) \($0)" } ?? type }

    public var value: String { "\(format) \(kind)" }
}

/// `a=extmap:<id>[/<direction>] <uri> [<extension attributes>]` (RFC 8285 §8).
public struct SDPExtensionMap: Hashable, Sendable {
    /// 1–14 for one-byte headers, up to 255 with two-byte headers (RFC 8285 §4).
    public var id: UInt8
    public var direction: SDPDirection?
    public var uri: String
    public var extensionAttributes: String?

    public static let absSendTime = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
    public static let transportWideCC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
    public static let mid = "urn:ietf:params:rtp-hdrext:sdes:mid"

    public init(id: UInt8, direction: SDPDirection? = nil, uri: String, extensionAttributes: String? = nil) {
        self.id = id
        self.direction = direction
        self.uri = uri
        self.extensionAttributes = extensionAttributes
    }

    public init?(value: some StringProtocol) {
        let parts = value.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, !parts[1].isEmpty else { return nil }
        let idParts = parts[0].split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let id = parseNumber(idParts[0], as: UInt8.self), id >= 1 else { return nil }
        var direction: SDPDirection?
        if idParts.count == 2 {
            guard let parsed = SDPDirection(rawValue: String(idParts[1])) else { return nil }
            direction = parsed
        }
        self.init(
            id: id, direction: direction, uri: String(parts[1]), extensionAttributes: parts.count == 3 ? String(parts[2]) : nil)
    }

    public var value: String {
        var out = "\(id)" + (direction.map { "/\($0.rawValue)" } ?? "") + " \(uri)"
        if let extensionAttributes { out += " " + extensionAttributes }
        return out
    }
}

/// `a=ssrc:<ssrc-id> <attribute>[:<value>]` (RFC 5576 §4.1), e.g. `cname:...` or `msid:...`.
public struct SDPSourceAttribute: Hashable, Sendable {
    public var ssrc: UInt32
    public var attribute: String
    public var value: String?

    public init(ssrc: UInt32, attribute: String, value: String? = nil) {
        self.ssrc = ssrc
        self.attribute = attribute
        self.value = value
    }

    public init?(value text: some StringProtocol) {
        let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let ssrc = parseNumber(parts[0], as: UInt32.self) else { return nil }
        let colon = parts[1].firstIndex(of: ":")
        let name = parts[1][..<(colon ?? parts[1].endIndex)]
        guard !name.isEmpty, name.utf8.allSatisfy(isTokenChar) else { return nil }
        self.init(ssrc: ssrc, attribute: String(name), value: colon.map { String(parts[1][parts[1].index(after: $0)...]) })
    }

    public var text: String { "\(ssrc) \(attribute)" + (value.map { ":\($0)" } ?? "") }
}

/// `a=ssrc-group:<semantics> <ssrc-id>...` (RFC 5576 §4.2); `FID` pairs a stream with its RTX
/// stream (RFC 4588 §8.1).
public struct SDPSourceGroup: Hashable, Sendable {
    public var semantics: String
    public var ssrcs: [UInt32]

    public init(semantics: String, ssrcs: [UInt32]) {
        self.semantics = semantics
        self.ssrcs = ssrcs
    }

    public init?(value: some StringProtocol) {
        let parts = value.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count >= 2, !parts[0].isEmpty, parts[0].utf8.allSatisfy(isTokenChar) else { return nil }
        var ssrcs: [UInt32] = []
        for part in parts.dropFirst() {
            guard let ssrc = parseNumber(part, as: UInt32.self) else { return nil }
            ssrcs.append(ssrc)
        }
        self.init(semantics: String(parts[0]), ssrcs: ssrcs)
    }

    public var value: String { ([semantics] + ssrcs.map(String.init)).joined(separator: " ") }
}

/// `a=msid:<stream id> [<track id>]` (RFC 8830 §2).
public struct SDPMediaStreamID: Hashable, Sendable {
    public var streamID: String
    public var trackID: String?

    public init(streamID: String, trackID: String? = nil) {
        self.streamID = streamID
        self.trackID = trackID
    }

    public init?(value: some StringProtocol) {
        let parts = value.split(separator: " ", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 64 && $0.utf8.allSatisfy(isTokenChar) })
        else { return nil }
        self.init(streamID: String(parts[0]), trackID: parts.count == 2 ? String(parts[1]) : nil)
    }

    public var value: String { streamID + (trackID.map { " \($0)" } ?? "") }
}

/// `a=group:<semantics> <identification tag>...` (RFC 5888 §5); `BUNDLE` (RFC 8843 §7).
public struct SDPGroup: Hashable, Sendable {
    public var semantics: String
    public var mids: [String]

    public init(semantics: String, mids: [String]) {
        self.semantics = semantics
        self.mids = mids
    }

    public init?(value: some StringProtocol) {
        let parts = value.split(separator: " ", omittingEmptySubsequences: false)
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(isTokenChar) }) else { return nil }
        self.init(semantics: String(parts[0]), mids: parts[1...].map { String($0) })
    }

    public var value: String { ([semantics] + mids).joined(separator: " ") }
}
