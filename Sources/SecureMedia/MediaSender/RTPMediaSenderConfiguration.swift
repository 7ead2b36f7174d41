public import NIOCore

/// How one outgoing track is sent: the values negotiated in SDP for it.
public struct RTPMediaSenderConfiguration: Sendable, Hashable {
    /// The payload format the sender packetizes.
    public enum Codec: Sendable, Hashable {
        /// H.264 packetization-mode 1 (RFC 6184), 90 kHz.
        case h264
        /// Opus (RFC 7587), 48 kHz.
        case opus
    }

    /// RFC 4588 retransmission stream parameters (`a=rtpmap:… rtx/…`, `apt=`, `a=ssrc-group:FID`).
    public struct Retransmission: Sendable, Hashable {
        public var payloadType: UInt8
        public var ssrc: UInt32

        public init(payloadType: UInt8, ssrc: UInt32) {
            self.payloadType = payloadType
            self.ssrc = ssrc
        }
    }

    public var codec: Codec
    public var payloadType: UInt8
    public var ssrc: UInt32
    /// RTX, when the answer negotiated it; otherwise NACKed packets are resent as they were.
    public var retransmission: Retransmission?
    /// `a=extmap` ids (1–255); nil when the extension was not negotiated.
    public var absSendTimeID: UInt8?
    public var transportSequenceNumberID: UInt8?
    public var midID: UInt8?
    /// The `a=mid` value sent in the sdes:mid extension.
    public var mid: String?
    /// RTCP CNAME (RFC 7022: random, shared by the tracks of one PeerConnection).
    public var cname: String
    /// Largest RTP packet (header, extensions and payload, before the SRTP tag). 1200 keeps
    /// a packet with a 16-byte SRTP tag, IPv6 and UDP headers and a TURN ChannelData header
    /// under the 1280-byte IPv6 minimum MTU.
    public var maxPacketSize: Int
    /// Sent packets kept for NACK (rounded up to a power of two) and how long.
    public var historyCapacity: Int
    public var historyMaxAge: TimeAmount
    /// Sender reports go out every `reportInterval` × a random factor in [0.5, 1.5)
    /// (RFC 3550 §6.2 and §6.3.5 randomization, simplified to a fixed mean).
    public var reportInterval: TimeAmount
    /// The shortest time between two resends of the same packet (see `NACKResponder`).
    public var minimumResendInterval: TimeAmount
    /// Bytes of spare capacity left after each packet for the SRTP tag, appended in place.
    public var trailingCapacity: Int

    public init(
        codec: Codec, payloadType: UInt8, ssrc: UInt32, retransmission: Retransmission? = nil,
        absSendTimeID: UInt8? = nil, transportSequenceNumberID: UInt8? = nil, midID: UInt8? = nil, mid: String? = nil,
        cname: String, maxPacketSize: Int = 1200, historyCapacity: Int? = nil, historyMaxAge: TimeAmount = .seconds(1),
        reportInterval: TimeAmount = .seconds(1), minimumResendInterval: TimeAmount = .milliseconds(10),
        trailingCapacity: Int = 144
    ) {
        self.codec = codec
        self.payloadType = payloadType
        self.ssrc = ssrc
        self.retransmission = retransmission
        self.absSendTimeID = absSendTimeID
        self.transportSequenceNumberID = transportSequenceNumberID
        self.midID = midID
        self.mid = mid
        self.cname = cname
        self.maxPacketSize = maxPacketSize
        // About a second of packets: video at a few Mbit/s, audio at 50 packets a second.
        self.historyCapacity = historyCapacity ?? (codec == .h264 ? 1024 : 64)
        self.historyMaxAge = historyMaxAge
        self.reportInterval = reportInterval
        self.minimumResendInterval = minimumResendInterval
        self.trailingCapacity = trailingCapacity
    }

    /// The clock rate of the codec's RTP timestamps.
    public var clockRate: UInt32 {
        switch codec {
        case .h264: return H264Packetizer.clockRate
        case .opus: return OpusPacketizer.clockRate
        }
    }
}

/// A small seedable generator (SplitMix64) for the sender's random choices: initial sequence
/// numbers and timestamp offset (RFC 3550 §5.1) and report interval jitter. Tests seed it to
/// get the same run every time.
public struct MediaSenderRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
