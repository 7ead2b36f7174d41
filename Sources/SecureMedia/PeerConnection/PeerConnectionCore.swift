public import NIOCore

/// The media half of a WebRTC session, sans-IO: DTLS-SRTP (RFC 5764) on the one transport
/// that BUNDLE (RFC 8843) and rtcp-mux (RFC 5761) leave, the RTP senders of the negotiated
/// tracks, and RTCP feedback. ICE runs beside it (``PeerConnection`` wires the two); this type
/// sees only application datagrams (RFC 7983: DTLS, SRTP, SRTCP) and the current time, and
/// returns datagrams to send, events and its next deadline.
///
/// Not thread-safe: one event loop owns it (the OpenSSL and libsrtp states it holds are
/// mutated in place).
public final class PeerConnectionCore {
    /// Counters for everything received or dropped.
    public struct Statistics: Sendable, Hashable {
        public var dtlsDatagramsReceived = 0
        public var srtcpPacketsReceived = 0
        /// SRTCP that failed authentication or replay checks (dropped).
        public var srtcpRejected = 0
        /// RTCP that decrypted but did not decode (dropped).
        public var rtcpMalformed = 0
        /// SRTP from the peer: the desktop receives no media (dropped).
        public var rtpReceivedIgnored = 0
        /// Datagrams that are neither DTLS nor SRTP/SRTCP (dropped).
        public var unknownDropped = 0
        /// Media frames handed over before DTLS connected (not sent).
        public var framesBeforeConnected = 0
        /// Packets that could not be protected (dropped).
        public var protectFailures = 0
        public var keyframeRequests = 0
        /// DTLS application-data records (SCTP, RFC 8261) received and sent.
        public var applicationDataReceived = 0
        public var applicationDataSent = 0
        /// SCTP packets DTLS could not carry (not connected, or larger than a record).
        public var applicationDataDropped = 0
        public init() {}
    }

    public let session: SDPNegotiatedSession
    /// The hot state is `@exclusivity(unchecked)`: one event loop owns the core and its methods
    /// do not re-enter each other, so the dynamic checks would only cost time per packet.
    @exclusivity(unchecked) public private(set) var statistics = Statistics()
    public let dtls: DTLSEndpoint
    public private(set) var srtp: SRTPSession?
    public let video: RTPMediaSender?
    public let audio: RTPMediaSender?
    /// The transport-wide sequence counter shared by the tracks (transport-cc).
    @exclusivity(unchecked) private var transportSequence: UInt16
    /// The buffer the packets of one frame are protected into, reused from frame to frame
    /// once the transport has let go of the previous frame's datagrams.
    @exclusivity(unchecked) private var batch = PacketBatch(capacity: 4096)
    private var started = false
    private var closed = false

    /// - Parameters:
    ///   - session: the outcome of the offer/answer exchange.
    ///   - local: our side of it (SSRCs, cname).
    ///   - certificate: our DTLS certificate (its fingerprint is in our SDP).
    ///   - mtu: the largest datagram (DTLS records and SRTP packets alike).
    ///   - random: draws sequence numbers and timestamp offsets.
    public init(
        session: SDPNegotiatedSession, local: SDPLocalParameters, certificate: DTLSCertificate, mtu: Int = 1200,
        random: inout some RandomNumberGenerator
    ) throws(DTLSError) {
        self.session = session
        dtls = try DTLSEndpoint(
            role: session.localDTLSRole == .client ? .client : .server, certificate: certificate,
            remoteFingerprints: session.remoteFingerprints, mtu: mtu)
        // RTP packets leave room for the largest SRTP tag (16 bytes, AEAD_AES_128_GCM).
        let packetBudget = mtu - 16
        func sender(_ media: SDPNegotiatedRTPMedia?, codec: RTPMediaSenderConfiguration.Codec) -> RTPMediaSender? {
            guard let media, media.sending, let ssrc = media.localSSRC else { return nil }
            var retransmission: RTPMediaSenderConfiguration.Retransmission?
            if media.nack, let pt = media.rtxPayloadType, let rtxSSRC = media.localRTXSSRC {
                retransmission = .init(payloadType: pt, ssrc: rtxSSRC)
            }
            let configuration = RTPMediaSenderConfiguration(
                codec: codec, payloadType: media.payloadType, ssrc: ssrc, retransmission: retransmission,
                absSendTimeID: media.extensionIDs[SDPExtensionMap.absSendTime],
                transportSequenceNumberID: media.extensionIDs[SDPExtensionMap.transportWideCC],
                midID: media.extensionIDs[SDPExtensionMap.mid], mid: media.mid, cname: local.cname,
                maxPacketSize: packetBudget)
            return RTPMediaSender(configuration: configuration, random: &random)
        }
        video = sender(session.video, codec: .h264)
        audio = sender(session.audio, codec: .opus)
        transportSequence = UInt16.random(in: 0...UInt16.max, using: &random)
    }

