public import NIOCore
public import STUNCore

/// A sans-IO TURN client (RFC 8656) for one allocation on one server.
///
/// It opens no socket and reads no clock. Feed it what the server sent with
/// ``handleReceive(_:now:)`` and call ``handleTimeout(now:)`` at ``nextTimeout()``; drain
/// ``pollTransmit()`` (bytes for the server) and ``pollEvent()`` after every call.
///
/// ```swift
/// var client = TurnClient(configuration: .init(username: "u", password: "p"))
/// client.allocate(now: now)           // Allocate, 401, Allocate with credentials (§7.2, RFC 8489 §9.2)
/// // … .allocated(relayed:mapped:lifetime:) arrives
/// try client.createPermission(for: peer, now: now)   // §9
/// try client.send(to: peer, bytes: payload, now: now) // Send indication (§11) or ChannelData (§12)
/// _ = try client.bindChannel(to: peer, now: now)      // §12: later sends use ChannelData
/// client.close(now: now)              // Refresh with LIFETIME 0 (§8)
/// ```
///
/// The allocation is refreshed before it expires (§8), permissions before 300 s (§9) and channel
/// bindings before 600 s (§12). Data is accepted only from peers with a permission (§9).
/// Errors never throw out of the input methods: bad input is dropped and counted in
/// ``statistics``; failed requests become events.
public struct TurnClient: Sendable {
    /// Where the allocation stands.
    public enum State: Hashable, Sendable {
        /// ``allocate(now:)`` has not been called.
        case idle
        /// The Allocate transaction (and its authentication retries) is running.
        case allocating
        /// The allocation exists; data can be relayed.
        case allocated
        /// ``close(now:)`` sent the deallocating Refresh and waits for its answer.
        case closing
        /// Closed by the caller.
        case closed
        /// The allocation could not be made or was lost.
        case failed(TurnError)
    }

    public let configuration: Configuration
    public internal(set) var state: State = .idle
    public internal(set) var statistics = TurnStatistics()

    /// The relayed transport address, once allocated (XOR-RELAYED-ADDRESS, RFC 8656 §7.3).
    public var relayedAddress: TransportAddress? { allocation?.relayed }
    /// This client's address as the server saw it (XOR-MAPPED-ADDRESS, RFC 8656 §7.3).
    public var mappedAddress: TransportAddress? { allocation?.mapped }
    /// The lifetime the server granted last, in seconds.
    public var lifetime: UInt32? { allocation?.lifetime }

    // Internal state, shared with the extensions in the other TurnClient files.
    var credentials: TurnCredentials?
    var allocation: TurnAllocation?
    var pending: [TransactionID: TurnPendingRequest] = [:]
    var permissions: [IPAddress: TurnPermission] = [:]
    var channels: [TransportAddress: TurnChannelBinding] = [:]
    var channelPeers: [UInt16: TransportAddress] = [:]
    var nextChannelNumber: UInt16 = ChannelData.validChannels.lowerBound
    var transmits = TurnFIFO<[UInt8]>()
    var events = TurnFIFO<TurnEvent>()

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    // MARK: Commands

    /// Starts the Allocate (RFC 8656 §7.2): REQUESTED-TRANSPORT UDP (and LIFETIME and
    /// REQUESTED-ADDRESS-FAMILY when configured), first without credentials;
    /// the server's 401 supplies REALM and NONCE for the authenticated retry. Does nothing
    /// unless the client is ``State/idle``.
    public mutating func allocate(now: NIODeadline) {
        guard state == .idle else { return }
        state = .allocating
        var attributes: [StunAttribute] = [.requestedTransport(protocolNumber: 17)]
        if let lifetime = configuration.requestedLifetime { attributes.append(.lifetime(seconds: lifetime)) }
        if let family = configuration.requestedAddressFamily { attributes.append(.requestedAddressFamily(family)) }
        if let software = configuration.software { attributes.append(.software(software)) }
        startRequest(.allocate, method: .allocate, attributes: attributes, now: now)
    }

    /// Installs a permission for the peer's IP address (RFC 8656 §9; the port is ignored by the
    /// server). Nothing happens when one is installed or pending; it is refreshed until close.
    /// - Throws: ``TurnError/Code-swift.struct/notAllocated`` before the allocation exists or after
    ///   it is gone, ``TurnError/Code-swift.struct/invalidPeer`` for another address family.
    public mutating func createPermission(for peer: TransportAddress, now: NIODeadline) throws(TurnError) {
        try checkPeer(peer)
        guard permissions[peer.ip] == nil else { return }
        permissions[peer.ip] = TurnPermission(peer: peer)
        requestPermission(for: peer.ip, now: now)
    }

