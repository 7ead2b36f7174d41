public import NIOCore
import NIOPosix
import STUNCore

/// One ICE session on real sockets: the sans-IO ``IceAgent`` and ``ServerReflexiveGatherer``
/// driven by SwiftNIO, with host sockets (or a shared ``UDPMux`` port), STUN and TURN
/// gathering, and the application data path over the selected pair.
///
/// All state lives on ``eventLoop``; the public methods may be called from anywhere and hop
/// there. Events arrive in order on ``events``; application data (DTLS, SRTP: anything that is
/// not STUN, RFC 7983) is handed to the data handler on the event loop.
public final class IceTransport: @unchecked Sendable {
    /// A local base: what sends for a candidate (RFC 8445 §5.1.1).
    enum LocalBase {
        case socket(any NIOCore.Channel, local: TransportAddress)
        case mux(UDPMux, AddressFamily)
        case relay(TurnConnection, relayed: TransportAddress)
    }

    public let eventLoop: any EventLoop
    public let events: AsyncStream<IceTransportEvent>
    let configuration: IceTransportConfiguration
    let eventsContinuation: AsyncStream<IceTransportEvent>.Continuation
    let mux: UDPMux?

    // Event-loop state.
    var agent: IceAgent
    var gatherer: ServerReflexiveGatherer<IceBaseID>
    var bases: [IceBaseID: LocalBase] = [:]
    var nextBaseNumber = 0
    var muxSession: UDPMuxRouter.SessionID?
    var timer: Scheduled<Void>?
    var timerDeadline: NIODeadline?
    var relaysPending = 0
    var gatheringStarted = false
    var gatheringCompleteSent = false
    var announced: Set<IceCandidate> = []
    var closed = false
    var dataHandler: (@Sendable (ByteBuffer) -> Void)?
    var random = SystemRandomNumberGenerator()
    /// Datagrams that were neither for the agent nor application data (e.g. stray STUN).
    public private(set) var strayDatagrams = 0

    /// - Parameters:
    ///   - configuration: agent settings, ICE servers, host addresses.
    ///   - localCredentials: this side's ufrag and password (random by default).
    ///   - eventLoop: where the session runs; with a `mux`, the mux's event loop.
    ///   - mux: a shared-port socket (`WEBRTC_PORT`); nil opens sockets of its own.
    public init(
        configuration: IceTransportConfiguration, localCredentials: IceCredentials = .random(),
        eventLoop: (any EventLoop)? = nil, mux: UDPMux? = nil
    ) {
        self.configuration = configuration
        self.mux = mux
        self.eventLoop = mux?.eventLoop ?? eventLoop ?? MultiThreadedEventLoopGroup.singleton.next()
        (events, eventsContinuation) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
        let now = NIODeadline.now()
        agent = IceAgent(configuration: configuration.agent, localCredentials: localCredentials, now: now)
        gatherer = ServerReflexiveGatherer(transactionConfiguration: configuration.gatheringTransaction)
    }

    /// This side's current credentials (they change on ``restart()``).
    public var localCredentials: IceCredentials {
        get async { (try? await eventLoop.submit { self.agent.localCredentials }.get()) ?? agent.localCredentials }
    }

    /// Sets the function that receives application data (DTLS/SRTP datagrams), on the event loop.
    public func setDataHandler(_ handler: @escaping @Sendable (ByteBuffer) -> Void) {
        eventLoop.execute { self.dataHandler = handler }
    }

    /// Opens the sockets, announces host candidates and starts server-reflexive and relayed
    /// gathering (their candidates trickle out on ``events`` as they come).
    /// - Throws: when no socket could be opened.
    public func start() async throws {
        let addresses = try configuration.interfaceAddresses ?? NetworkInterfaces.addresses()
        let usable = configuration.hostAddresses.usable(addresses)
        try await eventLoop.flatSubmit { self.openBases(usable) }.get()
        eventLoop.execute { self.startGathering() }
    }

