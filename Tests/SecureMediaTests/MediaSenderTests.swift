import NIOCore
import Testing

@testable import SecureMedia

@Suite("RTP media sender: packets, NACK/RTX, keyframe requests, reports")
struct MediaSenderTests {
    static let videoSSRC: UInt32 = 0x1111_1111
    static let rtxSSRC: UInt32 = 0x2222_2222
    static let peerSSRC: UInt32 = 0x9999_9999

    static func videoConfig(rtx: Bool = true, maxPacketSize: Int = 1200, history: Int? = nil) -> RTPMediaSenderConfiguration {
        RTPMediaSenderConfiguration(
            codec: .h264, payloadType: 102, ssrc: videoSSRC,
            retransmission: rtx ? .init(payloadType: 103, ssrc: rtxSSRC) : nil,
            absSendTimeID: 2, transportSequenceNumberID: 3, midID: 4, mid: "0", cname: "cname-1",
            maxPacketSize: maxPacketSize, historyCapacity: history)
    }

    static func sender(_ config: RTPMediaSenderConfiguration, seed: UInt64 = 1) -> RTPMediaSender {
        var random = MediaSenderRandom(seed: seed)
        return RTPMediaSender(configuration: config, random: &random)
    }

    static let t0 = NIODeadline.uptimeNanoseconds(5_000_000_000)

    /// Sends the fixture's first `count` access units, 40 ms apart; returns the packets.
    static func sendFixture(_ sender: RTPMediaSender, count: Int, twcc: inout UInt16, start: NIODeadline = t0) throws -> [RTPPacket] {
        let units = H264Fixture.accessUnits(try H264Fixture.stream())
        var packets: [RTPPacket] = []
        for (i, unit) in units.prefix(count).enumerated() {
            sender.sendVideoFrame(
                annexB: ByteBuffer(bytes: unit), rtpTimestamp: UInt32(i * 3600), now: start + .milliseconds(Int64(i * 40)),
                transportSequence: &twcc
            ) { buffer in
                #expect(buffer.capacity - buffer.writerIndex >= 144)
                packets.append(try! RTPPacket.decode(from: ByteBuffer(bytes: Array(buffer.readableBytesView))))
            }
        }
        return packets
    }

    @Test("Packets carry the configured header, consecutive sequence numbers and the extensions")
    func packetHeaders() throws {
        let sender = Self.sender(Self.videoConfig())
        var twcc: UInt16 = 65534
        let first = sender.sequenceNumber
        let packets = try Self.sendFixture(sender, count: 3, twcc: &twcc)
        #expect(packets.count > 6)
        for (i, packet) in packets.enumerated() {
            #expect(packet.header.payloadType == 102)
            #expect(packet.header.ssrc == Self.videoSSRC)
            #expect(packet.header.sequenceNumber == first &+ UInt16(i))
            let ext = try #require(packet.header.extensions)
            #expect(ext.mid(id: 4) == "0")
            #expect(ext.transportSequenceNumber(id: 3) == 65534 &+ UInt16(i))
            #expect(ext.absSendTime(id: 2) != nil)
            #expect(packet.payload.readableBytes + sender.headerLength <= 1200)
        }
        #expect(twcc == 65534 &+ UInt16(packets.count))
        // Timestamps: the random offset plus the media time; a marker ends each frame.
        let timestamps = Set(packets.map(\.header.timestamp))
        #expect(timestamps == [sender.timestampOffset, sender.timestampOffset &+ 3600, sender.timestampOffset &+ 7200])
        #expect(packets.filter(\.header.marker).count == 3)
        #expect(sender.statistics.packetsSent == UInt32(packets.count))
        #expect(sender.statistics.octetsSent == UInt32(packets.reduce(0) { $0 + $1.payload.readableBytes }))
    }

