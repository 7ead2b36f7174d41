public import NIOCore

/// The sans-IO sender of one outgoing track: packetizes frames into ready-to-protect RTP
/// packets, keeps them for NACK, answers RTCP feedback and builds sender reports.
///
/// It never reads a clock or touches a socket: every call takes `now`. Packets are written
/// into the caller's buffer (or one reused buffer) with `trailingCapacity` spare bytes after
/// them and protected there, so the send path allocates nothing per packet unless the
/// consumer keeps the buffer.
///
/// Not thread-safe: use it from one event loop. A final class so that the packetizer,
/// buffer and history it owns are mutated in place during the `emit` callbacks.
///
/// The per-packet state is `@exclusivity(unchecked)`: one event loop owns the sender and no
/// method re-enters another while it holds an access, so Swift's dynamic exclusivity checks
/// (a runtime call and a thread-local lookup per property access) only cost time on the
/// send path; the compile-time checks inside each method still apply.
public final class RTPMediaSender {
    public let configuration: RTPMediaSenderConfiguration
    @exclusivity(unchecked) public internal(set) var statistics = RTPSenderStatistics()
    @exclusivity(unchecked) public internal(set) var nackResponder: NACKResponder

    /// The next media sequence number (random start, RFC 3550 §5.1).
    @exclusivity(unchecked) public internal(set) var sequenceNumber: UInt16
    /// The next RTX sequence number.
    @exclusivity(unchecked) public internal(set) var rtxSequenceNumber: UInt16
    /// Added to every caller timestamp (random, RFC 3550 §5.1).
    public let timestampOffset: UInt32

    @exclusivity(unchecked) var h264: H264Packetizer
    @exclusivity(unchecked) var opus: OpusPacketizer
    var random: MediaSenderRandom
    @exclusivity(unchecked) var scratch: ByteBuffer
    let allocator: ByteBufferAllocator

    /// The header template: fixed header and extension block with placeholders.
    private let template: [UInt8]
    private let absSendTimeOffset: Int?
    private let transportSequenceOffset: Int?

    /// The RTP timestamp and send time of the latest media packet, for SR timestamps.
    @exclusivity(unchecked) var lastTimestamp: (rtp: UInt32, at: NIODeadline)?
    var nextReportAt: NIODeadline?
    /// Compact NTP (middle 32 bits) and send time of recent SRs, for RTT from LSR/DLSR.
    var sentReports: [(compactNTP: UInt32, at: NIODeadline)] = []
    /// The last FIR command sequence number answered, per requesting SSRC.
    var firSequence: [UInt32: UInt8] = [:]

    /// - Parameters:
    ///   - configuration: the negotiated parameters.
    ///   - random: draws the initial sequence numbers, the timestamp offset and the seed of
    ///     the report-interval jitter.
    ///   - allocator: for the packet buffer and retransmissions.
    public init(
        configuration: RTPMediaSenderConfiguration, random: inout some RandomNumberGenerator,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) {
        self.configuration = configuration
        self.allocator = allocator
        sequenceNumber = UInt16.random(in: 0...UInt16.max, using: &random)
        rtxSequenceNumber = UInt16.random(in: 0...UInt16.max, using: &random)
        timestampOffset = UInt32.random(in: 0...UInt32.max, using: &random)
        self.random = MediaSenderRandom(seed: random.next())

        var header = ByteBuffer()
        header.writeInteger(UInt8(0x80))
        header.writeInteger(configuration.payloadType)
        header.writeInteger(UInt16(0))
        header.writeInteger(UInt32(0))
        header.writeInteger(configuration.ssrc)
        var absOffset: Int?
        var twccOffset: Int?
        let midBytes = configuration.midID == nil ? [] : Array((configuration.mid ?? "").utf8)
        let ids = [configuration.absSendTimeID, configuration.transportSequenceNumberID, configuration.midID].compactMap { $0 }
        if !ids.isEmpty {
            header.setInteger(UInt8(0x90), at: 0)
            let twoByte = ids.contains { $0 > 14 } || midBytes.count > 16 || (configuration.midID != nil && midBytes.isEmpty)
            var block = RTPExtensionBlockWriter(twoByte: twoByte, into: &header)
            if let id = configuration.absSendTimeID {
                block.append(id: id, into: &header) { absOffset = $0.writerIndex; RTPAbsSendTime.write(0, into: &$0) }
            }
            if let id = configuration.transportSequenceNumberID {
                block.append(id: id, into: &header) { twccOffset = $0.writerIndex; $0.writeInteger(UInt16(0)) }
            }
            if let id = configuration.midID {
                block.append(id: id, into: &header) { $0.writeBytes(midBytes) }
            }
            block.finish(into: &header)
        }
        let templateBytes = Array(header.readableBytesView)
        template = templateBytes
        absSendTimeOffset = absOffset
        transportSequenceOffset = twccOffset
        precondition(configuration.maxPacketSize >= templateBytes.count + 3, "maxPacketSize leaves no room for a payload")

        h264 = H264Packetizer(maxPayloadSize: configuration.maxPacketSize - templateBytes.count)
        opus = OpusPacketizer(maxPayloadSize: configuration.maxPacketSize - templateBytes.count)
        scratch = allocator.buffer(capacity: configuration.maxPacketSize + configuration.trailingCapacity)
        nackResponder = NACKResponder(
            history: RTPSendHistory(
                capacity: configuration.historyCapacity, maxPacketSize: configuration.maxPacketSize,
                maxAge: configuration.historyMaxAge),
            minimumResendInterval: configuration.minimumResendInterval)
    }

