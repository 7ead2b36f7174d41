/// The grammar checks ``SDPSessionDescription/parse(_:)`` applies to the attributes this module
/// understands. Others are kept unchecked. Candidate lines are not checked here: RFC 8839 §5.1
/// has agents ignore candidates they cannot use, and ``SDPAttributeCarrier/candidates`` does.
enum SDPAttributeGrammar {
    /// - Parameters:
    ///   - attributes: one level's attributes.
    ///   - lines: the line number of each attribute.
    ///   - formats: the `m=` payload types of an RTP section, nil otherwise.
    static func check(_ attributes: [SDPAttribute], lines: [Int], formats: [String]?) throws(SDPParseError) {
        var direction: SDPDirection?
        var seen: [String: String] = [:]
        var rtpMaps: [UInt8: SDPRTPMap] = [:]
        var extensions: [UInt8: String] = [:]

        for (index, attribute) in attributes.enumerated() {
            let line = index < lines.count ? lines[index] : 0
            func fail(_ code: SDPParseError.Code = .invalidAttribute) -> SDPParseError {
                SDPParseError(code, line: line, field: attribute.name, text: "a=" + attribute.description)
            }
            func declared(_ format: some StringProtocol) -> Bool {
                guard let formats else { return true }
                return formats.contains { $0 == format }
            }
            let value = attribute.value ?? ""

            switch attribute.name {
            case "sendrecv", "sendonly", "recvonly", "inactive":
                guard attribute.value == nil else { throw fail() }
                let parsed = SDPDirection(rawValue: attribute.name)
                if let direction, direction != parsed { throw fail(.conflictingAttribute) }
                direction = parsed
            case "mid", "setup", "ice-ufrag", "ice-pwd", "sctp-port", "max-message-size":
                try checkSingle(attribute.name, value, fail: fail)
                if let earlier = seen[attribute.name], earlier != value { throw fail(.conflictingAttribute) }
                seen[attribute.name] = value
            case "fingerprint":
                guard DTLSFingerprint(sdpValue: value) != nil else { throw fail() }
            case "rtpmap":
                guard let map = SDPRTPMap(value: value) else { throw fail() }
                guard declared(String(map.payloadType)) else { throw fail(.undeclaredPayloadType) }
                if let earlier = rtpMaps[map.payloadType], earlier != map { throw fail(.conflictingAttribute) }
                rtpMaps[map.payloadType] = map
            case "fmtp":
                guard let parameters = SDPFormatParameters(value: value) else { throw fail() }
                guard declared(parameters.format) else { throw fail(.undeclaredPayloadType) }
            case "rtcp-fb":
                guard let feedback = SDPRTCPFeedback(value: value) else { throw fail() }
                guard feedback.format == "*" || declared(feedback.format) else { throw fail(.undeclaredPayloadType) }
            case "extmap":
                guard let map = SDPExtensionMap(value: value) else { throw fail() }
                if let earlier = extensions[map.id], earlier != map.uri { throw fail(.conflictingAttribute) }
                extensions[map.id] = map.uri
            case "ssrc":
                guard SDPSourceAttribute(value: value) != nil else { throw fail() }
            case "ssrc-group":
                guard SDPSourceGroup(value: value) != nil else { throw fail() }
            case "msid":
                guard SDPMediaStreamID(value: value) != nil else { throw fail() }
            case "group":
                guard SDPGroup(value: value) != nil else { throw fail() }
            default:
                break
            }
        }
    }

    private static func checkSingle(
        _ name: String, _ value: String, fail: (SDPParseError.Code) -> SDPParseError
    ) throws(SDPParseError) {
        switch name {
        case "mid":
            // RFC 5888 §4: identification-tag = token.
            guard !value.isEmpty, value.utf8.count <= 255, value.utf8.allSatisfy(isTokenChar) else {
                throw fail(.invalidAttribute)
            }
        case "setup":
            guard SDPSetupRole(rawValue: value) != nil else { throw fail(.invalidAttribute) }
        case "ice-ufrag":
            // RFC 8839 §5.4: 4–256 ice-chars.
            guard (4...256).contains(value.utf8.count), value.utf8.allSatisfy(isIceChar) else {
                throw fail(.invalidAttribute)
            }
        case "ice-pwd":
            // RFC 8839 §5.4: 22–256 ice-chars.
            guard (22...256).contains(value.utf8.count), value.utf8.allSatisfy(isIceChar) else {
                throw fail(.invalidAttribute)
            }
        case "sctp-port":
            guard let port = parseNumber(value, as: UInt16.self), port > 0 else { throw fail(.invalidAttribute) }
        case "max-message-size":
            guard parseNumber(value, as: UInt64.self) != nil else { throw fail(.invalidAttribute) }
        default:
            break
        }
    }
}

/// `ice-char = ALPHA / DIGIT / "+" / "/"` (RFC 8839 §5.1).
func isIceChar(_ byte: UInt8) -> Bool {
    (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || isDigit(byte) || byte == 0x2B || byte == 0x2F
}
