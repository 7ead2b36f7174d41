public import NIOCore
public import STUNCore

/// A sans-IO ICE agent (RFC 8445) with trickle (RFC 8838), mDNS candidates and consent
/// freshness (RFC 7675), for one component over UDP.
///
/// The agent opens no socket and reads no clock. Feed it candidates, received datagrams and
/// timeouts, each with the current time; then drain ``pollTransmit()`` (datagrams to send from
/// a base), ``pollEvent()`` (state changes, the selected pair, hostnames to resolve) and arm a
/// timer for ``nextTimeout()``.
///
/// ```swift
/// var agent = IceAgent(configuration: .init(role: .controlled), localCredentials: .random(), now: now)
/// agent.addLocalCandidate(host, base: IceBaseID(0))
/// agent.setRemoteCredentials(remote)
/// agent.addRemoteCandidate(try IceCandidate(sdp: line), now: now)
/// while let transmit = agent.pollTransmit() { send(transmit.bytes, from: transmit.base, to: transmit.destination) }
/// ```
public struct IceAgent: Sendable {
    public let configuration: Configuration
    /// The current role; a role conflict may change it (``IceEvent/roleChanged(_:)``).
    public internal(set) var role: IceRole
    public internal(set) var localCredentials: IceCredentials
    public internal(set) var remoteCredentials: IceCredentials?
    public internal(set) var statistics = IceStatistics()
    /// The connection state; each change is also an ``IceEvent/connectionStateChanged(_:)``.
    public internal(set) var connectionState: IceConnectionState = .new
    /// The pair to send application data on, once one is nominated.
    public var selectedPair: IceCandidatePair? { selection?.pair }
    /// The 64-bit tie-breaker for role conflicts (RFC 8445 §7.3.1.1).
    public internal(set) var tieBreaker: UInt64

    var random: IceRandom
    var locals: [LocalCandidate] = []
    var remotes: [RemoteCandidate] = []
    var pairs: [CandidatePair] = []
    /// The triggered-check queue (RFC 8445 §6.1.4.1), pair ids in FIFO order.
    var triggered: [Int] = []
    var transactions: [CheckTransaction] = []
    var transmitQueue: [IceTransmit] = []
    var eventQueue: [IceEvent] = []
    var nextIdentifier = 0
    /// When the next paced check may go (Ta, RFC 8445 §14.2).
    var nextCheckAt: NIODeadline
    /// The latest time any input carried; inputs without a time act at this time.
    var lastNow: NIODeadline
    var remoteCandidatesEnded = false
    /// The last time a candidate, credentials or a pair arrived (for the failure grace period).
    var lastProgressAt: NIODeadline
    /// When the first pair became valid (the controlling agent's nomination timer).
    var firstValidAt: NIODeadline?
    var selection: Selection?
    var consentExpired = false
    var closed = false
    /// Ufrags this agent used before ICE restarts: checks naming them are refused.
    var previousUsernameFragments: [String] = []
    /// Hostnames handed out in ``IceEvent/resolveHostname(_:)`` and not answered yet.
    var pendingHostnames: [String] = []

    /// Creates an agent.
    ///
    /// - Parameters:
    ///   - configuration: role, timers and limits.
    ///   - localCredentials: this agent's ufrag and password (signalled to the peer).
    ///   - now: the current time.
    ///   - randomSeed: nil to draw tie-breaker, transaction ids and consent jitter from the
    ///     system's secure generator; a value for reproducible tests.
    public init(
        configuration: Configuration, localCredentials: IceCredentials, now: NIODeadline, randomSeed: UInt64? = nil
    ) {
        self.configuration = configuration
        self.role = configuration.role
        self.localCredentials = localCredentials
        self.random = IceRandom(seed: randomSeed)
        self.tieBreaker = random.next()
        self.nextCheckAt = now
        self.lastNow = now
        self.lastProgressAt = now
    }

    // MARK: Inputs