    /// The RTP header length of every packet this sender writes (fixed header and extensions).
    public var headerLength: Int { template.count }

    // MARK: sending media

    /// Packetizes one H.264 access unit and hands each packet to `emit`.
    /// - Parameters:
    ///   - annexB: the encoder's access unit, Annex B.
    ///   - rtpTimestamp: its 90 kHz media timestamp (the sender adds its random offset).
    ///   - now: the send time (abs-send-time, history, SR timing).
    ///   - transportSequence: the PeerConnection's transport-wide sequence counter, shared by
    ///     its tracks; advanced once per packet when the extension is negotiated.
    ///   - emit: receives each packet, plaintext, with spare capacity for the SRTP tag; it may
    ///     protect it in place. The buffer is reused after `emit` returns.
    /// - Returns: the number of packets emitted.
    @discardableResult
    public func sendVideoFrame(
        annexB: ByteBuffer, rtpTimestamp: UInt32, now: NIODeadline, transportSequence: inout UInt16,
        emit: (inout ByteBuffer) -> Void
    ) -> Int {
        sendVideoFrame(
            annexB: annexB, rtpTimestamp: rtpTimestamp, now: now, transportSequence: &transportSequence,
            appendingTo: &scratch
        ) { _, length in length } packetWritten: { buffer in
            emit(&buffer)
            buffer.clear()
        }
    }

    /// Packetizes one H.264 access unit, writing each packet at the end of `buffer`: the send
    /// path's form, where a frame's packets are written, kept for NACK and protected where
    /// they will be sent from, without a copy in between.
    /// - Parameters:
    ///   - annexB, rtpTimestamp, now, transportSequence: as in `sendVideoFrame(annexB:...:emit:)`.
    ///   - buffer: each packet is appended at its writer index.
    ///   - finish: called with each packet, plaintext, in memory that reaches
    ///     `configuration.trailingCapacity` bytes past its `length`; it may protect it in place
    ///     and returns the length to keep (0 drops the packet from `buffer`).
    ///   - packetWritten: called after each packet is in `buffer` (with the buffer).
    /// - Returns: the number of packets written.
    @discardableResult
    public func sendVideoFrame(
        annexB: ByteBuffer, rtpTimestamp: UInt32, now: NIODeadline, transportSequence: inout UInt16,
        appendingTo buffer: inout ByteBuffer,
        finish: (_ packet: UnsafeMutableRawBufferPointer, _ length: Int) -> Int,
        packetWritten: (inout ByteBuffer) -> Void = { _ in }
    ) -> Int {
        precondition(configuration.codec == .h264, "sendVideoFrame on an audio sender")
        let timestamp = rtpTimestamp &+ timestampOffset
        let count = annexB.withUnsafeReadableBytes { raw in
            h264.packetize(raw) { isLast, writePayload in
                writePacket(
                    marker: isLast, timestamp: timestamp, now: now, transportSequence: &transportSequence,
                    into: &buffer, finish: finish, payload: writePayload)
                packetWritten(&buffer)
            }
        }
        if count == 0 { statistics.framesDropped += 1 }
        return count
    }

    /// Sends one Opus packet (one RTP packet, RFC 7587 §4.2).
    /// - Parameters: as `sendVideoFrame`, with 48 kHz timestamps.
    /// - Returns: whether a packet was emitted (false for an empty or oversized Opus packet).
    @discardableResult
    public func sendAudioFrame(
        opus frame: ByteBuffer, rtpTimestamp: UInt32, now: NIODeadline, transportSequence: inout UInt16,
        emit: (inout ByteBuffer) -> Void
    ) -> Bool {
        defer { scratch.clear() }
        guard sendAudioFrame(
            opus: frame, rtpTimestamp: rtpTimestamp, now: now, transportSequence: &transportSequence,
            appendingTo: &scratch, finish: { _, length in length })
        else { return false }
        emit(&scratch)
        return true
    }

