public import NIOCore

/// Decides which NACKed packets to send again (RFC 4585 §6.2.1 generic NACK), from a
/// bounded send history, with a per-packet rate limit.
///
/// Rate limit: a packet is resent at most once per `resendInterval`, which is the larger of
/// `minimumResendInterval` (10 ms by default) and the last measured round-trip time. A
/// receiver repeats its NACK when the retransmission does not arrive within about one RTT;
/// a repeat sooner than that means the first retransmission is still in flight, and sending
/// it again only adds load on a path that is already losing packets.
public struct NACKResponder: Sendable {
    /// What the responder has done, for metrics.
    public struct Counters: Sendable, Hashable {
        /// Sequence numbers named by NACKs.
        public var requested = 0
        /// Packets handed out for resending.
        public var resent = 0
        /// Requested packets no longer (or never) in the history.
        public var missingFromHistory = 0
        /// Requested packets skipped because they were resent less than an interval ago.
        public var rateLimited = 0

        public init() {}
    }

    public var history: RTPSendHistory
    public var minimumResendInterval: TimeAmount
    /// The latest round-trip time estimate (from receiver reports), if any.
    public var roundTripTime: TimeAmount?
    public private(set) var counters = Counters()

    public init(history: RTPSendHistory, minimumResendInterval: TimeAmount = .milliseconds(10)) {
        self.history = history
        self.minimumResendInterval = minimumResendInterval
    }

    /// The interval within which a packet is not resent twice.
    public var resendInterval: TimeAmount {
        max(minimumResendInterval, roundTripTime ?? .zero)
    }

    /// Calls `resend` with the stored bytes of each packet `nack` names that is still in the
    /// history and was not resent within `resendInterval`, in the order named (duplicates in
    /// one NACK are sent once).
    public mutating func respond(
        to nack: RTCPGenericNACK, now: NIODeadline, _ resend: (_ sequenceNumber: UInt16, _ packet: UnsafeRawBufferPointer) -> Void
    ) {
        let interval = resendInterval
        nack.forEachSequenceNumber { seq in
            counters.requested += 1
            guard let slot = history.slot(of: seq, now: now) else {
                counters.missingFromHistory += 1
                return
            }
            if let last = history.lastResent(slot), now - last < interval {
                counters.rateLimited += 1
                return
            }
            history.markResent(slot, now: now)
            counters.resent += 1
            history.withSlot(slot) { resend(seq, $0) }
        }
    }
}
