/// The W3C `RTCDataChannelState` (RFC 8831 §6.5 open, §6.7 close).
public enum DataChannelState: Sendable, Hashable {
    case connecting
    case open
    case closing
    case closed
}

/// Why a channel closed.
public enum DataChannelCloseReason: Sendable, Hashable {
    /// We called `close()`; both directions of the stream were reset.
    case local
    /// The peer reset its outgoing stream (RFC 8831 §6.7); we reset ours in turn.
    case remote
    /// The peer sent a message larger than our `max-message-size`; we closed the channel.
    case oversizedMessage(size: Int)
    /// The peer sent a DCEP message that did not decode, or one out of place.
    case protocolViolation(String)
    /// The SCTP association ended.
    case associationClosed
}

/// What a channel reports on ``DataChannel/events``.
public enum DataChannelEvent: Sendable, Hashable {
    case open
    /// ``DataChannel/bufferedAmount`` fell to or below the threshold (W3C `bufferedamountlow`).
    case bufferedAmountLow
    case closing
    case closed(DataChannelCloseReason)
}

/// Something the controller dropped; each is also counted in ``DataChannelCounters``.
public enum DataChannelDropReason: Sendable, Hashable {
    /// A message with a PPID that is neither DCEP nor user data (RFC 8831 §8).
    case unknownPPID(streamID: UInt16, ppid: UInt32)
    /// User data on a stream without a channel.
    case noChannel(streamID: UInt16)
    /// A DCEP message that did not decode; the stream was reset.
    case malformedDCEP(streamID: UInt16, DCEPDecodingError)
    /// A DATA_CHANNEL_OPEN on a stream id of our own parity (RFC 8832 §6), or on a stream that
    /// already has a channel; the stream was reset unless a channel owns it.
    case rejectedOpen(streamID: UInt16)
    /// A malformed SCTP packet (see ``SCTPPacketCheck``).
    case malformedPacket(SCTPError)
}

/// What the controller reports to its owner.
public enum DataChannelControllerEvent: Sendable {
    /// The SCTP association is up; negotiated channels are open.
    case associationEstablished
    /// The peer opened a channel in-band (DATA_CHANNEL_OPEN); it is open already.
    case channelOpened(DataChannel)
    /// A channel closed (either side).
    case channelClosed(id: UInt16, reason: DataChannelCloseReason)
    /// Input was dropped (and counted).
    case dropped(DataChannelDropReason)
    /// The association ended; every channel is closed.
    case associationClosed(SCTPCloseReason)
}

/// Counters of a controller (the association's are in ``SCTPAssociationCounters``).
public struct DataChannelCounters: Sendable, Hashable {
    public var messagesReceived = 0
    public var messagesSent = 0
    public var unknownPPIDs = 0
    public var messagesWithoutChannel = 0
    public var malformedDCEP = 0
    public var rejectedOpens = 0
    /// Channels closed because the peer sent more than our `max-message-size`.
    public var oversizedMessages = 0
    public var channelsOpened = 0
    public var channelsClosed = 0

    public init() {}
}
