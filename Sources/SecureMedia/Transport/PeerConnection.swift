public import ICEAgent
public import NIOCore
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// `RTCPeerConnectionState` (W3C WebRTC §4.4.3), from the ICE and DTLS states together.
public enum PeerConnectionState: String, Sendable, Hashable {
    case new, connecting, connected, disconnected, failed, closed
}

/// What a ``PeerConnection`` reports, in order, on ``PeerConnection/events``.
public enum PeerConnectionEvent: Sendable, Hashable {
    /// A local candidate to trickle to the peer (RFC 8838 §4), for the BUNDLE transport's mid.
    case localCandidate(SDPIceCandidateInit)
    /// Gathering ended: send end-of-candidates.
    case gatheringComplete
    case iceConnectionStateChanged(IceConnectionState)
    case connectionStateChanged(PeerConnectionState)
    case selectedPairChanged(IceCandidatePair?)
    /// DTLS connected with this SRTP profile.
    case dtlsConnected(SRTPProtectionProfile)
    /// The receiver asked for a keyframe (PLI or FIR).
    case keyframeRequested(KeyframeRequestReason)
    /// Why the session failed (DTLS, SRTP or ICE).
    case failed(String)
    /// The SCTP association over DTLS is up (RFC 8261): negotiated channels are open.
    case dataChannelsConnected
    /// The peer opened a channel in-band (DCEP, RFC 8832); it is open.
    case dataChannelOpened(DataChannel)
    /// The SCTP association ended; every channel is closed.
    case dataChannelsClosed(SCTPCloseReason)
}

/// Why a ``PeerConnection`` could not answer an offer.
public enum PeerConnectionError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalidOffer(String)
    case cannotNegotiate(String)
    case alreadyNegotiated
    case dtls(String)
    case closed

    public var description: String {
        switch self {
        case .invalidOffer(let detail): "the offer is not valid SDP: \(detail)"
        case .cannotNegotiate(let detail): "the offer cannot be answered: \(detail)"
        case .alreadyNegotiated: "this session already has a remote description"
        case .dtls(let detail): "DTLS could not be set up: \(detail)"
        case .closed: "the session is closed"
        }
    }
}

/// Counters of one session.
public struct PeerConnectionStatistics: Sendable {
    public var state: PeerConnectionState
    public var iceState: IceConnectionState
    public var srtpProfile: SRTPProtectionProfile?
    public var media: PeerConnectionCore.Statistics
    public var video: RTPSenderStatistics?
    public var videoNACK: NACKResponder.Counters?
    public var audio: RTPSenderStatistics?
    public var dtls: DTLSEndpoint.Statistics?
    public var ice: IceStatistics
    /// Media packets dropped on purpose (``PeerConnection/Configuration/simulatedOutgoingLoss``).
    public var simulatedDrops: Int
    /// SCTP packets dropped on purpose, both ways (``PeerConnection/Configuration/simulatedDataChannelLoss``).
    public var simulatedDataChannelDrops: Int
    /// Data-channel and SCTP counters, when the session has an application m-line.
    public var dataChannels: DataChannelCounters?
    public var sctp: SCTPAssociationCounters?
    /// usrsctp's own view of the association (SCTP_STATUS): window, in flight, cwnd, RTO, path.
    public var sctpStatus: SCTPTransportStatus?
}

