public import NIOCore

extension RTPMediaSender {
    /// How many recent SR send times are kept to match LSR values in report blocks.
    static let reportMemory = 8

    /// The SR + SDES CNAME compound packet (RFC 3550 §6.1, §6.4.1) if one is due.
    ///
    /// The first goes out at the first call after media was sent; later ones every
    /// `reportInterval` × a random factor in [0.5, 1.5) (RFC 3550 §6.3.5 randomization, with
    /// the seeded generator). The RTP timestamp is the latest packet's, advanced by the time
    /// since it was sent at the codec's clock rate, so that it names the same instant as
    /// `ntpTime`.
    /// - Parameters:
    ///   - now: the monotonic time.
    ///   - ntpTime: the same instant as a 64-bit NTP timestamp (wall clock, from the caller).
    /// - Returns: the compound packet with spare capacity for SRTCP, or nil if not due.
    public func senderReport(now: NIODeadline, ntpTime: UInt64) -> ByteBuffer? {
        guard let last = lastTimestamp else { return nil }
        if let due = nextReportAt, now < due { return nil }
        let interval = configuration.reportInterval.nanoseconds
        let factor = Double.random(in: 0.5..<1.5, using: &random)
        nextReportAt = now + .nanoseconds(Int64(Double(interval) * factor))

        let elapsed = max(0, (now - last.at).nanoseconds)
        let advance = UInt64(elapsed) * UInt64(configuration.clockRate) / 1_000_000_000
        let report = RTCPSenderReport(
            ssrc: configuration.ssrc, ntpTimestamp: ntpTime, rtpTimestamp: last.rtp &+ UInt32(truncatingIfNeeded: advance),
            packetCount: statistics.packetsSent, octetCount: statistics.octetsSent)
        var buffer = allocator.buffer(capacity: 128 + configuration.trailingCapacity)
        report.encode(into: &buffer)
        RTCPSourceDescription(chunks: [.init(ssrc: configuration.ssrc, items: [.cname(configuration.cname)])])
            .encode(into: &buffer)
        recordReport(compactNTP: report.compactNTP, at: now)
        statistics.senderReportsSent += 1
        return buffer
    }

    /// When the next sender report is due, nil before any media was sent.
    public var nextSenderReport: NIODeadline? {
        guard lastTimestamp != nil else { return nil }
        return nextReportAt ?? .uptimeNanoseconds(0)
    }

    /// The compound packet that ends the stream: an empty RR, SDES CNAME and BYE for our SSRC
    /// (and the RTX SSRC) (RFC 3550 §6.1, §6.6).
    public func bye() -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 64 + configuration.trailingCapacity)
        RTCPReceiverReport(ssrc: configuration.ssrc).encode(into: &buffer)
        RTCPSourceDescription(chunks: [.init(ssrc: configuration.ssrc, items: [.cname(configuration.cname)])])
            .encode(into: &buffer)
        var ssrcs = [configuration.ssrc]
        if let rtx = configuration.retransmission { ssrcs.append(rtx.ssrc) }
        RTCPGoodbye(ssrcs: ssrcs).encode(into: &buffer)
        return buffer
    }
}
