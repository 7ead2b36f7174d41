import ICEAgent
import NIOCore
import STUNCore

/// One simulated ICE endpoint: an agent, its sockets (bases) and what it reported.
struct SimulatedPeer: Sendable {
    var name: String
    var agent: IceAgent
    /// Each base's socket address.
    var bases: [IceBaseID: TransportAddress] = [:]
    /// Candidates this peer signals, in gathering order.
    var candidates: [IceCandidate] = []
    /// Every event with the simulated millisecond it was polled at.
    var events: [(time: Int64, event: IceEvent)] = []
    /// Answers to `resolveHostname` events; a missing name fails to resolve.
    var hostnames: [String: IPAddress] = [:]
    /// When false, hostname lookups are never answered (a resolver that hangs).
    var answersHostnames = true
    /// Names this peer was asked to resolve.
    var resolutionRequests: [String] = []
    /// Every datagram this peer's agent sent, and when (simulated ms).
    var transmitted: [IceTransmit] = []
    var transmittedAt: [Int64] = []

    var states: [IceConnectionState] {
        events.compactMap { if case .connectionStateChanged(let state) = $0.event { state } else { nil } }
    }

    /// When the state first became `state`, in simulated milliseconds.
    func firstTime(of state: IceConnectionState) -> Int64? {
        events.first { if case .connectionStateChanged(state) = $0.event { true } else { false } }?.time
    }

    /// Adds a host candidate on a new base and remembers it for signalling.
    mutating func addHost(_ address: String, interfaceIndex: Int = 0) {
        let transport = TransportAddress(address)!
        let base = IceBaseID(bases.count)
        bases[base] = transport
        let candidate = IceCandidate(
            address: transport, type: .host,
            localPreference: IceCandidate.localPreference(for: transport.ip, interfaceIndex: interfaceIndex))
        candidates.append(candidate)
        agent.addLocalCandidate(candidate, base: base)
    }

    /// Adds a relayed candidate on a base of its own (to the agent a relay is just another base;
    /// here its address is simply reachable, as if the TURN server forwarded it).
    mutating func addRelay(_ address: String, mappedFrom mapped: String) {
        let transport = TransportAddress(address)!
        let base = IceBaseID(bases.count)
        bases[base] = transport
        let candidate = IceCandidate(
            address: transport, type: .relay, server: transport.ip, related: TransportAddress(mapped)!)
        candidates.append(candidate)
        agent.addLocalCandidate(candidate, base: base)
    }

    /// Adds a server-reflexive candidate for an existing base (as a STUN server would report it).
    mutating func addServerReflexive(_ address: String, base: IceBaseID) {
        let transport = TransportAddress(address)!
        let candidate = IceCandidate(
            address: transport, type: .serverReflexive, base: bases[base]!.ip, server: IPAddress("198.51.100.250"),
            related: bases[base]!)
        candidates.append(candidate)
        agent.addLocalCandidate(candidate, base: base)
    }

    func base(for address: TransportAddress) -> IceBaseID? {
        bases.first { $0.value == address }?.key
    }
}

/// Two agents on a ``SimulatedNetwork``, driven in simulated time: every step handles the
/// earliest due timeout or datagram, then drains transmits and events. Nothing sleeps.
struct IceTestHarness: Sendable {
    var a: SimulatedPeer
    var b: SimulatedPeer
    var network: SimulatedNetwork
    var now: Int64 = 0
    /// Steps taken, to catch an agent that asks for a timeout it never moves past.
    private(set) var steps = 0

    init(
        aRole: IceRole = .controlling, bRole: IceRole = .controlled, conditions: SimulatedNetwork.Conditions = .init(),
        seed: UInt64 = 1, configuration: IceAgent.Configuration = .init()
    ) {
        var random = SimSeededGenerator(seed: seed)
        var aConfiguration = configuration, bConfiguration = configuration
        aConfiguration.role = aRole
        bConfiguration.role = bRole
        a = SimulatedPeer(
            name: "A", agent: IceAgent(configuration: aConfiguration, localCredentials: .random(using: &random),
                                       now: simAt(0), randomSeed: random.next()))
        b = SimulatedPeer(
            name: "B", agent: IceAgent(configuration: bConfiguration, localCredentials: .random(using: &random),
                                       now: simAt(0), randomSeed: random.next()))
        network = SimulatedNetwork(conditions: conditions, seed: random.next())
    }

