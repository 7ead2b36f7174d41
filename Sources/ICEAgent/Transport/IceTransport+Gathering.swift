import Logging
import NIOCore
import NIOPosix
import NIOSSL
import STUNCore

// Gathering (RFC 8445 §5.1.1): host candidates first, then server-reflexive and relayed ones
// trickling in as their servers answer (RFC 8838 §4); none waits for another.
extension IceTransport {
    /// Opens one socket per usable interface address, or joins the shared mux.
    func openBases(_ usable: [IPAddress]) -> EventLoopFuture<Void> {
        if let mux {
            var familyBases: [AddressFamily: IceBaseID] = [:]
            for family in mux.families {
                let id = newBaseID()
                bases[id] = .mux(mux, family)
                familyBases[family] = id
            }
            do {
                muxSession = try mux.register(self, bases: familyBases)
            } catch {
                return eventLoop.makeFailedFuture(error)
            }
            for (index, candidateAddress) in hostCandidateAddresses(usable).enumerated() {
                guard let base = familyBases[candidateAddress.family] else { continue }
                addLocal(
                    IceCandidate(address: TransportAddress(ip: candidateAddress, port: mux.port), type: .host,
                                 localPreference: IceCandidate.localPreference(for: candidateAddress, interfaceIndex: index)),
                    base: base)
            }
            return eventLoop.makeSucceededVoidFuture()
        }
        let advertised = configuration.hostAddresses.advertisedAddresses
        let binds = usable.enumerated().map { index, ip in
            DatagramBootstrap(group: eventLoop)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(DatagramInboundHandler(transport: self))
                    }
                }
                .bind(host: ip.description, port: 0)
                .map { channel -> Void in
                    guard let local = channel.localAddress.flatMap({ TransportAddress($0) }) else {
                        channel.close(promise: nil)
                        return
                    }
                    let id = self.newBaseID()
                    self.bases[id] = .socket(channel, local: local)
                    (channel.pipeline.handler(type: DatagramInboundHandler.self).map { $0.base = id })
                        .whenFailure { _ in }
                    if advertised.isEmpty {
                        self.addLocal(
                            IceCandidate(address: local, type: .host,
                                         localPreference: IceCandidate.localPreference(for: ip, interfaceIndex: index)),
                            base: id)
                    } else {
                        for (n, public_) in advertised.enumerated() where public_.family == ip.family {
                            self.addLocal(
                                IceCandidate(address: TransportAddress(ip: public_, port: local.port), type: .host, base: ip,
                                             localPreference: IceCandidate.localPreference(for: public_, interfaceIndex: index + n)),
                                base: id)
                        }
                    }
                }
                .recover { _ in }  // an address that cannot be bound is skipped
        }
        return EventLoopFuture.andAllComplete(binds, on: eventLoop).flatMapThrowing {
            if self.bases.isEmpty && !self.configuration.iceServers.contains(where: { $0.urls.contains { $0.scheme.isTURN } }) {
                throw IceTransportError.noUsableAddress
            }
        }
    }

    /// The host candidates' addresses on a shared port: `WEBRTC_IPS` when set (NAT 1:1), else
    /// the interfaces' own.
    func hostCandidateAddresses(_ usable: [IPAddress]) -> [IPAddress] {
        let advertised = configuration.hostAddresses.advertisedAddresses
        return advertised.isEmpty ? usable : advertised
    }

    /// Starts the STUN queries and TURN allocations.
    func startGathering() {
        gatheringStarted = true
        let socketBases = bases.compactMap { id, base -> (IceBaseID, AddressFamily)? in
            switch base {
            case .socket(_, let local): return (id, local.ip.family)
            case .mux(_, let family): return (id, family)
            case .relay: return nil
            }
        }.sorted { $0.0.rawValue < $1.0.rawValue }
        let now = NIODeadline.now()
        for server in configuration.iceServers {
            for url in server.urls {
                if url.scheme.isTURN {
                    startRelay(url: url, username: server.username ?? "", password: server.credential ?? "")
                } else if url.scheme == .stun, !configuration.relayOnly {
                    // stuns: (STUN over TLS) gives no UDP mapping; it is not used for gathering.
                    guard case .ip(let ip) = url.host else {
                        relaysPending += 1
                        resolveServer(url) { address in
                            self.relaysPending -= 1
                            if let address { self.queryServer(address, bases: socketBases) }
                            else { self.eventsContinuation.yield(.serverFailed(server: url.description, reason: "cannot resolve host")) }
                        }
                        continue
                    }
                    for (base, family) in socketBases where family == ip.family {
                        gatherer.start(base: base, server: TransportAddress(ip: ip, port: url.port), now: now, using: &random)
                    }
                }
            }
        }
        drive()
    }

    func queryServer(_ address: TransportAddress, bases socketBases: [(IceBaseID, AddressFamily)]) {
        for (base, family) in socketBases where family == address.ip.family {
            gatherer.start(base: base, server: address, now: .now(), using: &random)
        }
        drive()
    }

    func resolveServer(_ url: IceServerURL, then: @escaping @Sendable (TransportAddress?) -> Void) {
        let name = url.host.description
        NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) { HostnameResolver.resolve(name) }
            .whenComplete { result in
                if case .success(let ip?) = result { then(TransportAddress(ip: ip, port: url.port)) } else { then(nil) }
            }
    }

    func handleGathererEvent(_ event: ServerReflexiveGatherer<IceBaseID>.Event) {
        switch event {
        case .mapped(let base, let server, let mapped):
            guard case .socket(_, let local)? = bases[base] ?? nil else {
                if case .mux? = bases[base] { addServerReflexive(mapped, base: base, baseAddress: nil, server: server.ip) }
                return
            }
            addServerReflexive(mapped, base: base, baseAddress: local, server: server.ip)
        case .failed(_, let server, let reason):
            eventsContinuation.yield(.serverFailed(server: server.description, reason: reason))
        }
    }

    func addServerReflexive(_ mapped: TransportAddress, base: IceBaseID, baseAddress: TransportAddress?, server: IPAddress) {
        // RFC 8445 §5.1.3: a server-reflexive candidate equal to a host candidate is redundant.
        if announced.contains(where: { $0.transportAddress == mapped && $0.type == .host }) { return }
        guard !configuration.relayOnly else { return }
        let candidate = IceCandidate(address: mapped, type: .serverReflexive, base: baseAddress?.ip ?? mapped.ip,
                                     server: server, related: baseAddress ?? mapped)
        if announced.contains(where: { $0.transportAddress == mapped && $0.type == .serverReflexive }) { return }
        addLocal(candidate, base: base)
    }

    /// Allocates on a TURN server; the relayed candidate (and a server-reflexive one from the
    /// XOR-MAPPED-ADDRESS) join when the allocation succeeds.
    func startRelay(url: IceServerURL, username: String, password: String) {
        relaysPending += 1
        let id = newBaseID()
        var turnConfiguration = TurnConnection.Configuration(server: url, username: username, password: password)
        // Relayed datagrams come straight to the agent on the event loop (no stream hop).
        turnConfiguration.onData = { [weak self] peer, bytes in
            guard let self else { return }
            if self.eventLoop.inEventLoop {
                self.receive(ByteBuffer(bytes: bytes), from: peer, on: id)
            } else {
                self.eventLoop.execute { self.receive(ByteBuffer(bytes: bytes), from: peer, on: id) }
            }
        }
        if !configuration.verifyTURNCertificates { turnConfiguration.tls.certificateVerification = .none }
        let loop = eventLoop
        let timeout = configuration.relayGatheringTimeout
        let attempt = RelayAttempt()
        let connect = Task { try await TurnConnection.connect(configuration: turnConfiguration, group: loop) }
        // Gathering does not wait past the timeout for a server that does not answer; a late
        // allocation is released.
        let timeoutTask = loop.scheduleTask(in: timeout) {
            connect.cancel()
            guard !attempt.settled else { return }
            attempt.settled = true
            self.relaysPending -= 1
            self.eventsContinuation.yield(
                .serverFailed(server: url.description, reason: "no allocation within \(timeout.nanoseconds / 1_000_000) ms"))
            self.drive()
        }
        Task {
            let result = await connect.result
            loop.execute {
                timeoutTask.cancel()
                guard !attempt.settled else {
                    if case .success(let turn) = result { Task { await turn.close() } }
                    return
                }
                attempt.settled = true
                self.relaysPending -= 1
                switch result {
                case .success(let turn):
                    if self.closed {
                        Task { await turn.close() }
                    } else {
                        self.adoptRelay(turn, server: url, id: id)
                    }
                case .failure(let error):
                    self.eventsContinuation.yield(.serverFailed(server: url.description, reason: "\(error)"))
                }
                self.drive()
            }
        }
    }

    func adoptRelay(_ turn: TurnConnection, server url: IceServerURL, id: IceBaseID) {
        bases[id] = .relay(turn, relayed: turn.relayedAddress)
        let serverIP: IPAddress? = if case .ip(let ip) = url.host { ip } else { nil }
        let transportPreference: UInt16 = url.transport == .udp ? 2 : (url.scheme.isSecure ? 0 : 1)
        // RFC 8445 §5.1.2.1: relayed candidates by server transport (UDP above TCP above TLS).
        let relay = IceCandidate(
            address: turn.relayedAddress, type: .relay, base: turn.relayedAddress.ip, server: serverIP,
            localPreference: UInt16(transportPreference) << 13 | 0x1FFF, related: turn.mappedAddress)
        addLocal(relay, base: id)
        Task {
            for await event in turn.events {
                switch event {
                case .failed(let error):
                    self.eventLoop.execute {
                        self.eventsContinuation.yield(.serverFailed(server: url.description, reason: "relay lost: \(error)"))
                    }
                default:
                    break
                }
            }
        }
    }

    /// Adds a local candidate to the agent and announces it.
    func addLocal(_ candidate: IceCandidate, base: IceBaseID) {
        if configuration.relayOnly && candidate.type != .relay { return }
        agent.addLocalCandidate(candidate, base: base)
        announce(candidate)
    }

    func announce(_ candidate: IceCandidate) {
        guard announced.insert(candidate).inserted else { return }
        eventsContinuation.yield(.localCandidate(candidate))
    }

    func checkGatheringComplete() {
        guard gatheringStarted, !gatheringCompleteSent, gatherer.isIdle, relaysPending == 0 else { return }
        gatheringCompleteSent = true
        eventsContinuation.yield(.gatheringComplete)
    }
}

/// Whether a TURN allocation attempt has been counted as done (event-loop confined).
final class RelayAttempt: @unchecked Sendable {
    var settled = false
}

/// Why an ``IceTransport`` could not start.
public enum IceTransportError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No interface address could be bound and no TURN server is configured.
    case noUsableAddress

    public var description: String {
        switch self {
        case .noUsableAddress: "no usable local address for host candidates and no TURN server configured"
        }
    }
}
