public import NIOCore

extension RTPMediaSender {
    /// Acts on the RTCP packets of one received compound packet that concern this sender.
    ///
    /// - Generic NACK for our SSRC: the packets `NACKResponder` lets through are resent, as
    ///   RTX packets (RFC 4588 §4) when negotiated, else as they were first sent. Either way
    ///   they get a fresh abs-send-time and transport-wide sequence number, because those
    ///   describe a transmission, not the media.
    /// - PLI (RFC 4585 §6.3.1) and FIR (RFC 5104 §4.3.1) ask for a keyframe; a FIR whose
    ///   command sequence number was already answered is a repeat and is ignored.
    /// - Report blocks about our SSRC update loss, jitter and RTT (RFC 3550 §6.4.1:
    ///   RTT = arrival − LSR − DLSR, with the SR's send time recorded locally instead of the
    ///   NTP arrival time).
    /// - REMB covering our SSRC and transport-wide feedback are surfaced as they are.
    /// - Parameters:
    ///   - packets: a decoded compound packet.
    ///   - now: its arrival time.
    ///   - transportSequence: the shared transport-wide counter, for retransmissions.
    public func handleRTCP(_ packets: [RTCPPacket], now: NIODeadline, transportSequence: inout UInt16) -> RTPSenderFeedback {
        var feedback = RTPSenderFeedback()
        let ssrc = configuration.ssrc
        for packet in packets {
            switch packet {
            case .senderReport(let report):
                for block in report.reportBlocks where block.ssrc == ssrc { apply(block, now: now, to: &feedback) }
            case .receiverReport(let report):
                for block in report.reportBlocks where block.ssrc == ssrc { apply(block, now: now, to: &feedback) }
            case .genericNACK(let nack) where nack.mediaSSRC == ssrc:
                statistics.nackReceived += 1
                resend(nack, now: now, transportSequence: &transportSequence, into: &feedback)
            case .pictureLossIndication(let pli) where pli.mediaSSRC == ssrc:
                statistics.pliReceived += 1
                feedback.keyframeRequested = true
            case .fullIntraRequest(let fir):
                for entry in fir.entries where entry.ssrc == ssrc {
                    statistics.firReceived += 1
                    if firSequence[fir.senderSSRC] == entry.sequenceNumber {
                        statistics.firDuplicates += 1
                    } else {
                        firSequence[fir.senderSSRC] = entry.sequenceNumber
                        feedback.keyframeRequested = true
                    }
                }
            case .receiverEstimatedMaxBitrate(let remb) where remb.ssrcs.contains(ssrc):
                feedback.estimatedBitrate = remb.bitrate
                statistics.estimatedBitrate = remb.bitrate
            case .transportFeedback(let twcc):
                feedback.transportFeedback.append(twcc)
            case .goodbye(let bye):
                if !bye.ssrcs.isEmpty { feedback.receiverLeft = true }
            default:
                break
            }
        }
        return feedback
    }

    private func apply(_ block: RTCPReportBlock, now: NIODeadline, to feedback: inout RTPSenderFeedback) {
        feedback.reportBlocks.append(block)
        statistics.fractionLost = block.fractionLost
        statistics.cumulativeLost = block.cumulativeLost
        statistics.jitter = block.jitter
        guard block.lastSenderReport != 0,
            let sent = sentReportTime(compactNTP: block.lastSenderReport)
        else { return }
        // DLSR is in 1/65536 s.
        let delay = TimeAmount.nanoseconds(Int64(block.delaySinceLastSenderReport) * 1_000_000_000 / 65536)
        let rtt = max(.zero, now - sent - delay)
        feedback.roundTripTime = rtt
        statistics.roundTripTime = rtt
        nackResponder.roundTripTime = rtt
    }

    private func resend(
        _ nack: RTCPGenericNACK, now: NIODeadline, transportSequence: inout UInt16, into feedback: inout RTPSenderFeedback
    ) {
        let capacity = configuration.maxPacketSize + 2 + configuration.trailingCapacity
        let rtx = configuration.retransmission
        var out: [ByteBuffer] = []
        nackResponder.respond(to: nack, now: now) { _, original in
            var buffer = allocator.buffer(capacity: capacity)
            if let rtx {
                do {
                    try RTXPacket.write(
                        original: original, payloadType: rtx.payloadType, ssrc: rtx.ssrc, sequenceNumber: rtxSequenceNumber,
                        into: &buffer)
                } catch {
                    // Only packets this sender wrote are in the history; they always parse.
                    return
                }
                rtxSequenceNumber &+= 1
            } else {
                buffer.writeBytes(original)
            }
            stampTransport(&buffer, now: now, transportSequence: &transportSequence)
            statistics.packetsRetransmitted += 1
            statistics.bytesRetransmitted += buffer.readableBytes
            out.append(buffer)
        }
        feedback.retransmissions += out
    }
}