    /// Gives each side the other's credentials (the offer/answer exchange).
    mutating func exchangeCredentials() {
        a.agent.setRemoteCredentials(b.agent.localCredentials)
        b.agent.setRemoteCredentials(a.agent.localCredentials)
    }

    /// Signals `from`'s candidates to the other side through their SDP form, optionally
    /// rewriting each (for example to an mDNS name), then end-of-candidates.
    mutating func signalCandidates(
        fromA: Bool, reversed: Bool = false, end: Bool = true, rewrite: (IceCandidate) -> IceCandidate = { $0 }
    ) {
        let source = fromA ? a.candidates : b.candidates
        let ordered = reversed ? source.reversed() : source
        for candidate in ordered {
            // Through the wire format, as signalling would carry it.
            let line = rewrite(candidate).sdpValue
            let parsed = try! IceCandidate(sdp: line)
            if fromA { b.agent.addRemoteCandidate(parsed, now: simAt(now)) } else { a.agent.addRemoteCandidate(parsed, now: simAt(now)) }
            flush()
        }
        if end {
            if fromA { b.agent.endOfRemoteCandidates() } else { a.agent.endOfRemoteCandidates() }
        }
    }

    /// Runs until `limit` (simulated ms) or until `done` holds.
    mutating func run(until limit: Int64, while keepGoing: (IceTestHarness) -> Bool = { _ in true }) {
        flush()
        while keepGoing(self), steps < 1_000_000 {
            let candidates = [a.agent.nextTimeout(), b.agent.nextTimeout(), network.nextDelivery].compactMap { $0 }
            guard let next = candidates.min() else { break }
            let time = max(simMillisecondsRoundingUp(next), now)
            guard time <= limit else { break }
            steps += 1
            // A timeout far below the current time would spin: each step must make progress.
            now = time
            let deadline = simAt(now)
            for datagram in network.takeDue(now: deadline) {
                if let base = a.base(for: datagram.destination) {
                    a.agent.handleReceive(datagram.bytes, from: datagram.source, on: base, now: deadline)
                } else if let base = b.base(for: datagram.destination) {
                    b.agent.handleReceive(datagram.bytes, from: datagram.source, on: base, now: deadline)
                }
            }
            if let due = a.agent.nextTimeout(), due <= deadline { a.agent.handleTimeout(now: deadline) }
            if let due = b.agent.nextTimeout(), due <= deadline { b.agent.handleTimeout(now: deadline) }
            flush()
        }
        if now < limit, keepGoing(self) { now = limit }
    }

    /// Runs until both agents are connected (or completed), at most `limit` ms.
    mutating func runUntilConnected(limit: Int64 = 30_000) {
        run(until: limit) { !($0.a.agent.isUp && $0.b.agent.isUp) }
    }

    /// Moves transmits into the network and events into the logs; answers hostname lookups.
    mutating func flush() {
        var progressed = true
        while progressed {
            progressed = false
            for side in [true, false] {
                var peer = side ? a : b
                while let transmit = peer.agent.pollTransmit() {
                    progressed = true
                    peer.transmitted.append(transmit)
                    peer.transmittedAt.append(now)
                    if let source = peer.bases[transmit.base] {
                        network.send(from: source, to: transmit.destination, bytes: transmit.bytes, now: simAt(now))
                    }
                }
                while let event = peer.agent.pollEvent() {
                    progressed = true
                    peer.events.append((now, event))
                    if case .resolveHostname(let name) = event {
                        peer.resolutionRequests.append(name)
                        if !peer.answersHostnames {
                            // Never answered.
                        } else if let ip = peer.hostnames[name] {
                            peer.agent.resolvedHostname(name, to: ip, now: simAt(now))
                        } else {
                            peer.agent.hostnameResolutionFailed(name)
                        }
                    }
                }
                if side { a = peer } else { b = peer }
            }
        }
    }
}

extension IceAgent {
    /// Connected or completed.
    var isUp: Bool { connectionState == .connected || connectionState == .completed }
}