    /// True once DTLS is connected and SRTP keys are in place.
    public var isConnected: Bool { srtp != nil }

    /// Starts DTLS once ICE has a pair to send on: the client (our `setup:active`) sends its
    /// ClientHello (RFC 5763 §5); the server waits for it. Later calls do nothing.
    public func start(now: NIODeadline) -> PeerConnectionOutput {
        guard !started, !closed else { return PeerConnectionOutput() }
        started = true
        var output = PeerConnectionOutput()
        absorb(dtls.start(now: now), into: &output, now: now)
        return finish(output)
    }

    /// One datagram from ICE (never STUN: the agent keeps those).
    public func receive(_ datagram: ByteBuffer, now: NIODeadline) -> PeerConnectionOutput {
        var output = PeerConnectionOutput()
        guard !closed else { return output }
        switch MediaPacketKind.classify(datagram.readableBytesView) {
        case .dtls:
            statistics.dtlsDatagramsReceived += 1
            // A ClientHello may come before our own ICE side has chosen a pair (we are server).
            started = true
            absorb(dtls.receive(datagram, now: now), into: &output, now: now)
        case .rtcp:
            receiveRTCP(datagram, now: now, into: &output)
        case .rtp:
            statistics.rtpReceivedIgnored += 1
        default:
            statistics.unknownDropped += 1
        }
        return finish(output)
    }

    /// Packetizes, protects and returns one H.264 access unit (Annex B, 90 kHz timestamp);
    /// nothing before DTLS is connected or when video was not negotiated.
    public func sendVideo(annexB: ByteBuffer, timestamp: UInt32, now: NIODeadline) -> PeerConnectionOutput {
        var output = PeerConnectionOutput()
        guard let video, let srtp, !closed else {
            if self.video != nil { statistics.framesBeforeConnected += 1 }
            return output
        }
        var batch = takeBatch(capacity: annexB.readableBytes + annexB.readableBytes / 8 + 2048)
        video.sendVideoFrame(
            annexB: annexB, rtpTimestamp: timestamp, now: now, transportSequence: &transportSequence,
            appendingTo: &batch.storage
        ) { packet, length in
            protectInPlace(packet, length: length, with: srtp, lengths: &batch.lengths)
        }
        batch.finish(into: &output)
        swap(&batch, &self.batch)
        return finish(output)
    }

    /// Packetizes, protects and returns one Opus packet (48 kHz timestamp).
    public func sendAudio(opus: ByteBuffer, timestamp: UInt32, now: NIODeadline) -> PeerConnectionOutput {
        var output = PeerConnectionOutput()
        guard let audio, let srtp, !closed else {
            if self.audio != nil { statistics.framesBeforeConnected += 1 }
            return output
        }
        var batch = takeBatch(capacity: opus.readableBytes + 2048)
        audio.sendAudioFrame(
            opus: opus, rtpTimestamp: timestamp, now: now, transportSequence: &transportSequence,
            appendingTo: &batch.storage
        ) { packet, length in
            protectInPlace(packet, length: length, with: srtp, lengths: &batch.lengths)
        }
        batch.finish(into: &output)
        swap(&batch, &self.batch)
        return finish(output)
    }

    /// Sends one SCTP packet as one DTLS application-data record (RFC 8261 §5); dropped and
    /// counted before DTLS is connected or when it does not fit a record.
    public func sendApplicationData(_ packet: ByteBuffer, now: NIODeadline) -> PeerConnectionOutput {
        var output = PeerConnectionOutput()
        guard !closed else { return output }
        do {
            absorb(try dtls.writeApplicationData(packet, now: now), into: &output, now: now)
            statistics.applicationDataSent += 1
        } catch {
            statistics.applicationDataDropped += 1
        }
        return finish(output)
    }

