public import ICEAgent

/// Which side of the DTLS handshake we are (RFC 5763 §5): `active` = client, `passive` = server.
public enum SDPDTLSRole: String, Hashable, Sendable {
    case client, server
}

/// The outcome of an offer/answer exchange: everything the transports and media engines need.
public struct SDPNegotiatedSession: Hashable, Sendable {
    /// The answer's BUNDLE group (RFC 8843 §7); empty when a single section was negotiated
    /// without one. Every accepted section runs on one ICE/DTLS transport.
    public var bundleMids: [String]
    /// The section whose transport all use: the answerer's BUNDLE-tag (first mid of the answer's group).
    public var transportMid: String
    public var transportMediaIndex: Int

    public var remoteIceCredentials: IceCredentials
    public var remoteIceLite: Bool
    /// The peer said `a=ice-options:trickle` (RFC 8838 §4).
    public var remoteTrickle: Bool
    /// The transport section's candidates (RFC 8839 §5.1); more may be trickled.
    public var remoteCandidates: [IceCandidate]
    public var remoteEndOfCandidates: Bool
    /// The certificate fingerprints DTLS must match (RFC 8122 §5; any one matching is enough).
    public var remoteFingerprints: [DTLSFingerprint]
    public var remoteSetup: SDPSetupRole
    /// Ours: `.active` or `.passive`.
    public var localSetup: SDPSetupRole
    public var localDTLSRole: SDPDTLSRole

    public var video: SDPNegotiatedRTPMedia?
    public var audio: SDPNegotiatedRTPMedia?
    public var application: SDPNegotiatedApplication?
    /// Sections answered with port 0, and why.
    public var rejected: [SDPRejectedMedia]
}

/// A negotiated RTP section (audio or video) that we send on.
public struct SDPNegotiatedRTPMedia: Hashable, Sendable {
    public var mid: String
    public var mediaIndex: Int
    /// Our direction: `.sendonly`, or `.inactive` when the peer does not receive or we do not send.
    public var direction: SDPDirection
    public var payloadType: UInt8
    /// `H264` or `opus`, as written in the rtpmap.
    public var codec: String
    public var clockRate: UInt32
    public var channels: Int
    /// The RTX payload type (RFC 4588 §8.1) when both sides do RTX.
    public var rtxPayloadType: UInt8?
    /// The receiver's format parameters for the payload type (what it wants to receive, e.g.
    /// `profile-level-id`, `packetization-mode`, `useinbandfec`, `stereo`).
    public var formatParameters: [String: String]
    /// Generic NACK (RFC 4585 §6.2.1).
    public var nack: Bool
    /// Picture loss indication (RFC 4585 §6.3.1).
    public var pli: Bool
    /// Full intra request (RFC 5104 §3.5.1).
    public var fir: Bool
    /// Receiver estimated maximum bitrate (`goog-remb`).
    public var remb: Bool
    /// Transport-wide congestion control feedback (`transport-cc`).
    public var transportCC: Bool
    /// Reduced-size RTCP (RFC 5506) agreed.
    public var rtcpReducedSize: Bool
    /// Header extension ids by URI (RFC 8285), e.g. ``SDPExtensionMap/mid`` → 9.
    public var extensionIDs: [String: UInt8]
    public var localSSRC: UInt32?
    public var localRTXSSRC: UInt32?

    /// True when we send RTP on this section.
    public var sending: Bool { direction.sends }
}

/// The negotiated data-channel section (RFC 8841).
public struct SDPNegotiatedApplication: Hashable, Sendable {
    public var mid: String
    public var mediaIndex: Int
    /// The peer's SCTP port (RFC 8841 §5; 5000 when absent).
    public var remoteSCTPPort: UInt16
    /// The largest message the peer accepts (RFC 8841 §6: 65536 when absent, 0 = no limit).
    public var remoteMaxMessageSize: UInt64
    public var localSCTPPort: UInt16
}

/// A section answered with port 0 (RFC 3264 §6, RFC 8829 §5.3.1).
public struct SDPRejectedMedia: Hashable, Sendable {
    public var mediaIndex: Int
    public var mid: String?
    public var kind: SDPMediaKind
    /// What was missing, e.g. `offer has only VP8, VP9; H.264 with packetization-mode=1 needed`.
    public var reason: String
}
