public import NIOCore

/// One whole user message received on a stream (RFC 4960 §6.9 reassembled).
public struct SCTPMessage: Sendable, Equatable {
    public var streamID: UInt16
    /// Payload protocol identifier (RFC 8831 §8), host byte order.
    public var ppid: UInt32
    public var unordered: Bool
    public var payload: ByteBuffer

    public init(streamID: UInt16, ppid: UInt32, unordered: Bool, payload: ByteBuffer) {
        self.streamID = streamID
        self.ppid = ppid
        self.unordered = unordered
        self.payload = payload
    }
}

/// Why an association ended.
public enum SCTPCloseReason: Sendable, Hashable {
    /// We closed it (``SCTPAssociation/close()``).
    case local
    /// The peer shut it down or aborted it, or it stopped answering (SCTP_COMM_LOST,
    /// SCTP_SHUTDOWN_COMP; `error` is the cause code when the peer sent one).
    case lost(error: UInt16)
    /// It could not be set up (SCTP_CANT_STR_ASSOC: INIT retransmissions exhausted).
    case cannotStart
}

/// What an association reports; drained with ``SCTPAssociation/pollEvent()``.
public enum SCTPAssociationEvent: Sendable, Equatable {
    /// The association is up (SCTP_COMM_UP, or SCTP_RESTART after a peer restart).
    case established(outboundStreams: UInt16, inboundStreams: UInt16)
    /// A whole message.
    case message(SCTPMessage)
    /// A message larger than our `localMaxMessageSize` arrived on `streamID`; it is dropped.
    /// `size` is the whole size, or for a message arriving in pieces the bytes seen when it
    /// crossed the limit (reported then; its remaining pieces are swallowed).
    case oversizedMessage(streamID: UInt16, size: Int)
    /// The peer reset these outgoing streams (our incoming side; RFC 6525 §5.2.2): for data
    /// channels, the peer is closing them (RFC 8831 §6.7).
    case incomingStreamsReset([UInt16])
    /// Our outgoing reset of these streams completed.
    case outgoingStreamsReset([UInt16])
    /// The peer refused or failed our reset of these streams.
    case streamResetFailed([UInt16])
    /// The send buffer has room again after `wouldBlock`.
    case writable
    /// An inbound packet failed ``SCTPPacketCheck`` and was dropped (also counted).
    case packetDropped(SCTPError)
    /// The association is gone; no more events follow.
    case closed(SCTPCloseReason)
}

/// Partial reliability of a message (RFC 3758; RFC 8831 §6.4 for data channels).
public enum SCTPReliability: Sendable, Hashable {
    case reliable
    /// Abandon after this many retransmissions (SCTP_PR_SCTP_RTX).
    case maxRetransmits(UInt32)
    /// Abandon after this many milliseconds (SCTP_PR_SCTP_TTL).
    case maxLifetime(milliseconds: UInt32)
}

/// Counters of one association, for metrics and tests.
public struct SCTPAssociationCounters: Sendable, Hashable {
    public var packetsReceived = 0
    public var packetsSent = 0
    /// Inbound packets refused by ``SCTPPacketCheck``.
    public var malformedPacketsDropped = 0
    public var messagesReceived = 0
    public var messagesSent = 0
    /// Incoming messages over `localMaxMessageSize`.
    public var oversizedMessagesDropped = 0
    /// Sends refused with `wouldBlock`.
    public var sendsBlocked = 0
    /// Partially reliable messages abandoned (SCTP_SEND_FAILED_EVENT).
    public var messagesAbandoned = 0
    /// ERROR chunks from the peer (SCTP_REMOTE_ERROR).
    public var remoteErrors = 0
    /// Notifications whose lengths did not add up.
    public var unparsableNotifications = 0

    public init() {}
}