    /// The peer's ufrag and password (from its SDP).
    public func setRemoteCredentials(_ credentials: IceCredentials) {
        eventLoop.execute {
            self.agent.setRemoteCredentials(credentials)
            self.drive()
        }
    }

    /// A remote candidate (from the SDP or trickled, RFC 8838).
    public func addRemoteCandidate(_ candidate: IceCandidate) {
        eventLoop.execute {
            self.agent.addRemoteCandidate(candidate, now: .now())
            self.drive()
        }
    }

    /// The peer signalled end-of-candidates.
    public func endOfRemoteCandidates() {
        eventLoop.execute {
            self.agent.endOfRemoteCandidates()
            self.drive()
        }
    }

    /// ICE restart (RFC 8445 §9) with new local credentials; candidates are gathered anew on
    /// the same sockets and announced again.
    public func restart(localCredentials: IceCredentials = .random()) async {
        try? await eventLoop.submit {
            let old = self.agent.localCredentials.usernameFragment
            self.agent.restart(localCredentials: localCredentials, now: .now())
            if let mux = self.mux, let session = self.muxSession {
                mux.router.register(ufrag: localCredentials.usernameFragment, for: session)
                mux.router.unregister(ufrag: old)
            }
            // The agent keeps its local candidates (RFC 8445 §9: gathering may reuse them); the
            // peer needs them again with the new credentials.
            let known = self.announced.filter { $0.type != .peerReflexive }
            self.announced = []
            for candidate in known.sorted(by: { $0.priority > $1.priority }) {
                self.announce(candidate)
            }
            if self.gatheringCompleteSent { self.eventsContinuation.yield(.gatheringComplete) }
            self.drive()
        }.get()
    }

    /// Sends application data on the selected pair; dropped (like any datagram) when there is none.
    public func send(_ data: ByteBuffer) {
        if eventLoop.inEventLoop { sendOnLoop(data) } else { eventLoop.execute { self.sendOnLoop(data) } }
    }

    /// The pair application data uses, if any.
    public var selectedPair: IceCandidatePair? {
        get async { try? await eventLoop.submit { self.agent.selectedPair }.get() }
    }

    /// The agent's counters.
    public var statistics: IceStatistics {
        get async { (try? await eventLoop.submit { self.agent.statistics }.get()) ?? IceStatistics() }
    }

    /// Closes the session: deallocates relays, closes its own sockets (a shared mux stays open),
    /// finishes ``events``.
    public func close() async {
        let relays: [TurnConnection] = (try? await eventLoop.submit { self.closeOnLoop() }.get()) ?? []
        for relay in relays { await relay.close() }
    }
}

// MARK: - Event-loop internals

extension IceTransport {
    func newBaseID() -> IceBaseID {
        defer { nextBaseNumber += 1 }
        return IceBaseID(nextBaseNumber)
    }

    /// Runs the agent's and gatherer's outputs; called after every input.
    func drive() {
        guard !closed else { return }
        while let transmit = agent.pollTransmit() {
            sendRaw(transmit.bytes, from: transmit.base, to: transmit.destination)
        }
        while let transmit = gatherer.pollTransmit() {
            if let mux, let session = muxSession, let id = TransactionID(bytes: transmit.bytes[8..<20]) {
                mux.router.expectResponse(to: id, for: session)
            }
            sendRaw(transmit.bytes, from: transmit.base, to: transmit.server)
        }
        while let event = agent.pollEvent() { handleAgentEvent(event) }
        while let event = gatherer.pollEvent() { handleGathererEvent(event) }
        checkGatheringComplete()
        rearmTimer()
    }

    func handleAgentEvent(_ event: IceEvent) {
        switch event {
        case .connectionStateChanged(let state):
            eventsContinuation.yield(.connectionStateChanged(state))
        case .selectedPairChanged(let pair):
            if let pair, case .relay(let turn, _)? = bases[pair.base] {
                // RFC 8656 §12: a channel for the selected pair saves 32 bytes per packet.
                let peer = pair.remoteAddress
                Task { _ = try? await turn.bindChannel(to: peer) }
            }
            eventsContinuation.yield(.selectedPairChanged(pair))
        case .resolveHostname(let name):
            resolveHostname(name)
        case .roleChanged, .consentExpired:
            break
        }
    }