    /// Binds a channel to the peer (RFC 8656 §12), or returns the one already bound or pending.
    /// Until the server confirms, sends go as Send indications; afterwards as ChannelData.
    /// The binding also installs a permission for the peer's IP (§12.2) and is refreshed until close.
    /// - Returns: the channel number, 0x4000–0x4FFF.
    /// - Throws: as ``createPermission(for:now:)``, or ``TurnError/Code-swift.struct/channelsExhausted``.
    @discardableResult
    public mutating func bindChannel(to peer: TransportAddress, now: NIODeadline) throws(TurnError) -> UInt16 {
        try checkPeer(peer)
        if let channel = channels[peer] { return channel.number }
        guard channelPeers.count < ChannelData.validChannels.count else {
            throw TurnError(.channelsExhausted, method: .channelBind, detail: "all 4096 channel numbers are in use")
        }
        while channelPeers[nextChannelNumber] != nil { advanceChannelNumber() }
        let number = nextChannelNumber
        advanceChannelNumber()
        channels[peer] = TurnChannelBinding(number: number)
        channelPeers[number] = peer
        requestChannelBind(peer: peer, now: now)
        return number
    }

    /// Sends application bytes to a peer through the relay: ChannelData when a channel is bound
    /// (RFC 8656 §12.5), otherwise a Send indication (§11.1). Without a permission for the peer's
    /// IP, one is requested and the bytes wait for it (up to ``Configuration/maxQueuedPerPeer``
    /// per peer; more are dropped and counted, as a datagram would be).
    /// - Throws: ``TurnError/Code-swift.struct/notAllocated``, ``TurnError/Code-swift.struct/invalidPeer``,
    ///   or ``TurnError/Code-swift.struct/dataTooLarge`` above 65,000 bytes.
    public mutating func send(to peer: TransportAddress, bytes: [UInt8], now: NIODeadline) throws(TurnError) {
        do {
            try checkPeer(peer)
        } catch {
            statistics.sendsDropped += 1
            throw error
        }
        guard bytes.count <= 65_000 else {
            statistics.sendsDropped += 1
            throw TurnError(.dataTooLarge, detail: "\(bytes.count) bytes do not fit one ChannelData or DATA attribute")
        }
        sendData(to: peer, bytes: bytes, now: now)
    }

    /// Deletes the allocation with a Refresh of LIFETIME 0 (RFC 8656 §8) and stops all refreshes.
    /// ``TurnEvent/closed`` follows the server's answer (or the transaction's timeout); before
    /// the allocation exists it follows at once.
    public mutating func close(now: NIODeadline) {
        switch state {
        case .idle, .allocating:
            cancelAll()
            state = .closed
            events.push(.closed)
        case .allocated:
            cancelAll()
            state = .closing
            startRequest(.deallocate, method: .refresh, attributes: [.lifetime(seconds: 0)], now: now)
        case .closing, .closed, .failed:
            break
        }
    }

    // MARK: Input

    /// Handles one datagram (or one frame from `StunStreamFramer`) from the server: a response,
    /// a Data indication or ChannelData. Anything else is dropped and counted.
    public mutating func handleReceive(_ bytes: [UInt8], now: NIODeadline) {
        guard let first = bytes.first else {
            statistics.malformedDropped += 1
            return
        }
        if ChannelData.looksLikeChannelData(firstByte: first) {
            guard let message = try? ChannelData(decoding: bytes) else {
                statistics.malformedDropped += 1
                return
            }
            receiveChannelData(message, now: now)
            return
        }
        let message: StunMessage
        do {
            message = try StunMessage(decoding: bytes)
        } catch {
            statistics.malformedDropped += 1
            return
        }
        switch message.messageClass {
        case .successResponse, .errorResponse:
            handleResponse(message, now: now)
        case .indication where message.method == .data:
            receiveDataIndication(message, now: now)
        default:
            statistics.unexpectedDropped += 1
        }
    }

    /// Handles one frame cut by `StunStreamFramer` (TCP/TLS).
    public mutating func handleReceive(frame: StunStreamFrame, now: NIODeadline) {
        switch frame {
        case .stun(let bytes): handleReceive(bytes, now: now)
        case .channelData(let message): receiveChannelData(message, now: now)
        }
    }