/// A WebRTC answerer (or offerer) for one browser session: ICE (``IceTransport``), DTLS-SRTP
/// and the media senders (``PeerConnectionCore``) on one event loop.
///
/// The public methods may be called from anywhere; they hop to ``eventLoop``.
public final class PeerConnection: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// ICE servers, host addresses; the agent's role is set from the offer/answer role.
        public var ice: IceTransportConfiguration
        public var certificate: DTLSCertificate
        /// The largest datagram we send (DTLS records, SRTP packets).
        public var mtu: Int
        public var sendsVideo: Bool
        public var sendsAudio: Bool
        /// Drops this fraction of outgoing RTP packets before they reach the socket, to test
        /// and measure loss recovery (NACK/RTX) without a lossy network. 0 in production.
        public var simulatedOutgoingLoss: Double
        /// Drops this fraction of SCTP packets in each direction (DTLS application data), to
        /// test SCTP's recovery. 0 in production.
        public var simulatedDataChannelLoss: Double
        /// Channels both sides create with a fixed id and no DCEP (RFC 8832 §6), such as Pod
        /// Arcade's ``NegotiatedDataChannel/podArcadeInput``; made with the answer, open when
        /// SCTP connects.
        public var negotiatedDataChannels: [NegotiatedDataChannel]
        /// The largest message we accept, announced as `a=max-message-size` (RFC 8841 §6).
        public var maxMessageSize: Int
        /// Receives the messages of every channel the peer opens in-band, on the event loop,
        /// from its first message on (``DataChannelController/setPeerChannelMessageHandler(_:)``);
        /// nil leaves them on ``DataChannel/messages``.
        public var peerChannelMessageHandler: (@Sendable (DataChannel, DataChannelMessage) -> Void)?

        public init(
            ice: IceTransportConfiguration, certificate: DTLSCertificate, mtu: Int = 1200, sendsVideo: Bool = true,
            sendsAudio: Bool = true, simulatedOutgoingLoss: Double = 0, simulatedDataChannelLoss: Double = 0,
            negotiatedDataChannels: [NegotiatedDataChannel] = [], maxMessageSize: Int = 262_144,
            peerChannelMessageHandler: (@Sendable (DataChannel, DataChannelMessage) -> Void)? = nil
        ) {
            self.ice = ice
            self.certificate = certificate
            self.mtu = mtu
            self.sendsVideo = sendsVideo
            self.sendsAudio = sendsAudio
            self.simulatedOutgoingLoss = simulatedOutgoingLoss
            self.simulatedDataChannelLoss = simulatedDataChannelLoss
            self.negotiatedDataChannels = negotiatedDataChannels
            self.maxMessageSize = maxMessageSize
            self.peerChannelMessageHandler = peerChannelMessageHandler
        }
    }

    public let eventLoop: any EventLoop
    public let events: AsyncStream<PeerConnectionEvent>
    let configuration: Configuration
    let ice: IceTransport
    let continuation: AsyncStream<PeerConnectionEvent>.Continuation

    // Event-loop state.
    var core: PeerConnectionCore?
    var session: SDPNegotiatedSession?
    var state: PeerConnectionState = .new
    var iceState: IceConnectionState = .new
    var srtpProfile: SRTPProtectionProfile?
    var timer: Scheduled<Void>?
    var timerDeadline: NIODeadline?
    var simulatedDrops = 0
    var simulatedDataChannelDrops = 0
    var sctp: DataChannelTransport?
    let controllerBox = NIOLockedValueBox<DataChannelController?>(nil)
    var random = SystemRandomNumberGenerator()
    var iceEvents: Task<Void, Never>?
    var gatheringDone: EventLoopPromise<Void>
    var gatheringFinished = false
    var localCandidates: [IceCandidate] = []

    /// - Parameters:
    ///   - configuration: ICE, certificate, what we send.
    ///   - eventLoop: where the session runs (with a `mux`, the mux's loop).
    ///   - mux: a shared UDP port (`WEBRTC_PORT`), or nil for sockets of its own.
    public init(configuration: Configuration, eventLoop: (any EventLoop)? = nil, mux: UDPMux? = nil) {
        var ice = configuration.ice
        ice.agent.role = .controlled
        self.configuration = configuration
        self.ice = IceTransport(configuration: ice, eventLoop: eventLoop, mux: mux)
        self.eventLoop = self.ice.eventLoop
        (events, continuation) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
        gatheringDone = self.eventLoop.makePromise()
    }

    /// Answers a browser's offer (JSEP, RFC 8829 §5.3.1): negotiates, starts ICE with the
    /// offer's credentials and candidates, and returns our answer.
    /// - Parameter waitForGathering: gather every candidate first and put them in the answer;
    ///   otherwise candidates follow as events. An offer without `a=ice-options:trickle`
    ///   always gets the gathered candidates in its answer.
    public func answer(offer text: String, waitForGathering: Bool = false) async throws(PeerConnectionError) -> String {
        let offer: SDPSessionDescription
        do {
            offer = try SDPSessionDescription.parse(text)
        } catch {
            throw .invalidOffer("\(error)")
        }
        var local = SDPLocalParameters(fingerprint: configuration.certificate.fingerprint)
        local.iceCredentials = await ice.localCredentials
        local.sendsVideo = configuration.sendsVideo
        local.sendsAudio = configuration.sendsAudio
        local.maxMessageSize = UInt64(configuration.maxMessageSize)
        var negotiated: (answer: SDPSessionDescription, session: SDPNegotiatedSession)
        do {
            negotiated = try SDPNegotiation.answer(offer: offer, local: local)
        } catch {
            throw .cannotNegotiate("\(error)")
        }
        let session = negotiated.session
        // A streaming session needs a picture or sound to carry: an offer whose media sections
        // were all rejected (unknown codecs only) is refused, naming why.
        let sendsMedia = (session.video?.sending ?? false) || (session.audio?.sending ?? false)
        if (configuration.sendsVideo || configuration.sendsAudio) && !sendsMedia {
            let reasons = session.rejected.map { "m-line \($0.mediaIndex) (\($0.kind)): \($0.reason)" }
            throw .cannotNegotiate(
                "no media section we can send on" + (reasons.isEmpty ? "" : "; " + reasons.joined(separator: "; ")))
        }
        let certificate = configuration.certificate
        let mtu = configuration.mtu
        let localParameters = local
        // The core (OpenSSL, libsrtp state) is made on the event loop that owns it.
        let install = eventLoop.submit { () -> PeerConnectionError? in
            guard self.state != .closed else { return .closed }
            guard self.core == nil else { return .alreadyNegotiated }
            do {
                self.core = try PeerConnectionCore(
                    session: session, local: localParameters, certificate: certificate, mtu: mtu,
                    random: &self.random)
            } catch {
                return .dtls("\(error)")
            }
            self.session = session
            do {
                try self.makeDataChannels(session: session, local: localParameters)
            } catch {
                return .cannotNegotiate("data channels: \(error)")
            }
            return nil
        }
        let refusal: PeerConnectionError?
        do {
            refusal = try await install.get()
        } catch {
            refusal = .closed
        }
        if let refusal { throw refusal }

        ice.setDataHandler { [weak self] datagram in self?.receive(datagram) }
        ice.setRemoteCredentials(session.remoteIceCredentials)
        for candidate in session.remoteCandidates { ice.addRemoteCandidate(candidate) }
        if session.remoteEndOfCandidates { ice.endOfRemoteCandidates() }
        startEvents()
        do {
            try await ice.start()
        } catch {
            throw .cannotNegotiate("no socket for ICE: \(error)")
        }
        // RFC 8838 §4: candidates are trickled only to a peer that announced
        // `a=ice-options:trickle`; one that did not (aiortc) gets them all in the answer.
        if waitForGathering || !session.remoteTrickle {
            try? await gatheringDone.futureResult.get()
            local.candidates = (try? await eventLoop.submit { self.localCandidates }.get()) ?? []
            local.gatheringComplete = true
            do {
                negotiated = try SDPNegotiation.answer(offer: offer, local: local)
            } catch {
                throw .cannotNegotiate("\(error)")
            }
        }
        return negotiated.answer.text
    }

    /// A candidate the browser trickled (`offer-ice-candidate`); an empty candidate is
    /// end-of-candidates. Candidates for another generation (ufrag) are ignored.
    public func addRemoteCandidate(_ candidate: SDPIceCandidateInit) throws(SDPNegotiationError) {
        guard let parsed = try candidate.iceCandidate() else {
            ice.endOfRemoteCandidates()
            return
        }
        ice.addRemoteCandidate(parsed)
    }

    /// Sends one H.264 access unit (Annex B) with its 90 kHz timestamp, once connected.
    public func sendVideo(_ annexB: ByteBuffer, timestamp: UInt32) {
        eventLoop.execute {
            guard let core = self.core else { return }
            self.handle(core.sendVideo(annexB: annexB, timestamp: timestamp, now: .now()))
        }
    }

    /// Sends one Opus packet with its 48 kHz timestamp, once connected.
    public func sendAudio(_ opus: ByteBuffer, timestamp: UInt32) {
        eventLoop.execute {
            guard let core = self.core else { return }
            self.handle(core.sendAudio(opus: opus, timestamp: timestamp, now: .now()))
        }
    }

    /// The session's counters.
    public var statistics: PeerConnectionStatistics {
        get async {
            let ice = await self.ice.statistics
            return (try? await eventLoop.submit { self.statisticsOnLoop(ice: ice) }.get())
                ?? statisticsOnLoop(ice: ice)
        }
    }

    /// Sends RTCP BYE and close_notify, closes ICE and finishes ``events``.
    public func close() async {
        let wasOpen = (try? await eventLoop.submit { () -> Bool in
            guard self.state != .closed else { return false }
            self.sctp?.close()
            if let core = self.core { self.handle(core.close(now: .now())) }
            self.timer?.cancel()
            self.setState(.closed)
            return true
        }.get()) ?? false
        guard wasOpen else { return }
        await ice.close()
        iceEvents?.cancel()
        eventLoop.execute { self.finishGathering() }
        continuation.finish()
    }
}

