public import NIOCore

/// What one batch of RTCP feedback means for a sender (`RTPMediaSender.handleRTCP`).
public struct RTPSenderFeedback: Sendable {
    /// Packets to send again, ready for SRTP protection (spare capacity for the tag): RTX
    /// packets when RTX is negotiated, else the original packets.
    public var retransmissions: [ByteBuffer] = []
    /// A PLI, or a FIR with a new command sequence number, asked for a keyframe.
    public var keyframeRequested = false
    /// The latest REMB estimate covering this sender, in bits per second.
    public var estimatedBitrate: UInt64?
    /// Reception report blocks about this sender's SSRC.
    public var reportBlocks: [RTCPReportBlock] = []
    /// A round-trip time computed from a report block's LSR/DLSR (RFC 3550 §6.4.1).
    public var roundTripTime: TimeAmount?
    /// A transport-wide feedback for this sender's packets (for congestion control).
    public var transportFeedback: [RTCPTransportFeedback] = []
    /// The receiver said goodbye.
    public var receiverLeft = false

    public init() {}
}

/// Counters and latest receiver statistics of one sender.
public struct RTPSenderStatistics: Sendable, Hashable {
    /// Media packets and payload octets sent (retransmissions excluded), as in SR.
    public var packetsSent: UInt32 = 0
    public var octetsSent: UInt32 = 0
    /// Packets and bytes sent again in answer to NACKs.
    public var packetsRetransmitted = 0
    public var bytesRetransmitted = 0
    /// Frames given to the sender that produced no packet (no NAL unit, or an Opus packet that
    /// was empty or too large).
    public var framesDropped = 0
    public var pliReceived = 0
    public var firReceived = 0
    /// FIRs repeating a command sequence number already answered (RFC 5104 §4.3.1.2).
    public var firDuplicates = 0
    public var nackReceived = 0
    public var senderReportsSent = 0
    /// From the latest report block about this sender.
    public var fractionLost: UInt8 = 0
    public var cumulativeLost: Int32 = 0
    public var jitter: UInt32 = 0
    public var roundTripTime: TimeAmount?
    public var estimatedBitrate: UInt64?

    public init() {}
}