    /// Over TCP/TLS: the connection ended, and with it the allocation (RFC 8656 §3.1).
    /// - Parameter reason: why, for the failure's detail (e.g. a TLS or framing error).
    public mutating func handleConnectionClosed(now: NIODeadline, reason: String? = nil) {
        switch state {
        case .closing:
            cancelAll()
            state = .closed
            events.push(.closed)
        case .idle, .allocating, .allocated:
            fail(TurnError(.connectionClosed, detail: "the connection to the TURN server closed" + (reason.map { ": \($0)" } ?? "")))
        case .closed, .failed:
            break
        }
    }

    /// Advances timers: retransmissions and transaction timeouts, refreshes of the allocation,
    /// permissions and channels, and the allocation's expiry.
    public mutating func handleTimeout(now: NIODeadline) {
        for id in Array(pending.keys) {
            guard var request = pending[id] else { continue }
            request.transaction.handleTimeout(now: now)
            if let bytes = request.transaction.pollTransmit() {
                if request.transaction.transmissions > 1 { statistics.retransmissions += 1 }
                emit(bytes)
            }
            if request.transaction.state == .timedOut {
                pending[id] = nil
                let detail = request.rejectedResponses > 0
                    ? "no authentic response; \(request.rejectedResponses) failed the integrity check"
                    : "no response from the server"
                requestFailed(request, TurnError(.timedOut, method: request.method, detail: detail), now: now)
            } else {
                pending[id] = request
            }
        }
        runRefreshes(now: now)
    }

    // MARK: Output

    /// The next message for the server, or nil. Over TCP/TLS write them in order.
    public mutating func pollTransmit() -> [UInt8]? { transmits.pop() }

    /// The next event, or nil.
    public mutating func pollEvent() -> TurnEvent? { events.pop() }

    /// When ``handleTimeout(now:)`` must next be called, or nil when nothing is scheduled.
    public func nextTimeout() -> NIODeadline? {
        var earliest: NIODeadline?
        func consider(_ deadline: NIODeadline?) {
            guard let deadline else { return }
            if earliest == nil || deadline < earliest! { earliest = deadline }
        }
        for request in pending.values { consider(request.transaction.nextTimeout()) }
        if state == .allocated, let allocation {
            consider(allocation.expiry)
            if !allocation.refreshing { consider(allocation.refreshAt) }
            for permission in permissions.values where !permission.requesting { consider(permission.refreshAt) }
            for channel in channels.values where !channel.requesting { consider(channel.refreshAt) }
        }
        return earliest
    }

    /// True when a permission for the IP is installed and not expired (RFC 8656 §9).
    public func hasPermission(for ip: IPAddress, now: NIODeadline) -> Bool {
        guard let expiry = permissions[ip]?.expiry else { return false }
        return now < expiry
    }

    /// The confirmed channel to the peer, if any (RFC 8656 §12).
    public func boundChannel(to peer: TransportAddress, now: NIODeadline) -> UInt16? {
        guard let channel = channels[peer], let expiry = channel.expiry, now < expiry else { return nil }
        return channel.number
    }

    // MARK: Helpers

    func checkPeer(_ peer: TransportAddress) throws(TurnError) {
        guard state == .allocated, let relayed = allocation?.relayed else {
            throw TurnError(.notAllocated, detail: "state is \(state)")
        }
        guard peer.ip.family == relayed.ip.family else {
            throw TurnError(.invalidPeer, detail: "\(peer) is not reachable from the \(relayed.ip.family) relay \(relayed)")
        }
    }

    mutating func advanceChannelNumber() {
        nextChannelNumber = nextChannelNumber == ChannelData.validChannels.upperBound
            ? ChannelData.validChannels.lowerBound : nextChannelNumber + 1
    }

    mutating func emit(_ bytes: [UInt8]) {
        statistics.messagesSent += 1
        transmits.push(bytes)
    }

    mutating func cancelAll() {
        for id in Array(pending.keys) { pending[id]?.transaction.cancel() }
        pending.removeAll()
        for permission in permissions.values { statistics.sendsDropped += permission.queue.count }
        permissions.removeAll()
        channels.removeAll()
        channelPeers.removeAll()
        allocation?.refreshing = false
    }

    /// Ends the client: the allocation failed or was lost.
    mutating func fail(_ error: TurnError) {
        switch state {
        case .closed, .failed: return
        default: break
        }
        cancelAll()
        state = .failed(error)
        events.push(.failed(error))
    }
}

/// A first-in first-out queue that pops in O(1) (amortised) without a dependency on swift-collections.
struct TurnFIFO<Element: Sendable>: Sendable {
    private var items: [Element] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }
    var count: Int { items.count - head }

    mutating func push(_ item: Element) { items.append(item) }

    mutating func pop() -> Element? {
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }
}