    /// Sends one Opus packet, appended to `buffer`; see
    /// `sendVideoFrame(annexB:rtpTimestamp:now:transportSequence:appendingTo:finish:packetWritten:)`.
    @discardableResult
    public func sendAudioFrame(
        opus frame: ByteBuffer, rtpTimestamp: UInt32, now: NIODeadline, transportSequence: inout UInt16,
        appendingTo buffer: inout ByteBuffer, finish: (_ packet: UnsafeMutableRawBufferPointer, _ length: Int) -> Int
    ) -> Bool {
        precondition(configuration.codec == .opus, "sendAudioFrame on a video sender")
        guard let marker = opus.marker(for: frame, rtpTimestamp: rtpTimestamp) else {
            statistics.framesDropped += 1
            return false
        }
        frame.withUnsafeReadableBytes { opusBytes in
            writePacket(
                marker: marker, timestamp: rtpTimestamp &+ timestampOffset, now: now,
                transportSequence: &transportSequence, into: &buffer, finish: finish
            ) { out in
                // `marker(for:)` refused packets larger than the payload budget.
                out.copyMemory(from: opusBytes)
                return opusBytes.count
            }
        }
        return true
    }

    /// Writes one packet at the writer index of `buffer`: header, payload, a copy into the
    /// NACK history, then `finish` (which may protect it in place).
    private func writePacket(
        marker: Bool, timestamp: UInt32, now: NIODeadline, transportSequence: inout UInt16,
        into buffer: inout ByteBuffer, finish: (UnsafeMutableRawBufferPointer, Int) -> Int,
        payload: (UnsafeMutableRawBufferPointer) -> Int
    ) {
        let maxPacketSize = configuration.maxPacketSize
        let trailing = configuration.trailingCapacity
        // The header in one write: the template, then marker and payload type, sequence
        // number, timestamp (RFC 3550 §5.1) and the transport extensions patched in place.
        let firstByte = (marker ? 0x80 : 0) | configuration.payloadType
        let sequence = sequenceNumber
        let absSendTime = absSendTimeOffset.map { ($0, RTPAbsSendTime.value(now)) }
        let transport = transportSequenceOffset.map { ($0, transportSequence) }
        let headerLength = template.count
        var payloadLength = 0
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: maxPacketSize + trailing) { out in
            template.withUnsafeBytes { out.copyMemory(from: $0) }
            out[1] = firstByte
            out.storeBytes(of: sequence.bigEndian, toByteOffset: 2, as: UInt16.self)
            out.storeBytes(of: timestamp.bigEndian, toByteOffset: 4, as: UInt32.self)
            if let (offset, value) = absSendTime {
                out[offset] = UInt8(truncatingIfNeeded: value >> 16)
                out[offset + 1] = UInt8(truncatingIfNeeded: value >> 8)
                out[offset + 2] = UInt8(truncatingIfNeeded: value)
            }
            if let (offset, value) = transport {
                out.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
            }
            payloadLength = payload(UnsafeMutableRawBufferPointer(rebasing: out[headerLength..<maxPacketSize]))
            let length = headerLength + payloadLength
            nackResponder.history.store(UnsafeRawBufferPointer(rebasing: out[0..<length]), sequenceNumber: sequence, now: now)
            return finish(UnsafeMutableRawBufferPointer(rebasing: out[0..<(length + trailing)]), length)
        }
        if transport != nil { transportSequence &+= 1 }
        statistics.packetsSent &+= 1
        statistics.octetsSent &+= UInt32(truncatingIfNeeded: payloadLength)
        lastTimestamp = (timestamp, now)
        sequenceNumber &+= 1
    }

    /// Writes abs-send-time and the next transport-wide sequence number into a packet that
    /// has this sender's header layout.
    func stampTransport(_ buffer: inout ByteBuffer, now: NIODeadline, transportSequence: inout UInt16) {
        let start = buffer.readerIndex
        if let offset = absSendTimeOffset {
            let value = RTPAbsSendTime.value(now)
            buffer.setInteger(UInt8(truncatingIfNeeded: value >> 16), at: start + offset)
            buffer.setInteger(UInt16(truncatingIfNeeded: value), at: start + offset + 1)
        }
        if let offset = transportSequenceOffset {
            buffer.setInteger(transportSequence, at: start + offset)
            transportSequence &+= 1
        }
    }

    func recordReport(compactNTP: UInt32, at now: NIODeadline) {
        if sentReports.count == Self.reportMemory { sentReports.removeFirst() }
        sentReports.append((compactNTP, now))
    }

    func sentReportTime(compactNTP: UInt32) -> NIODeadline? {
        sentReports.last(where: { $0.compactNTP == compactNTP })?.at
    }
}