    /// Adds a gathered local candidate (trickled in as gathering finds it).
    ///
    /// Host and relay candidates are paired with every compatible remote candidate; a
    /// server-reflexive candidate is paired through its base (RFC 8445 §6.1.2.4), so it only
    /// forms pairs when its base has no host candidate. Checks start at the next
    /// ``handleTimeout(now:)``, which ``nextTimeout()`` then asks for at once.
    /// - Parameters:
    ///   - candidate: the candidate as signalled to the peer.
    ///   - base: the socket or relay allocation it belongs to.
    public mutating func addLocalCandidate(_ candidate: IceCandidate, base: IceBaseID) {
        guard !closed, candidate.component == configuration.component, candidate.transportAddress != nil,
            !locals.contains(where: { $0.base == base && $0.candidate.transportAddress == candidate.transportAddress
                && $0.candidate.type == candidate.type })
        else { return }
        let id = makeIdentifier()
        locals.append(LocalCandidate(id: id, candidate: candidate, base: base))
        lastProgressAt = lastNow
        formPairs(forLocal: id)
        updateState(now: lastNow)
    }

    /// Sets the peer's ufrag and password (from its offer or answer). Checks can only be sent
    /// once they are known; checks received before are answered and remembered (Trickle ICE, RFC 8838).
    public mutating func setRemoteCredentials(_ credentials: IceCredentials) {
        guard !closed else { return }
        remoteCredentials = credentials
        lastProgressAt = lastNow
        updateState(now: lastNow)
    }

    /// Adds a remote candidate (from the SDP or trickled, RFC 8838), at any time and in any order.
    ///
    /// A hostname address is not paired until it is resolved: the agent asks with
    /// ``IceEvent/resolveHostname(_:)`` and goes on checking the other candidates meanwhile.
    /// TCP candidates, port 0, candidates of another component and candidates whose `ufrag`
    /// extension names other remote credentials than the current ones (an earlier ICE
    /// generation; trickled candidates carry it for this, RFC 8838) are ignored.
    public mutating func addRemoteCandidate(_ candidate: IceCandidate, now: NIODeadline) {
        advance(to: now)
        guard !closed, candidate.component == configuration.component, candidate.transport == .udp,
            candidate.port != 0, remotes.count < configuration.maxRemoteCandidates
        else { return }
        if let ufrag = candidate.usernameFragment, let current = remoteCredentials?.usernameFragment, ufrag != current {
            return
        }
        lastProgressAt = now
        switch candidate.address {
        case .ip(let ip):
            addResolvedRemote(candidate, address: TransportAddress(ip: ip, port: candidate.port))
        case .hostname(let name):
            remotes.append(RemoteCandidate(id: makeIdentifier(), candidate: candidate, address: nil))
            if !pendingHostnames.contains(name) {
                pendingHostnames.append(name)
                eventQueue.append(.resolveHostname(name))
            }
        }
        drive(now: now)
    }

    /// The peer signalled that it has no more candidates (RFC 8838 end-of-candidates). From now on the
    /// agent fails as soon as every pair failed.
    public mutating func endOfRemoteCandidates() {
        guard !closed else { return }
        remoteCandidatesEnded = true
        updateState(now: lastNow)
    }

    /// The answer to ``IceEvent/resolveHostname(_:)``: the candidates with this hostname take
    /// the address and are paired.
    public mutating func resolvedHostname(_ hostname: String, to address: IPAddress, now: NIODeadline) {
        advance(to: now)
        pendingHostnames.removeAll { $0 == hostname }
        let waiting = remotes.filter { $0.address == nil && $0.candidate.address == .hostname(hostname) }
        remotes.removeAll { $0.address == nil && $0.candidate.address == .hostname(hostname) }
        guard !closed else { return }
        lastProgressAt = now
        for entry in waiting {
            addResolvedRemote(entry.candidate, address: TransportAddress(ip: address, port: entry.candidate.port))
        }
        drive(now: now)
    }

    /// The hostname could not be resolved: its candidates are dropped. Checks from the peer
    /// still reach the agent and make peer-reflexive candidates (RFC 8445 §7.3.1.3).
    public mutating func hostnameResolutionFailed(_ hostname: String) {
        pendingHostnames.removeAll { $0 == hostname }
        remotes.removeAll { $0.address == nil && $0.candidate.address == .hostname(hostname) }
        updateState(now: lastNow)
    }

    /// Advances timers: paced and triggered checks, retransmissions, nomination, consent.
    public mutating func handleTimeout(now: NIODeadline) {
        advance(to: now)
        guard !closed else { return }
        drive(now: now)
    }

