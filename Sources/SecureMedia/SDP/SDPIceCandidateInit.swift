public import ICEAgent

/// A trickled candidate as W3C `RTCIceCandidateInit` writes it, and as the MQTT
/// `offer-ice-candidate` / `answer-ice-candidate` payloads carry it:
/// `{"candidate": "candidate:…", "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "…"}`.
///
/// An empty `candidate` is the end-of-candidates indication (RFC 8838 §8.2, W3C webrtc §4.8.2).
/// Decoding validates: the candidate string parses (RFC 8839 §5.1), at least one of `sdpMid` and
/// `sdpMLineIndex` is present, the index is 0–63, and the mid is a token.
public struct SDPIceCandidateInit: Codable, Hashable, Sendable {
    /// `candidate:…` without `a=`; empty for end-of-candidates.
    public var candidate: String
    public var sdpMid: String?
    public var sdpMLineIndex: Int?
    public var usernameFragment: String?

    /// Checked with ``validate()``.
    public init(candidate: String, sdpMid: String?, sdpMLineIndex: Int?, usernameFragment: String? = nil) {
        self.candidate = candidate
        self.sdpMid = sdpMid
        self.sdpMLineIndex = sdpMLineIndex
        self.usernameFragment = usernameFragment
    }

    /// One of our candidates for the transport's section.
    public init(_ candidate: IceCandidate, mid: String, mediaIndex: Int, usernameFragment: String? = nil) {
        self.init(candidate: candidate.sdpValue, sdpMid: mid, sdpMLineIndex: mediaIndex, usernameFragment: usernameFragment)
    }

    /// The end-of-candidates indication for a section.
    public static func endOfCandidates(mid: String, mediaIndex: Int, usernameFragment: String? = nil) -> SDPIceCandidateInit {
        SDPIceCandidateInit(candidate: "", sdpMid: mid, sdpMLineIndex: mediaIndex, usernameFragment: usernameFragment)
    }

    private enum CodingKeys: String, CodingKey {
        case candidate, sdpMid, sdpMLineIndex, usernameFragment
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            candidate: try container.decode(String.self, forKey: .candidate),
            sdpMid: try container.decodeIfPresent(String.self, forKey: .sdpMid),
            sdpMLineIndex: try container.decodeIfPresent(Int.self, forKey: .sdpMLineIndex),
            usernameFragment: try container.decodeIfPresent(String.self, forKey: .usernameFragment))
        try validate()
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(candidate, forKey: .candidate)
        try container.encode(sdpMid, forKey: .sdpMid)
        try container.encode(sdpMLineIndex, forKey: .sdpMLineIndex)
        try container.encodeIfPresent(usernameFragment, forKey: .usernameFragment)
    }

    /// True for the end-of-candidates indication (an empty candidate).
    public var isEndOfCandidates: Bool { candidate.isEmpty }

    /// The parsed candidate; nil for end-of-candidates.
    /// - Throws: ``SDPNegotiationError/Code/invalidCandidate`` naming the parser's field and offset.
    public func iceCandidate() throws(SDPNegotiationError) -> IceCandidate? {
        guard !candidate.isEmpty else { return nil }
        do {
            return try IceCandidate(sdp: candidate)
        } catch {
            throw SDPNegotiationError(
                .invalidCandidate, mediaIndex: sdpMLineIndex, mid: sdpMid,
                detail: "\(error.code) in \(error.field) at offset \(error.offset): \(candidate.prefix(120))")
        }
    }

    /// The `a=candidate:…` line, or `a=end-of-candidates`.
    public var sdpAttribute: String {
        candidate.isEmpty ? "a=end-of-candidates" : candidate.hasPrefix("a=") ? candidate : "a=" + candidate
    }

    /// Checks the fields as decoding does.
    /// - Throws: ``SDPNegotiationError`` with ``SDPNegotiationError/Code/malformedCandidateInit``
    ///   or ``SDPNegotiationError/Code/invalidCandidate``.
    public func validate() throws(SDPNegotiationError) {
        guard sdpMid != nil || sdpMLineIndex != nil else {
            throw SDPNegotiationError(.malformedCandidateInit, detail: "neither sdpMid nor sdpMLineIndex is given")
        }
        if let sdpMLineIndex, !(0..<SDPSessionDescription.maximumMediaDescriptions).contains(sdpMLineIndex) {
            throw SDPNegotiationError(.malformedCandidateInit, detail: "sdpMLineIndex \(sdpMLineIndex) is out of range")
        }
        if let sdpMid, sdpMid.isEmpty || sdpMid.utf8.count > 255 || !sdpMid.utf8.allSatisfy(isTokenChar) {
            throw SDPNegotiationError(.malformedCandidateInit, detail: "sdpMid is not a token")
        }
        if let usernameFragment, usernameFragment.utf8.count > 256 || !usernameFragment.utf8.allSatisfy(isIceChar) {
            throw SDPNegotiationError(.malformedCandidateInit, detail: "usernameFragment is not ice-chars")
        }
        _ = try iceCandidate()
    }
}

extension SDPNegotiatedSession {
    /// A trickled remote candidate for this session (RFC 8838 §9): it must name the transport's
    /// section (by mid, or by index when no mid is given) and, when it carries a username
    /// fragment, the peer's current one. Candidates for other bundled sections are refused, as
    /// they share the transport's candidates.
    ///
    /// - Returns: the candidate, or nil for end-of-candidates.
    /// - Throws: ``SDPNegotiationError`` (`unknownMediaSection`, `invalidCandidate`, `malformedCandidateInit`).
    public func remoteCandidate(_ init_: SDPIceCandidateInit) throws(SDPNegotiationError) -> IceCandidate? {
        try init_.validate()
        let matches = init_.sdpMid.map { $0 == transportMid } ?? (init_.sdpMLineIndex == transportMediaIndex)
        guard matches else {
            throw SDPNegotiationError(
                .unknownMediaSection, mediaIndex: init_.sdpMLineIndex, mid: init_.sdpMid,
                detail: "candidates belong to the transport section, mid \(transportMid)")
        }
        if let ufrag = init_.usernameFragment, ufrag != remoteIceCredentials.usernameFragment {
            throw SDPNegotiationError(
                .unknownMediaSection, mediaIndex: init_.sdpMLineIndex, mid: init_.sdpMid,
                detail: "usernameFragment \(ufrag) is not the peer's current \(remoteIceCredentials.usernameFragment)")
        }
        return try init_.iceCandidate()
    }
}