// MARK: - Event-loop internals

extension PeerConnection {
    func startEvents() {
        iceEvents = Task { [weak self] in
            guard let events = self?.ice.events else { return }
            for await event in events {
                guard let self else { return }
                self.eventLoop.execute { self.handleIce(event) }
            }
        }
    }

    func handleIce(_ event: IceTransportEvent) {
        guard state != .closed, let session else { return }
        switch event {
        case .localCandidate(let candidate):
            localCandidates.append(candidate)
            continuation.yield(.localCandidate(SDPIceCandidateInit(
                candidate, mid: session.transportMid, mediaIndex: session.transportMediaIndex)))
        case .gatheringComplete:
            finishGathering()
            continuation.yield(.gatheringComplete)
        case .serverFailed:
            break
        case .connectionStateChanged(let newState):
            iceState = newState
            continuation.yield(.iceConnectionStateChanged(newState))
            updateState()
        case .selectedPairChanged(let pair):
            continuation.yield(.selectedPairChanged(pair))
            if pair != nil, let core { handle(core.start(now: .now())) }
        }
    }

    func finishGathering() {
        guard !gatheringFinished else { return }
        gatheringFinished = true
        gatheringDone.succeed()
    }

    func receive(_ datagram: ByteBuffer) {
        guard let core, state != .closed else { return }
        handle(core.receive(datagram, now: .now()))
    }