    // MARK: Outputs

    /// The next datagram to send, in order.
    public mutating func pollTransmit() -> IceTransmit? {
        transmitQueue.isEmpty ? nil : transmitQueue.removeFirst()
    }

    /// The next event, in order.
    public mutating func pollEvent() -> IceEvent? {
        eventQueue.isEmpty ? nil : eventQueue.removeFirst()
    }

    /// When ``handleTimeout(now:)`` must next be called; nil when nothing is scheduled. May be
    /// at or before the last time given, meaning "now".
    public func nextTimeout() -> NIODeadline? {
        guard !closed else { return nil }
        var earliest: NIODeadline?
        func consider(_ deadline: NIODeadline?) {
            guard let deadline else { return }
            if earliest == nil || deadline < earliest! { earliest = deadline }
        }
        if hasCheckToSend { consider(max(nextCheckAt, lastNow)) }
        for transaction in transactions { consider(transaction.nextEventAt) }
        consider(nominationDeadline)
        consider(consentDeadline)
        consider(failureDeadline)
        return earliest
    }

    // MARK: Lifecycle

    /// ICE restart (RFC 8445 §9): new local credentials; remote credentials and candidates,
    /// pairs and checks are flushed, and checks naming the old ufrag are refused with 401. The
    /// selected pair stays in use until the new checks nominate one: consent is still checked
    /// on it, and the peer's consent checks on that one path are still answered with the old
    /// credentials.
    /// Local host and relay candidates are kept; add new ones if gathering runs again.
    /// Call it whichever side restarts: a peer's new ufrag and password in a re-offer mean the
    /// local side restarts too (RFC 8445 §9).
    public mutating func restart(localCredentials: IceCredentials, now: NIODeadline) {
        advance(to: now)
        guard !closed else { return }
        previousUsernameFragments.append(self.localCredentials.usernameFragment)
        if previousUsernameFragments.count > 16 { previousUsernameFragments.removeFirst() }
        self.localCredentials = localCredentials
        remoteCredentials = nil
        remotes = []
        pairs = []
        triggered = []
        transactions.removeAll { !$0.isConsent }
        pendingHostnames = []
        locals.removeAll { $0.candidate.type == .peerReflexive }
        remoteCandidatesEnded = false
        firstValidAt = nil
        selection?.pairID = nil
        lastProgressAt = now
        consentExpired = false
        updateState(now: now)
    }

    /// Stops the agent: no more checks, responses or events except the `closed` state.
    public mutating func close() {
        guard !closed else { return }
        closed = true
        transactions = []
        triggered = []
        transmitQueue = []
        setState(.closed)
    }

    /// The local ufrag a check is addressed to: the part of USERNAME before the colon
    /// (RFC 8445 §7.2.2), which a shared-port demultiplexer uses to find the agent.
    /// - Returns: nil for anything but a Binding request with a USERNAME.
    public static func localUsernameFragment(of message: StunMessage) -> String? {
        guard message.method == .binding, message.messageClass == .request, let username = message.username,
            let colon = username.firstIndex(of: ":")
        else { return nil }
        return String(username[..<colon])
    }

    // MARK: Internals shared by the extensions

    mutating func makeIdentifier() -> Int {
        nextIdentifier += 1
        return nextIdentifier
    }

    mutating func advance(to now: NIODeadline) {
        if now > lastNow { lastNow = now }
    }

    /// One processing round: timers, checks, nomination, consent, then the state.
    mutating func drive(now: NIODeadline) {
        guard !closed else { return }
        processTransactions(now: now)
        sendPacedCheck(now: now)
        considerNomination(now: now)
        processConsent(now: now)
        updateState(now: now)
    }

    mutating func emit(_ event: IceEvent) {
        eventQueue.append(event)
    }

    mutating func setState(_ state: IceConnectionState) {
        guard state != connectionState else { return }
        // RTCIceConnectionState passes through `connected` on its way to `completed`.
        if state == .completed, connectionState != .connected {
            connectionState = .connected
            eventQueue.append(.connectionStateChanged(.connected))
        }
        connectionState = state
        eventQueue.append(.connectionStateChanged(state))
    }
}