    @Test("Tracks of one PeerConnection share the transport-wide sequence counter")
    func sharedTransportSequence() throws {
        let video = Self.sender(Self.videoConfig())
        var random = MediaSenderRandom(seed: 9)
        let audio = RTPMediaSender(
            configuration: .init(codec: .opus, payloadType: 111, ssrc: 7, transportSequenceNumberID: 3, cname: "cname-1"),
            random: &random)
        var twcc: UInt16 = 10
        var seen: [UInt16] = []
        let units = H264Fixture.accessUnits(try H264Fixture.stream())
        video.sendVideoFrame(annexB: ByteBuffer(bytes: units[1]), rtpTimestamp: 0, now: Self.t0, transportSequence: &twcc) {
            seen.append(try! RTPPacket.decode(from: $0).header.extensions!.transportSequenceNumber(id: 3)!)
        }
        audio.sendAudioFrame(opus: ByteBuffer(bytes: [0xF8, 1]), rtpTimestamp: 0, now: Self.t0, transportSequence: &twcc) {
            seen.append(try! RTPPacket.decode(from: $0).header.extensions!.transportSequenceNumber(id: 3)!)
        }
        video.sendVideoFrame(annexB: ByteBuffer(bytes: units[2]), rtpTimestamp: 3600, now: Self.t0, transportSequence: &twcc) {
            seen.append(try! RTPPacket.decode(from: $0).header.extensions!.transportSequenceNumber(id: 3)!)
        }
        #expect(seen == [10, 11, 12])
        #expect(twcc == 13)
    }

    @Test("The send path writes every packet into the same reused buffer (no per-packet allocation)")
    func reusesPacketBuffer() throws {
        let sender = Self.sender(Self.videoConfig())
        var twcc: UInt16 = 0
        var addresses = Set<UInt>()
        var count = 0
        for unit in H264Fixture.accessUnits(try H264Fixture.stream()).prefix(12) {
            sender.sendVideoFrame(annexB: ByteBuffer(bytes: unit), rtpTimestamp: 0, now: Self.t0, transportSequence: &twcc) { buffer in
                // What an in-place SRTP protect does: append the tag into the spare capacity.
                buffer.writeRepeatingByte(0xAA, count: 16)
                buffer.withUnsafeReadableBytes { _ = addresses.insert(UInt(bitPattern: $0.baseAddress)) }
                count += 1
            }
        }
        #expect(count > 20)
        #expect(addresses.count == 1)
    }

    @Test("The appending form writes a frame's packets back to back, keeps plaintext for NACK and drops what finish refuses")
    func appendsPacketsInPlace() throws {
        let units = H264Fixture.accessUnits(try H264Fixture.stream())
        // The same frames through the copying form, for comparison.
        let reference = Self.sender(Self.videoConfig(rtx: false))
        var referenceTwcc: UInt16 = 0
        var expected: [[UInt8]] = []
        for (i, unit) in units.prefix(3).enumerated() {
            reference.sendVideoFrame(
                annexB: ByteBuffer(bytes: unit), rtpTimestamp: UInt32(i * 3600), now: Self.t0 + .milliseconds(Int64(i * 40)),
                transportSequence: &referenceTwcc
            ) { expected.append(Array($0.readableBytesView)) }
        }

        let sender = Self.sender(Self.videoConfig(rtx: false))
        var twcc: UInt16 = 0
        var batch = ByteBuffer()
        var lengths: [Int] = []
        var written = 0
        for (i, unit) in units.prefix(3).enumerated() {
            written += sender.sendVideoFrame(
                annexB: ByteBuffer(bytes: unit), rtpTimestamp: UInt32(i * 3600), now: Self.t0 + .milliseconds(Int64(i * 40)),
                transportSequence: &twcc, appendingTo: &batch
            ) { packet, length in
                #expect(packet.count >= length + sender.configuration.trailingCapacity)
                // Stand-in for SRTP: scramble the packet in place and append a 16-byte tag.
                for k in 12..<length { packet[k] ^= 0x5A }
                for k in length..<(length + 16) { packet[k] = 0xAA }
                lengths.append(length + 16)
                return length + 16
            }
        }
        #expect(written == expected.count)
        #expect(batch.readableBytes == lengths.reduce(0, +))
        var offset = 0
        for (plain, length) in zip(expected, lengths) {
            let bytes = batch.getBytes(at: offset, length: length)!
            #expect(length == plain.count + 16)
            #expect(Array(bytes[0..<12]) == Array(plain[0..<12]))
            #expect(Array(bytes[12..<plain.count]) == plain[12...].map { $0 ^ 0x5A })
            #expect(Array(bytes.suffix(16)) == [UInt8](repeating: 0xAA, count: 16))
            offset += length
            // The history holds the plaintext, not what `finish` made of it.
            let sequence = UInt16(plain[2]) << 8 | UInt16(plain[3])
            let kept = sender.nackResponder.history.withPacket(sequence, now: Self.t0) { Array($0) }
            #expect(kept == plain)
        }
        #expect(twcc == referenceTwcc)

        // A packet `finish` refuses leaves nothing in the buffer but still counts as sent.
        var dropped = ByteBuffer()
        let count = sender.sendVideoFrame(
            annexB: ByteBuffer(bytes: units[3]), rtpTimestamp: 4 * 3600, now: Self.t0 + .milliseconds(160),
            transportSequence: &twcc, appendingTo: &dropped
        ) { _, _ in 0 }
        #expect(count > 0)
        #expect(dropped.readableBytes == 0)
    }