    func handle(_ output: PeerConnectionOutput) {
        let loss = configuration.simulatedOutgoingLoss
        for datagram in output.datagrams {
            if loss > 0, MediaPacketKind.classify(datagram.readableBytesView) == .rtp,
                Double.random(in: 0..<1, using: &random) < loss
            {
                simulatedDrops += 1
                continue
            }
            ice.send(datagram)
        }
        for event in output.events {
            switch event {
            case .connected(let profile):
                srtpProfile = profile
                continuation.yield(.dtlsConnected(profile))
                updateState()
                startDataChannels()
            case .failed(let reason):
                continuation.yield(.failed(reason))
                setState(.failed)
                sctp?.close()
            case .remoteClosed:
                setState(.closed)
                sctp?.close()
            case .keyframeRequested(let reason):
                continuation.yield(.keyframeRequested(reason))
            case .applicationData(let packet):
                receiveSCTP(packet)
            }
        }
        schedule(output.nextTimeout)
    }

    func schedule(_ deadline: NIODeadline?) {
        guard deadline != timerDeadline else { return }
        timer?.cancel()
        timerDeadline = deadline
        guard let deadline else { return }
        timer = eventLoop.scheduleTask(deadline: deadline) { [weak self] in
            guard let self, let core = self.core else { return }
            self.timerDeadline = nil
            self.handle(core.handleTimeout(now: .now(), ntpTime: Self.ntpNow()))
        }
    }

    func updateState() {
        guard state != .closed, state != .failed else { return }
        switch iceState {
        case .failed: setState(.failed)
        case .disconnected: setState(.disconnected)
        case .closed: setState(.closed)
        case .connected, .completed: setState(core?.isConnected == true ? .connected : .connecting)
        case .checking: setState(.connecting)
        case .new: break
        }
    }

    func setState(_ newState: PeerConnectionState) {
        guard newState != state else { return }
        state = newState
        continuation.yield(.connectionStateChanged(newState))
    }

    func statisticsOnLoop(ice: IceStatistics) -> PeerConnectionStatistics {
        PeerConnectionStatistics(
            state: state, iceState: iceState, srtpProfile: srtpProfile,
            media: core?.statistics ?? PeerConnectionCore.Statistics(), video: core?.video?.statistics,
            videoNACK: core?.video?.nackResponder.counters, audio: core?.audio?.statistics,
            dtls: core?.dtls.statistics, ice: ice, simulatedDrops: simulatedDrops,
            simulatedDataChannelDrops: simulatedDataChannelDrops, dataChannels: sctp?.controller.counters,
            sctp: sctp?.controller.association.counters, sctpStatus: sctp?.controller.association.transportStatus)
    }

    /// The wall clock as a 64-bit NTP timestamp (RFC 3550 §4: seconds since 1900 in 32.32).
    static func ntpNow() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        let seconds = UInt64(spec.tv_sec) + 2_208_988_800
        let fraction = (UInt64(spec.tv_nsec) << 32) / 1_000_000_000
        return seconds << 32 | fraction
    }
}