    func rearmTimer() {
        let next = [agent.nextTimeout(), gatherer.nextTimeout()].compactMap { $0 }.min()
        guard next != timerDeadline else { return }
        timer?.cancel()
        timerDeadline = next
        guard let next else { timer = nil; return }
        timer = eventLoop.scheduleTask(deadline: next) { [self] in
            timerDeadline = nil
            timer = nil
            let now = NIODeadline.now()
            agent.handleTimeout(now: now)
            gatherer.handleTimeout(now: now)
            drive()
        }
    }

    /// A datagram arrived on `base` from `source`.
    func receive(_ buffer: ByteBuffer, from source: TransportAddress, on base: IceBaseID) {
        guard !closed, let first = buffer.readableBytesView.first else { return }
        guard first <= 3 else {  // RFC 7983 §7: not STUN, so DTLS/SRTP for the layer above
            dataHandler?(buffer)
            return
        }
        let bytes = Array(buffer.readableBytesView)
        let now = NIODeadline.now()
        var outcome: IceReceiveOutcome
        if !gatherer.isIdle, let message = try? StunMessage(decoding: bytes),
            gatherer.handleResponse(message, from: source, on: base)
        {
            outcome = .handled
        } else {
            outcome = agent.handleReceive(bytes, from: source, on: base, now: now)
            if outcome == .notForThisAgent { strayDatagrams += 1 }
            // Only an authenticated check or response proves the address (RFC 8445 §7.3, §7.2.5);
            // indications carry no integrity (§11).
            if outcome == .handled, let mux, let session = muxSession, bytes[1] & 0x10 == 0 || bytes[0] & 0x01 != 0 {
                mux.router.confirm(source, for: session)
            }
        }
        drive()
    }

    func sendOnLoop(_ data: ByteBuffer) {
        guard !closed, let pair = agent.selectedPair else { return }
        sendBuffer(data, from: pair.base, to: pair.remoteAddress)
    }

    func sendRaw(_ bytes: [UInt8], from base: IceBaseID, to destination: TransportAddress) {
        switch bases[base] {
        case .relay(let turn, _)?:
            turn.send(bytes, to: destination)
        case .some:
            sendBuffer(ByteBuffer(bytes: bytes), from: base, to: destination)
        case nil:
            break
        }
    }

    func sendBuffer(_ buffer: ByteBuffer, from base: IceBaseID, to destination: TransportAddress) {
        switch bases[base] {
        case .socket(let channel, _)?:
            guard let address = try? SocketAddress(destination) else { return }
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
        case .mux(let mux, _)?:
            mux.send(buffer, to: destination)
        case .relay(let turn, _)?:
            turn.send(Array(buffer.readableBytesView), to: destination)
        case nil:
            break
        }
    }

    func closeOnLoop() -> [TurnConnection] {
        guard !closed else { return [] }
        agent.close()
        drive()
        closed = true
        timer?.cancel()
        timer = nil
        var relays: [TurnConnection] = []
        for base in bases.values {
            switch base {
            case .socket(let channel, _): channel.close(promise: nil)
            case .mux: break
            case .relay(let turn, _): relays.append(turn)
            }
        }
        if let mux, let session = muxSession { mux.unregister(session) }
        bases = [:]
        eventsContinuation.finish()
        return relays
    }

    /// Resolves an mDNS (or any) hostname off the event loop; checks of other candidates go on
    /// meanwhile (the agent never waits for it).
    func resolveHostname(_ name: String) {
        let loop = eventLoop
        NIOThreadPool.singleton.runIfActive(eventLoop: loop) { HostnameResolver.resolve(name) }
            .whenComplete { result in
                switch result {
                case .success(let address?):
                    self.agent.resolvedHostname(name, to: address, now: .now())
                default:
                    self.agent.hostnameResolutionFailed(name)
                }
                self.drive()
            }
    }
}