    @Test("Different seeds give different initial sequence numbers and timestamp offsets")
    func randomStart() {
        let a = Self.sender(Self.videoConfig(), seed: 1)
        let b = Self.sender(Self.videoConfig(), seed: 2)
        #expect(a.sequenceNumber != b.sequenceNumber || a.timestampOffset != b.timestampOffset)
        let again = Self.sender(Self.videoConfig(), seed: 1)
        #expect(a.sequenceNumber == again.sequenceNumber && a.timestampOffset == again.timestampOffset)
    }

    @Test("Audio frames become one packet each with 48 kHz timestamps and a talkspurt marker")
    func audio() throws {
        var random = MediaSenderRandom(seed: 3)
        let sender = RTPMediaSender(
            configuration: .init(codec: .opus, payloadType: 111, ssrc: 7, transportSequenceNumberID: 3, cname: "c"), random: &random)
        var twcc: UInt16 = 0
        var packets: [RTPPacket] = []
        for i in 0..<3 {
            let sent = sender.sendAudioFrame(
                opus: ByteBuffer(bytes: [0xF8, UInt8(i)]), rtpTimestamp: UInt32(i * 960), now: Self.t0, transportSequence: &twcc
            ) { packets.append(try! RTPPacket.decode(from: $0)) }
            #expect(sent)
        }
        #expect(packets.map(\.header.marker) == [true, false, false])
        #expect(packets.map { $0.header.timestamp &- sender.timestampOffset } == [0, 960, 1920])
        #expect(packets.map { Array($0.payload.readableBytesView) } == [[0xF8, 0], [0xF8, 1], [0xF8, 2]])
        #expect(!sender.sendAudioFrame(opus: ByteBuffer(), rtpTimestamp: 0, now: Self.t0, transportSequence: &twcc) { _ in })
        #expect(sender.statistics.framesDropped == 1)
        #expect(twcc == 3)
    }

    static func nack(_ lost: [UInt16], ssrc: UInt32 = videoSSRC) -> [RTCPPacket] {
        [.genericNACK(RTCPGenericNACK(senderSSRC: peerSSRC, mediaSSRC: ssrc, lost: lost))]
    }

    @Test("A NACK yields RTX packets with the RTX payload type, SSRC, own sequence numbers and the OSN")
    func nackToRTX() throws {
        let sender = Self.sender(Self.videoConfig())
        var twcc: UInt16 = 100
        let packets = try Self.sendFixture(sender, count: 2, twcc: &twcc)
        let wanted = [packets[1].header.sequenceNumber, packets[4].header.sequenceNumber]
        let rtxStart = sender.rtxSequenceNumber
        let twccBefore = twcc
        let feedback = sender.handleRTCP(Self.nack(wanted), now: Self.t0 + .milliseconds(100), transportSequence: &twcc)
        #expect(feedback.retransmissions.count == 2)
        for (k, buffer) in feedback.retransmissions.enumerated() {
            #expect(buffer.capacity - buffer.writerIndex >= 144)
            let rtx = try RTPPacket.decode(from: buffer)
            #expect(rtx.header.payloadType == 103)
            #expect(rtx.header.ssrc == Self.rtxSSRC)
            #expect(rtx.header.sequenceNumber == rtxStart &+ UInt16(k))
            let original = packets[k == 0 ? 1 : 4]
            #expect(rtx.header.timestamp == original.header.timestamp)
            #expect(rtx.header.marker == original.header.marker)
            let (osn, payload) = try RTXPacket.original(of: rtx)
            #expect(osn == wanted[k])
            #expect(payload == original.payload)
            #expect(rtx.header.extensions?.transportSequenceNumber(id: 3) == twccBefore &+ UInt16(k))
            #expect(rtx.header.extensions?.mid(id: 4) == "0")
        }
        #expect(sender.nackResponder.counters.resent == 2)
        #expect(sender.statistics.packetsRetransmitted == 2)
    }

