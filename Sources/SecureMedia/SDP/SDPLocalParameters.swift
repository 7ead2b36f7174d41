public import ICEAgent

/// What we put into our side of an offer/answer exchange: transport credentials, our DTLS
/// certificate's fingerprint, the streams we send and the data channel's SCTP parameters.
///
/// The desktop sends H.264 video and Opus audio and never receives media.
public struct SDPLocalParameters: Hashable, Sendable {
    public var iceCredentials: IceCredentials
    /// Our certificate's fingerprint (RFC 8122 §5); sha-256 per RFC 8827 §6.5.
    public var fingerprint: DTLSFingerprint
    /// The `a=setup` we answer an `actpass` offer with: `.active` (RFC 5763 §5, RFC 8842 §5.2:
    /// the answerer to actpass should pick active) or `.passive`. Other values act as `.active`.
    public var setup: SDPSetupRole = .active
    /// RTCP CNAME of our streams (RFC 7022 §4.2, a random 16+ character identifier).
    public var cname: String
    /// `a=msid` stream id (RFC 8830 §2) shared by our tracks.
    public var streamID: String
    public var videoTrackID: String
    public var audioTrackID: String
    public var videoSSRC: UInt32
    /// The RTX stream's SSRC (RFC 4588); nil to not offer or accept RTX.
    public var videoRTXSSRC: UInt32?
    public var audioSSRC: UInt32
    /// Candidates known now; may be empty when all are trickled later (RFC 8838).
    public var candidates: [IceCandidate] = []
    /// Gathering has ended: `a=end-of-candidates` is written (RFC 8838 §8.2).
    public var gatheringComplete: Bool = false
    /// Our SCTP port (RFC 8841 §5), 5000 as browsers use.
    public var sctpPort: UInt16 = 5000
    /// The largest message we accept (RFC 8841 §6).
    public var maxMessageSize: UInt64 = 262_144
    /// `o=` session id: random, below 2^63 (RFC 8829 §5.2.1).
    public var sessionID: UInt64
    /// `o=` session version; bump it for each new description of the session.
    public var sessionVersion: UInt64 = 2
    /// We send video (H.264); when false a video section is answered `inactive`.
    public var sendsVideo: Bool = true
    /// We send audio (Opus); when false an audio section is answered `inactive`.
    public var sendsAudio: Bool = true

    public init(
        iceCredentials: IceCredentials, fingerprint: DTLSFingerprint, setup: SDPSetupRole = .active, cname: String,
        streamID: String, videoTrackID: String, audioTrackID: String, videoSSRC: UInt32, videoRTXSSRC: UInt32?,
        audioSSRC: UInt32, sessionID: UInt64
    ) {
        self.iceCredentials = iceCredentials
        self.fingerprint = fingerprint
        self.setup = setup
        self.cname = cname
        self.streamID = streamID
        self.videoTrackID = videoTrackID
        self.audioTrackID = audioTrackID
        self.videoSSRC = videoSSRC
        self.videoRTXSSRC = videoRTXSSRC
        self.audioSSRC = audioSSRC
        self.sessionID = sessionID
    }

    /// Fresh random credentials, identifiers and SSRCs around a certificate fingerprint.
    /// - Parameter generator: the random source; pass a seeded one in tests.
    public init(fingerprint: DTLSFingerprint, using generator: inout some RandomNumberGenerator) {
        func identifier(_ count: Int) -> String {
            let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
            return String(
                decoding: (0..<count).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] },
                as: UTF8.self)
        }
        var ssrcs: Set<UInt32> = []
        while ssrcs.count < 3 { ssrcs.insert(UInt32.random(in: 1...UInt32.max, using: &generator)) }
        let ordered = ssrcs.sorted()
        self.init(
            iceCredentials: IceCredentials.random(using: &generator), fingerprint: fingerprint, cname: identifier(16),
            streamID: identifier(16), videoTrackID: identifier(16), audioTrackID: identifier(16),
            videoSSRC: ordered[0], videoRTXSSRC: ordered[1], audioSSRC: ordered[2],
            sessionID: UInt64.random(in: 1...(UInt64(Int64.max)), using: &generator))
    }

    /// The same with the system's secure generator.
    public init(fingerprint: DTLSFingerprint) {
        var generator = SystemRandomNumberGenerator()
        self.init(fingerprint: fingerprint, using: &generator)
    }
}
