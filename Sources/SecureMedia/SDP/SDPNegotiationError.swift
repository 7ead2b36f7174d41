/// Why an offer or answer could not be negotiated (RFC 8829 §5.3, §5.10), naming the section
/// and what is missing.
///
/// Match on ``code``; ``detail`` says what was missing for people (and logs).
public struct SDPNegotiationError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case noUsableMedia, missingFingerprint, missingIceCredentials, invalidIceCredentials
            case missingBundle, missingRTCPMux, missingSetup, invalidSetup, missingMid, duplicateMid
            case answerMismatch, invalidCandidate, unknownMediaSection, malformedCandidateInit
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// No section can be accepted: no H.264 with packetization-mode=1, no Opus, no
        /// `webrtc-datachannel` section (RFC 8829 §5.3.1).
        public static let noUsableMedia = Code(.noUsableMedia)
        /// No `a=fingerprint` at media or session level (RFC 8122 §5, RFC 8842 §5.1).
        public static let missingFingerprint = Code(.missingFingerprint)
        /// No `a=ice-ufrag`/`a=ice-pwd` (RFC 8839 §5.4).
        public static let missingIceCredentials = Code(.missingIceCredentials)
        /// ICE credentials outside RFC 8445 §5.3's limits.
        public static let invalidIceCredentials = Code(.invalidIceCredentials)
        /// Several sections and no BUNDLE group holding them: we use one transport (RFC 8843).
        public static let missingBundle = Code(.missingBundle)
        /// An RTP section without `a=rtcp-mux` (RFC 8829 §5.3.1, RFC 5761); we require it.
        public static let missingRTCPMux = Code(.missingRTCPMux)
        /// No `a=setup` (RFC 8842 §5).
        public static let missingSetup = Code(.missingSetup)
        /// `a=setup` we cannot answer: `holdconn`, or `actpass` in an answer (RFC 8842 §5.2).
        public static let invalidSetup = Code(.invalidSetup)
        /// A section without `a=mid` (RFC 8829 §5.3.1 requires one in each).
        public static let missingMid = Code(.missingMid)
        /// Two sections with the same `a=mid` (RFC 5888 §4).
        public static let duplicateMid = Code(.duplicateMid)
        /// An answer whose sections do not match our offer's (count, kind or mid; RFC 3264 §6).
        public static let answerMismatch = Code(.answerMismatch)
        /// A trickled candidate that does not parse (RFC 8839 §5.1).
        public static let invalidCandidate = Code(.invalidCandidate)
        /// A trickled candidate for a section that is not negotiated or not the transport's.
        public static let unknownMediaSection = Code(.unknownMediaSection)
        /// An `RTCIceCandidateInit` JSON without `candidate`, or with neither `sdpMid` nor `sdpMLineIndex`.
        public static let malformedCandidateInit = Code(.malformedCandidateInit)

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// The section concerned, when one is.
    public let mediaIndex: Int?
    public let mid: String?
    /// What was wrong, in words.
    public let detail: String

    public init(_ code: Code, mediaIndex: Int? = nil, mid: String? = nil, detail: String) {
        self.code = code
        self.mediaIndex = mediaIndex
        self.mid = mid
        self.detail = detail
    }

    public var description: String {
        var where_ = ""
        if let mediaIndex { where_ += " in m-line \(mediaIndex)" }
        if let mid { where_ += " (mid \(mid))" }
        return "SDP negotiation failed: \(code)\(where_): \(detail)"
    }
}