    @Test("Without RTX the original packet is resent with its own sequence number")
    func nackWithoutRTX() throws {
        let sender = Self.sender(Self.videoConfig(rtx: false))
        var twcc: UInt16 = 0
        let packets = try Self.sendFixture(sender, count: 1, twcc: &twcc)
        let feedback = sender.handleRTCP(
            Self.nack([packets[0].header.sequenceNumber]), now: Self.t0 + .milliseconds(50), transportSequence: &twcc)
        let resent = try RTPPacket.decode(from: try #require(feedback.retransmissions.first))
        #expect(resent.header.sequenceNumber == packets[0].header.sequenceNumber)
        #expect(resent.header.ssrc == Self.videoSSRC)
        #expect(resent.payload == packets[0].payload)
    }

    @Test("NACKs for another SSRC, evicted or unknown packets resend nothing and are counted")
    func nackMisses() throws {
        let sender = Self.sender(Self.videoConfig(history: 8))
        var twcc: UInt16 = 0
        let packets = try Self.sendFixture(sender, count: 4, twcc: &twcc)
        #expect(packets.count > 8)
        let now = Self.t0 + .milliseconds(100)
        #expect(sender.handleRTCP(Self.nack([packets[0].header.sequenceNumber], ssrc: 5), now: now, transportSequence: &twcc).retransmissions.isEmpty)
        // The oldest packets were overwritten by later ones in an 8-slot ring.
        let evicted = sender.handleRTCP(Self.nack([packets[0].header.sequenceNumber]), now: now, transportSequence: &twcc)
        #expect(evicted.retransmissions.isEmpty)
        let latest = sender.handleRTCP(Self.nack([packets.last!.header.sequenceNumber]), now: now, transportSequence: &twcc)
        #expect(latest.retransmissions.count == 1)
        // Too old: past the 1 s history age.
        let late = sender.handleRTCP(
            Self.nack([packets.last!.header.sequenceNumber &- 1]), now: now + .seconds(2), transportSequence: &twcc)
        #expect(late.retransmissions.isEmpty)
        #expect(sender.nackResponder.counters.missingFromHistory == 2)
        #expect(sender.nackResponder.counters.requested == 3)
    }

    @Test("A packet is not resent twice within the resend interval, and is once it has passed")
    func rateLimit() throws {
        let sender = Self.sender(Self.videoConfig())
        var twcc: UInt16 = 0
        let packets = try Self.sendFixture(sender, count: 1, twcc: &twcc)
        let seq = packets[0].header.sequenceNumber
        let t = Self.t0 + .milliseconds(20)
        #expect(sender.handleRTCP(Self.nack([seq, seq]), now: t, transportSequence: &twcc).retransmissions.count == 1)
        #expect(sender.handleRTCP(Self.nack([seq]), now: t + .milliseconds(9), transportSequence: &twcc).retransmissions.isEmpty)
        #expect(sender.handleRTCP(Self.nack([seq]), now: t + .milliseconds(10), transportSequence: &twcc).retransmissions.count == 1)
        #expect(sender.nackResponder.counters.rateLimited == 1)
    }

    @Test("The history evicts by ring position and age, and looks up across the sequence wrap")
    func historyEviction() {
        var history = RTPSendHistory(capacity: 5, maxPacketSize: 16, maxAge: .milliseconds(100))
        #expect(history.capacity == 8)
        let t = Self.t0
        for seq in [65534, 65535, 0, 1] as [UInt16] {
            [UInt8(seq & 0xFF), 1, 2].withUnsafeBytes { history.store($0, sequenceNumber: seq, now: t) }
        }
        #expect(history.withPacket(65535, now: t) { Array($0) } == [0xFF, 1, 2])
        #expect(history.withPacket(1, now: t) { Array($0) } == [1, 1, 2])
        [UInt8](repeating: 9, count: 3).withUnsafeBytes { history.store($0, sequenceNumber: 65535 &+ 8, now: t) }
        #expect(!history.contains(65535, now: t))
        #expect(history.contains(65535 &+ 8, now: t))
        #expect(history.contains(1, now: t + .milliseconds(100)))
        #expect(!history.contains(1, now: t + .milliseconds(101)))
        [UInt8](repeating: 0, count: 17).withUnsafeBytes { history.store($0, sequenceNumber: 1, now: t) }
        #expect(history.oversizedPackets == 1)
        #expect(!history.contains(1, now: t))
    }

    @Test("PLI asks for a keyframe each time; FIR once per command sequence number")
    func keyframeRequests() {
        let sender = Self.sender(Self.videoConfig())
        var twcc: UInt16 = 0
        let pli: [RTCPPacket] = [.pictureLossIndication(RTCPPictureLossIndication(senderSSRC: Self.peerSSRC, mediaSSRC: Self.videoSSRC))]
        #expect(sender.handleRTCP(pli, now: Self.t0, transportSequence: &twcc).keyframeRequested)
        #expect(sender.handleRTCP(pli, now: Self.t0, transportSequence: &twcc).keyframeRequested)
        let otherPLI: [RTCPPacket] = [.pictureLossIndication(RTCPPictureLossIndication(senderSSRC: Self.peerSSRC, mediaSSRC: 1))]
        #expect(!sender.handleRTCP(otherPLI, now: Self.t0, transportSequence: &twcc).keyframeRequested)
        func fir(_ seq: UInt8, ssrc: UInt32 = MediaSenderTests.videoSSRC) -> [RTCPPacket] {
            [.fullIntraRequest(RTCPFullIntraRequest(senderSSRC: Self.peerSSRC, entries: [.init(ssrc: ssrc, sequenceNumber: seq)]))]
        }
        #expect(sender.handleRTCP(fir(1), now: Self.t0, transportSequence: &twcc).keyframeRequested)
        #expect(!sender.handleRTCP(fir(1), now: Self.t0, transportSequence: &twcc).keyframeRequested)
        #expect(sender.handleRTCP(fir(2), now: Self.t0, transportSequence: &twcc).keyframeRequested)
        #expect(!sender.handleRTCP(fir(3, ssrc: 1), now: Self.t0, transportSequence: &twcc).keyframeRequested)
        #expect(sender.statistics.pliReceived == 2)
        #expect(sender.statistics.firReceived == 3)
        #expect(sender.statistics.firDuplicates == 1)
    }

    @Test("A sender report goes out after media, carries the counts and CNAME, and repeats after 0.5–1.5 intervals")
    func senderReports() throws {
        let sender = Self.sender(Self.videoConfig())
        #expect(sender.senderReport(now: Self.t0, ntpTime: 1) == nil)
        var twcc: UInt16 = 0
        let packets = try Self.sendFixture(sender, count: 2, twcc: &twcc)
        let lastSend = Self.t0 + .milliseconds(40)
        let at = lastSend + .milliseconds(500)
        let ntp: UInt64 = 0xE000_0000_8000_0000
        let report = try #require(sender.senderReport(now: at, ntpTime: ntp))
        let decoded = try RTCPPacket.decodeCompound(report)
        guard case .senderReport(let sr) = decoded[0], case .sourceDescription(let sdes) = decoded[1] else {
            Issue.record("not SR + SDES: \(decoded)")
            return
        }
        #expect(sr.ssrc == Self.videoSSRC)
        #expect(sr.ntpTimestamp == ntp)
        #expect(sr.packetCount == UInt32(packets.count))
        // The last frame's timestamp plus 500 ms at 90 kHz.
        #expect(sr.rtpTimestamp == sender.timestampOffset &+ 3600 &+ 45000)
        #expect(sdes.chunks == [.init(ssrc: Self.videoSSRC, items: [.cname("cname-1")])])
        #expect(report.capacity - report.writerIndex >= 144)
        // Not due again right away; due within 1.5 s.
        #expect(sender.senderReport(now: at + .milliseconds(499), ntpTime: ntp) == nil)
        let next = try #require(sender.nextSenderReport)
        #expect(next >= at + .milliseconds(500) && next < at + .milliseconds(1500))
        #expect(sender.senderReport(now: next, ntpTime: ntp) != nil)
        #expect(sender.statistics.senderReportsSent == 2)
    }

    @Test("Report blocks about us give loss, jitter and the RTT from LSR and DLSR")
    func receiverReportRTT() throws {
        let sender = Self.sender(Self.videoConfig())
        var twcc: UInt16 = 0
        _ = try Self.sendFixture(sender, count: 1, twcc: &twcc)
        let srAt = Self.t0 + .milliseconds(10)
        let ntp: UInt64 = 0x0000_1234_5678_0000
        _ = try #require(sender.senderReport(now: srAt, ntpTime: ntp))
        // The receiver held the SR for 0.5 s (DLSR 32768/65536) and its RR arrives 530 ms later.
        let block = RTCPReportBlock(
            ssrc: Self.videoSSRC, fractionLost: 25, cumulativeLost: 3, jitter: 90, lastSenderReport: 0x1234_5678,
            delaySinceLastSenderReport: 32768)
        let rr: [RTCPPacket] = [.receiverReport(RTCPReceiverReport(ssrc: Self.peerSSRC, reportBlocks: [block, RTCPReportBlock(ssrc: 1)]))]
        let feedback = sender.handleRTCP(rr, now: srAt + .milliseconds(530), transportSequence: &twcc)
        #expect(feedback.reportBlocks == [block])
        #expect(feedback.roundTripTime == .milliseconds(30))
        #expect(sender.statistics.fractionLost == 25)
        #expect(sender.statistics.jitter == 90)
        #expect(sender.nackResponder.resendInterval == .milliseconds(30))
        // An LSR we never sent gives no RTT.
        var unknown = block
        unknown.lastSenderReport = 0x0BAD_0BAD
        let none = sender.handleRTCP(
            [.receiverReport(RTCPReceiverReport(ssrc: Self.peerSSRC, reportBlocks: [unknown]))], now: srAt, transportSequence: &twcc)
        #expect(none.roundTripTime == nil)
    }

    @Test("REMB and transport feedback are surfaced; BYE ends the stream with RR, SDES and BYE")
    func rembAndBye() throws {
        let sender = Self.sender(Self.videoConfig())
        var twcc: UInt16 = 0
        let remb = RTCPReceiverEstimatedMaxBitrate(senderSSRC: Self.peerSSRC, bitrate: 2_000_000, ssrcs: [Self.videoSSRC])
        let fb = RTCPTransportFeedback(
            senderSSRC: Self.peerSSRC, mediaSSRC: 0, baseSequenceNumber: 1, referenceTime: 0, feedbackPacketCount: 0, packets: [])
        let feedback = sender.handleRTCP(
            [.receiverEstimatedMaxBitrate(remb), .transportFeedback(fb), .goodbye(RTCPGoodbye(ssrcs: [Self.peerSSRC]))], now: Self.t0,
            transportSequence: &twcc)
        #expect(feedback.estimatedBitrate == 2_000_000)
        #expect(feedback.transportFeedback == [fb])
        #expect(feedback.receiverLeft)
        let bye = try RTCPPacket.decodeCompound(sender.bye())
        #expect(bye.count == 3)
        #expect(bye.last == .goodbye(RTCPGoodbye(ssrcs: [Self.videoSSRC, Self.rtxSSRC])))
    }

    @Test("Packets fit a small MTU: the payload budget accounts for the header extensions")
    func smallMTU() throws {
        let sender = Self.sender(Self.videoConfig(maxPacketSize: 300))
        var twcc: UInt16 = 0
        let units = H264Fixture.accessUnits(try H264Fixture.stream())
        var sizes: [Int] = []
        sender.sendVideoFrame(annexB: ByteBuffer(bytes: units[0]), rtpTimestamp: 0, now: Self.t0, transportSequence: &twcc) {
            sizes.append($0.readableBytes)
        }
        #expect(sizes.count > 10)
        #expect(sizes.max()! <= 300)
        #expect(sizes.max()! > 250)
    }
}