    /// DTLS retransmissions and sender reports (RFC 3550 §6.4.1) that are due.
    /// - Parameter ntpTime: `now` on the wall clock as a 64-bit NTP timestamp.
    public func handleTimeout(now: NIODeadline, ntpTime: UInt64) -> PeerConnectionOutput {
        var output = PeerConnectionOutput()
        guard !closed else { return output }
        if let deadline = dtls.nextTimeout, deadline <= now {
            absorb(dtls.handleTimeout(now: now), into: &output, now: now)
        }
        if let srtp {
            for sender in [video, audio].compactMap({ $0 }) {
                if let report = sender.senderReport(now: now, ntpTime: ntpTime) {
                    protectControl(report, with: srtp, into: &output)
                }
            }
        }
        return finish(output)
    }

    /// When ``handleTimeout(now:ntpTime:)`` should run next.
    public var nextTimeout: NIODeadline? {
        guard !closed else { return nil }
        // Runs after every call (each frame sent), so without building arrays.
        var earliest = dtls.nextTimeout
        func consider(_ deadline: NIODeadline?) {
            if let deadline, earliest.map({ deadline < $0 }) ?? true { earliest = deadline }
        }
        if srtp != nil {
            consider(video?.nextSenderReport)
            consider(audio?.nextSenderReport)
        }
        return earliest
    }

    /// Ends the session: RTCP BYE for our streams (RFC 3550 §6.6), then close_notify.
    public func close(now: NIODeadline) -> PeerConnectionOutput {
        var output = PeerConnectionOutput()
        guard !closed else { return output }
        if let srtp {
            for sender in [video, audio].compactMap({ $0 }) { protectControl(sender.bye(), with: srtp, into: &output) }
        }
        absorb(dtls.close(now: now), into: &output, now: now)
        closed = true
        return output
    }

    // MARK: - Internals

    private func receiveRTCP(_ datagram: ByteBuffer, now: NIODeadline, into output: inout PeerConnectionOutput) {
        guard let srtp else {
            statistics.unknownDropped += 1
            return
        }
        statistics.srtcpPacketsReceived += 1
        var packet = datagram
        do {
            try srtp.unprotectRTCP(&packet)
        } catch {
            statistics.srtcpRejected += 1
            return
        }
        let packets: [RTCPPacket]
        do {
            packets = try RTCPPacket.decodeCompound(packet)
        } catch {
            statistics.rtcpMalformed += 1
            return
        }
        for (sender, kind) in [(video, MediaKind.video), (audio, MediaKind.audio)] {
            guard let sender else { continue }
            let feedback = sender.handleRTCP(packets, now: now, transportSequence: &transportSequence)
            for retransmission in feedback.retransmissions { protect(retransmission, with: srtp, into: &output) }
            if feedback.keyframeRequested, kind == .video {
                statistics.keyframeRequests += 1
                let pli = packets.contains { if case .pictureLossIndication = $0 { true } else { false } }
                output.events.append(.keyframeRequested(pli ? .pli : .fir))
            }
        }
    }

    private enum MediaKind { case video, audio }

    /// The reusable batch, emptied, moved out of `self` so that the closures above own it alone.
    private func takeBatch(capacity: Int) -> PacketBatch {
        var batch = PacketBatch.placeholder
        swap(&batch, &self.batch)
        batch.reset(minimumCapacity: capacity)
        return batch
    }

    /// The send path's hot loop: the sender writes each packet straight into the frame's
    /// batch and copies it into its NACK history; it is protected where it lies, so a frame
    /// costs one buffer however many packets it has, and a packet is written once.
    /// - Returns: the protected length, or 0 to drop the packet (counted).
    private func protectInPlace(
        _ packet: UnsafeMutableRawBufferPointer, length: Int, with srtp: SRTPSession, lengths: inout [Int]
    ) -> Int {
        var protected = length
        do {
            try srtp.protectRTP(packet, length: &protected)
            lengths.append(protected)
            return protected
        } catch {
            statistics.protectFailures += 1
            return 0
        }
    }

    private func protect(_ packet: ByteBuffer, with srtp: SRTPSession, into output: inout PeerConnectionOutput) {
        var copy = packet
        do {
            try srtp.protectRTP(&copy)
            output.datagrams.append(copy)
            output.mediaPackets += 1
        } catch {
            statistics.protectFailures += 1
        }
    }

    private func protectControl(_ packet: ByteBuffer, with srtp: SRTPSession, into output: inout PeerConnectionOutput) {
        var copy = packet
        do {
            try srtp.protectRTCP(&copy)
            output.datagrams.append(copy)
        } catch {
            statistics.protectFailures += 1
        }
    }

    private func absorb(_ result: DTLSOutput, into output: inout PeerConnectionOutput, now: NIODeadline) {
        output.datagrams += result.datagrams
        for event in result.events {
            switch event {
            case .connected(let keys):
                do {
                    srtp = try SRTPSession(keyingMaterial: keys)
                    output.events.append(.connected(keys.profile))
                } catch {
                    output.events.append(.failed("SRTP could not start: \(error)"))
                }
            case .applicationData(let data):
                statistics.applicationDataReceived += 1
                output.events.append(.applicationData(data))
            case .closed:
                output.events.append(.remoteClosed)
            case .failed(let error):
                output.events.append(.failed("DTLS: \(error)"))
            }
        }
    }

    private func finish(_ output: PeerConnectionOutput) -> PeerConnectionOutput {
        var output = output
        output.nextTimeout = nextTimeout
        return output
    }
}

/// What one call into a ``PeerConnectionCore`` produced.
public struct PeerConnectionOutput: Sendable {
    /// Datagrams for the ICE transport, in order.
    public var datagrams: [ByteBuffer] = []
    /// How many of them are (S)RTP media packets, first sends and retransmissions.
    public var mediaPackets = 0
    public var events: [PeerConnectionCoreEvent] = []
    public var nextTimeout: NIODeadline?
    public init() {}
}

/// Something the media half reports.
public enum PeerConnectionCoreEvent: Sendable, Hashable {
    /// DTLS finished, the fingerprint matched and SRTP is keyed.
    case connected(SRTPProtectionProfile)
    /// DTLS or SRTP failed: the session is over (`RTCPeerConnectionState` failed).
    case failed(String)
    /// The peer sent close_notify.
    case remoteClosed
    /// The receiver asked for a keyframe (PLI, RFC 4585 §6.3.1, or FIR, RFC 5104 §4.3.1).
    case keyframeRequested(KeyframeRequestReason)
    /// A DTLS application-data record: SCTP for data channels (RFC 8261).
    case applicationData(ByteBuffer)
}

/// Which RTCP feedback asked for a keyframe.
public enum KeyframeRequestReason: String, Sendable, Hashable {
    /// Picture Loss Indication (RFC 4585 §6.3.1).
    case pli
    /// Full Intra Request (RFC 5104 §4.3.1).
    case fir
}

/// The protected packets of one frame in one buffer; each datagram is a slice of it.
struct PacketBatch {
    /// The packets, back to back; senders append to it directly.
    var storage: ByteBuffer
    /// The length of each packet in `storage`, in order.
    var lengths: [Int] = []

    init(capacity: Int) {
        storage = ByteBufferAllocator().buffer(capacity: capacity)
        lengths.reserveCapacity(8)
    }

    /// Stands in for the core's batch while a frame uses it; never written.
    static let placeholder = PacketBatch(capacity: 0)

    /// Empties the batch, keeping its storage when nothing else holds it (the datagrams of the
    /// previous frame are gone), else taking fresh storage.
    mutating func reset(minimumCapacity: Int) {
        storage.clear(minimumCapacity: minimumCapacity)
        lengths.removeAll(keepingCapacity: true)
    }

    func finish(into output: inout PeerConnectionOutput) {
        output.datagrams.reserveCapacity(output.datagrams.count + lengths.count)
        var packets = storage
        for length in lengths {
            output.datagrams.append(packets.readSlice(length: length)!)
        }
        output.mediaPackets += lengths.count
    }
}
