internal import CUsrsctp
public import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One SCTP association over DTLS (RFC 8261) on usrsctp in AF_CONN mode.
///
/// Packets in and out are plain bytes: the DTLS transport feeds every application-data record
/// to ``receive(_:)`` and sends every packet from ``pollTransmit()`` as one record
/// (`DTLSEndpoint.writeApplicationData`). Nothing here opens a socket, reads a clock or starts
/// a task; time comes in through ``handleTimeout(now:)``.
///
/// Driving it: after each call (``start(now:)``, ``receive(_:)``, ``handleTimeout(now:)``,
/// ``send(_:streamID:ppid:unordered:reliability:)``, ``resetOutgoingStreams(_:)``,
/// ``close()``), drain ``pollTransmit()`` and ``pollEvent()`` until they return nil, and call
/// ``handleTimeout(now:)`` at ``nextTimeout()``. usrsctp's timers are process-wide, so a timer
/// may fire for this association while another association's owner is ticking; then the
/// wake-up set with ``setWakeup(_:)`` runs (on that other thread): it must only schedule a
/// drain on the owner's event loop, never call into the association synchronously.
///
/// Thread safety: every method may be called from any thread; one owner (the
/// `DataChannelController` on its event loop) is the intended use.
public final class SCTPAssociation: Sendable {
    /// The DTLS role of this side. RFC 8832 §6: the DTLS client uses even stream ids for the
    /// channels it opens, the DTLS server odd ones.
    public enum Role: Sendable, Hashable {
        case client
        case server
    }

    private enum Phase {
        case idle, connecting, established, closed
    }

    private struct State {
        var socket: OpaquePointer?
        var phase: Phase = .idle
        var outboundStreams: UInt16 = 0
        var inboundStreams: UInt16 = 0
        var transmits: [ByteBuffer] = []
        var transmitIndex = 0
        var events: [SCTPAssociationEvent] = []
        var eventIndex = 0
        /// Messages usrsctp delivered in pieces (partial delivery), by stream, SSN and ordering:
        /// other messages of the same stream may come between the pieces.
        var partial: [PartialKey: Partial] = [:]
        /// Whole messages waiting behind an earlier ordered message of their stream that is
        /// still arriving in pieces, by stream.
        var heldBack: [UInt16: [SCTPAssociationEvent]] = [:]
        var counters = SCTPAssociationCounters()
        var lastTick: NIODeadline?
    }

    private struct PartialKey: Hashable {
        var streamID: UInt16
        var ssn: UInt16
        var unordered: Bool
    }

    private struct Partial {
        var bytes: ByteBuffer
        var size: Int
        var oversized: Bool
    }

    public let role: Role
    public let configuration: SCTPAssociationConfiguration
    private let id: UInt
    private let inbox: SCTPAssociationInbox
    private let state: Mutex<State>

    /// Creates the socket, sets its options and binds our port; no packet is sent yet.
    /// - Throws: ``SCTPError`` `.socketCreation`, `.socketOption` (naming the option) or `.bind`.
    public init(role: Role, configuration: SCTPAssociationConfiguration = .init()) throws(SCTPError) {
        self.role = role
        self.configuration = configuration
        let inbox = SCTPAssociationInbox()
        self.inbox = inbox
        let id = SCTPStack.register(inbox)
        self.id = id
        let address = SCTPStack.address(of: id)
        usrsctp_register_address(address)
        let threshold = UInt32(clamping: configuration.sendBufferSize / 2)
        guard let socket = usrsctp_socket(
            AF_CONN, Int32(SOCK_STREAM.rawValue), Int32(IPPROTO_SCTP),
            sctpReceive, sctpSendSpace, threshold, address)
        else {
            usrsctp_deregister_address(address)
            SCTPStack.unregister(id)
            throw SCTPError(.socketCreation, field: "usrsctp_socket(\(errno))")
        }
        func milliseconds(_ amount: TimeAmount) -> UInt32 {
            UInt32(clamping: max(1, amount.nanoseconds / 1_000_000))
        }
        let step = pa_sctp_configure(
            socket, configuration.outboundStreams, configuration.inboundStreams,
            milliseconds(configuration.rtoInitial), milliseconds(configuration.rtoMin),
            milliseconds(configuration.rtoMax), configuration.pathMTU,
            milliseconds(configuration.delayedAck),
            Int32(clamping: configuration.sendBufferSize), Int32(clamping: Self.receiveBuffer(for: configuration)),
            configuration.maxRetransmissions)
        if step != 0 {
            let names = [
                "non-blocking", "SO_LINGER", "SCTP_NODELAY", "SCTP_ENABLE_STREAM_RESET",
                "SCTP_RECVRCVINFO", "SCTP_INITMSG", "SCTP_RTOINFO", "SCTP_PEER_ADDR_PARAMS",
                "SCTP_DELAYED_SACK", "SO_SNDBUF", "SO_RCVBUF", "SCTP_PARTIAL_DELIVERY_POINT", "SCTP_ASSOCINFO",
            ]
            let name = Int(step) <= names.count ? names[Int(step) - 1] : "SCTP_EVENT[\(Int(step) - 14)]"
            let code = errno
            usrsctp_close(socket)
            usrsctp_deregister_address(address)
            SCTPStack.unregister(id)
            throw SCTPError(.socketOption, field: "\(name) (errno \(code))")
        }
        if pa_sctp_bind(socket, address, configuration.localPort) != 0 {
            let code = errno
            usrsctp_close(socket)
            usrsctp_deregister_address(address)
            SCTPStack.unregister(id)
            throw SCTPError(.bind, field: "port \(configuration.localPort) (errno \(code))")
        }
        self.state = Mutex(State(socket: socket))
    }

    deinit {
        close()
    }

    /// The receive buffer: at least twice our `max-message-size` plus room, because usrsctp
    /// delivers messages whole only below half of it (SCTP_PARTIAL_DELIVERY_POINT).
    static func receiveBuffer(for configuration: SCTPAssociationConfiguration) -> Int {
        guard configuration.localMaxMessageSize > 0 else { return configuration.receiveBufferSize }
        return max(configuration.receiveBufferSize, 2 * configuration.localMaxMessageSize + 65_536)
    }

    /// Sets the wake-up for work that arrives outside the owner's own calls (see the type's
    /// documentation). It must only schedule a drain; it runs inside usrsctp on any thread.
    public func setWakeup(_ wakeup: (@Sendable () -> Void)?) {
        inbox.setWakeup(wakeup)
    }

    /// Sends INIT (RFC 4960 §5.1). Both WebRTC peers do this; when both INITs cross, usrsctp
    /// resolves the collision (§5.2.1) and one association results. A peer that only waits for
    /// INIT (aiortc as DTLS server) simply answers ours.
    /// - Parameter now: the current time; the first timer deadline is counted from it.
    public func start(now: NIODeadline) throws(SCTPError) {
        try inbox.ownerCall { () throws(SCTPError) in
            try state.withLock { (state: inout State) throws(SCTPError) in
                guard let socket = state.socket, state.phase == .idle else {
                    throw SCTPError(.closed, field: "start")
                }
                state.lastTick = now
                let result = pa_sctp_connect(socket, SCTPStack.address(of: id), configuration.remotePort)
                let code = errno
                guard result == 0 || code == EINPROGRESS else {
                    throw SCTPError(.connect, field: "port \(configuration.remotePort) (errno \(code))")
                }
                state.phase = .connecting
            }
        }
        SCTPStack.advanceClock(to: now)
    }

    /// Feeds one inbound SCTP packet (one DTLS application-data record). Malformed packets are
    /// dropped, counted and reported as ``SCTPAssociationEvent/packetDropped(_:)``.
    public func receive(_ packet: ByteBuffer) {
        packet.withUnsafeReadableBytes { receive(rawPacket: $0) }
    }

    /// Feeds one inbound SCTP packet given as bytes.
    public func receive(_ packet: [UInt8]) {
        packet.withUnsafeBytes { receive(rawPacket: $0) }
    }

    private func receive(rawPacket bytes: UnsafeRawBufferPointer) {
        let check = state.withLock { (state: inout State) -> SCTPError? in
            guard state.socket != nil else { return nil }
            do throws(SCTPError) {
                _ = try SCTPPacketCheck.validate(
                    bytes.bindMemory(to: UInt8.self), localPort: configuration.localPort,
                    remotePort: configuration.remotePort)
                state.counters.packetsReceived += 1
                return nil
            } catch {
                state.counters.malformedPacketsDropped += 1
                state.events.append(.packetDropped(error))
                return error
            }
        }
        guard check == nil, let base = bytes.baseAddress else { return }
        let open = state.withLock { $0.socket != nil && $0.phase != .closed }
        guard open else { return }
        inbox.ownerCall {
            usrsctp_conninput(SCTPStack.address(of: id), base, bytes.count, 0)
        }
    }

    /// Advances usrsctp's (process-wide) timers to `now`; retransmissions and delayed SACKs
    /// that fall due are queued for ``pollTransmit()``.
    public func handleTimeout(now: NIODeadline) {
        state.withLock { $0.lastTick = now }
        inbox.ownerCall { SCTPStack.advanceClock(to: now) }
    }

    /// When to call ``handleTimeout(now:)`` next: one timer interval after the last call, while
    /// the association is not closed.
    public func nextTimeout() -> NIODeadline? {
        state.withLock { state in
            guard state.phase != .closed, state.phase != .idle, let last = state.lastTick else { return nil }
            return last + configuration.timerInterval
        }
    }

    /// The next SCTP packet to send inside DTLS, or nil.
    public func pollTransmit() -> ByteBuffer? {
        state.withLock { state in
            if state.transmitIndex == state.transmits.count {
                state.transmits = inbox.takeTransmits()
                state.transmitIndex = 0
                guard !state.transmits.isEmpty else { return nil }
            }
            defer { state.transmitIndex += 1 }
            state.counters.packetsSent += 1
            return state.transmits[state.transmitIndex]
        }
    }

    /// The next event, or nil.
    public func pollEvent() -> SCTPAssociationEvent? {
        state.withLock { state in
            if state.eventIndex == state.events.count {
                state.events.removeAll(keepingCapacity: true)
                state.eventIndex = 0
                for delivery in inbox.takeDeliveries() {
                    translate(delivery, into: &state)
                }
                guard !state.events.isEmpty else { return nil }
            }
            defer { state.eventIndex += 1 }
            return state.events[state.eventIndex]
        }
    }

    /// Whether the association is up.
    public var isEstablished: Bool { state.withLock { $0.phase == .established } }

    /// Whether the association is closed or failed.
    public var isClosed: Bool { state.withLock { $0.phase == .closed } }

    /// Negotiated stream counts (0 before the association is up).
    public var streamCounts: (outbound: UInt16, inbound: UInt16) {
        state.withLock { ($0.outboundStreams, $0.inboundStreams) }
    }

    public var counters: SCTPAssociationCounters { state.withLock { $0.counters } }

    /// Runs `body` with the socket under the state lock (no callbacks may re-enter), or
    /// returns nil when the association is closed.
    func withSocket<T: Sendable>(_ body: (OpaquePointer) -> T?) -> T? {
        state.withLock { state in
            guard let socket = state.socket, state.phase != .closed else { return nil }
            return body(socket)
        }
    }

    /// Sends one whole message.
    ///
    /// - Parameters:
    ///   - payload: the message; not empty (RFC 8831 §6.6 sends empty messages as one byte
    ///     with PPID 56 or 57, which the data-channel layer does).
    ///   - streamID: the stream (channel id).
    ///   - ppid: payload protocol identifier, host byte order.
    ///   - unordered: unordered delivery (RFC 4960 §6.6).
    ///   - reliability: partial reliability (RFC 3758).
    /// - Throws: ``SCTPError`` `.wouldBlock` when the send buffer is full (retry after
    ///   ``SCTPAssociationEvent/writable`` or the next received packet), `.messageTooLarge`
    ///   above the peer's `max-message-size`, `.emptyMessage`, `.closed`, `.notStarted`,
    ///   `.invalidStream`, `.sendFailed`.
    public func send(
        _ payload: ByteBuffer, streamID: UInt16, ppid: UInt32, unordered: Bool = false,
        reliability: SCTPReliability = .reliable
    ) throws(SCTPError) {
        guard payload.readableBytes > 0 else { throw SCTPError(.emptyMessage, field: "payload") }
        let limit = configuration.remoteMaxMessageSize
        guard limit == 0 || payload.readableBytes <= limit else {
            throw SCTPError(.messageTooLarge, field: "payload (\(payload.readableBytes) > \(limit))")
        }
        let (policy, value): (UInt16, UInt32) =
            switch reliability {
            case .reliable: (UInt16(SCTP_PR_SCTP_NONE), 0)
            case .maxRetransmits(let count): (UInt16(SCTP_PR_SCTP_RTX), count)
            case .maxLifetime(let milliseconds): (UInt16(SCTP_PR_SCTP_TTL), milliseconds)
            }
        try state.withLock { (state: inout State) throws(SCTPError) in
            guard let socket = state.socket, state.phase != .closed else {
                throw SCTPError(.closed, field: "send")
            }
            guard state.phase != .idle else { throw SCTPError(.notStarted, field: "send") }
            if state.phase == .established, streamID >= state.outboundStreams {
                throw SCTPError(.invalidStream, field: "streamID \(streamID)")
            }
            let (result, code) = payload.withUnsafeReadableBytes { bytes in
                let sent = pa_sctp_send(
                    socket, bytes.baseAddress, bytes.count, streamID, ppid, unordered ? 1 : 0, policy, value)
                return (sent, errno)
            }
            if result >= 0 {
                state.counters.messagesSent += 1
                return
            }
            switch code {
            case EWOULDBLOCK, EAGAIN:
                state.counters.sendsBlocked += 1
                throw SCTPError(.wouldBlock, field: "send buffer")
            case EMSGSIZE:
                throw SCTPError(.messageTooLarge, field: "send buffer (\(payload.readableBytes) bytes)")
            case EPIPE, ENOTCONN, ECONNRESET:
                throw SCTPError(.closed, field: "send (errno \(code))")
            case EINVAL where state.phase == .established && streamID >= state.outboundStreams:
                throw SCTPError(.invalidStream, field: "streamID \(streamID)")
            default:
                throw SCTPError(.sendFailed, field: "errno \(code)")
            }
        }
    }

    /// Resets our outgoing side of `streams` (RFC 6525 §5.1.2): how a data channel closes
    /// (RFC 8831 §6.7). Completion comes as ``SCTPAssociationEvent/outgoingStreamsReset(_:)``.
    /// - Throws: ``SCTPError`` `.resetFailed` (for example while another reset is in flight:
    ///   retry later) or `.closed`.
    public func resetOutgoingStreams(_ streams: [UInt16]) throws(SCTPError) {
        guard !streams.isEmpty else { return }
        try state.withLock { (state: inout State) throws(SCTPError) in
            guard let socket = state.socket, state.phase == .established else {
                throw SCTPError(.closed, field: "reset")
            }
            let (result, code) = streams.withUnsafeBufferPointer { list in
                (pa_sctp_reset_outgoing(socket, list.baseAddress, UInt16(clamping: list.count)), errno)
            }
            guard result == 0 else { throw SCTPError(.resetFailed, field: "errno \(code)") }
        }
    }

    /// Aborts the association (ABORT, RFC 4960 §9.1) and frees the socket. The ABORT packet is
    /// still available from ``pollTransmit()``; a ``SCTPAssociationEvent/closed(_:)`` with
    /// `.local` follows unless the association had already closed.
    public func close() {
        let socket: OpaquePointer? = state.withLock { state in
            defer { state.socket = nil }
            if state.phase != .closed, state.socket != nil {
                state.phase = .closed
                state.events.append(.closed(.local))
            }
            return state.socket
        }
        guard let socket else { return }
        inbox.ownerCall { usrsctp_close(socket) }
        usrsctp_deregister_address(SCTPStack.address(of: id))
        SCTPStack.unregister(id)
    }

    // MARK: - Callback deliveries to events

    private func translate(_ delivery: SCTPDelivery, into state: inout State) {
        switch delivery {
        case .sendSpace:
            state.events.append(.writable)
        case .unparsableNotification:
            state.counters.unparsableNotifications += 1
        case .data(let piece):
            receivePiece(piece, into: &state)
        case .notification(let note):
            handleNotification(note, into: &state)
        }
    }

    private func receivePiece(_ piece: SCTPInboundPiece, into state: inout State) {
        guard state.phase != .closed else { return }
        let limit = configuration.localMaxMessageSize
        let key = PartialKey(streamID: piece.streamID, ssn: piece.ssn, unordered: piece.unordered)
        let partial = state.partial.removeValue(forKey: key)
        if partial == nil, piece.endOfRecord {
            // The common case: the whole message in one piece.
            guard limit == 0 || piece.bytes.readableBytes <= limit else {
                emit(.oversizedMessage(streamID: piece.streamID, size: piece.bytes.readableBytes), key: key, into: &state)
                return
            }
            emit(.message(SCTPMessage(
                streamID: piece.streamID, ppid: piece.ppid, unordered: piece.unordered, payload: piece.bytes)),
                key: key, into: &state)
            return
        }
        var current = partial ?? Partial(bytes: ByteBuffer(), size: 0, oversized: false)
        current.size += piece.bytes.readableBytes
        if limit != 0, current.size > limit, !current.oversized {
            // Reported at once, so that nothing waits behind a message that will be dropped
            // (and a peer cannot make later messages pile up behind one it never finishes).
            current.oversized = true
            current.bytes = ByteBuffer()
            count(.oversizedMessage(streamID: piece.streamID, size: current.size), into: &state)
            state.events.append(.oversizedMessage(streamID: piece.streamID, size: current.size))
        }
        if !current.oversized {
            var bytes = piece.bytes
            current.bytes.writeBuffer(&bytes)
        }
        guard piece.endOfRecord else {
            state.partial[key] = current
            return
        }
        if !current.oversized {
            emit(.message(SCTPMessage(
                streamID: piece.streamID, ppid: piece.ppid, unordered: piece.unordered, payload: current.bytes)),
                key: key, into: &state)
        }
        releaseHeldBack(streamID: piece.streamID, into: &state)
    }

    /// Whether an earlier ordered message of `streamID` (not an oversized one, which is
    /// dropped) is still arriving in pieces.
    private static func orderedPartialPending(streamID: UInt16, except key: PartialKey, in state: State) -> Bool {
        !key.unordered
            && state.partial.contains { $0.key.streamID == streamID && !$0.key.unordered && $0.key != key && !$0.value.oversized }
    }

    /// Reports a whole message (or an oversized one), unless an earlier ordered message of the
    /// same stream is still arriving in pieces: usrsctp hands later complete messages over in
    /// between, so they wait here to keep the stream's order.
    private func emit(_ event: SCTPAssociationEvent, key: PartialKey, into state: inout State) {
        if Self.orderedPartialPending(streamID: key.streamID, except: key, in: state) {
            state.heldBack[key.streamID, default: []].append(event)
            return
        }
        count(event, into: &state)
        state.events.append(event)
    }

    private func count(_ event: SCTPAssociationEvent, into state: inout State) {
        switch event {
        case .message: state.counters.messagesReceived += 1
        case .oversizedMessage: state.counters.oversizedMessagesDropped += 1
        default: break
        }
    }

    /// Reports the messages held back behind a stream's partial message once none is pending.
    private func releaseHeldBack(streamID: UInt16, into state: inout State) {
        guard state.heldBack[streamID] != nil,
            !state.partial.contains(where: { $0.key.streamID == streamID && !$0.key.unordered && !$0.value.oversized })
        else { return }
        for event in state.heldBack.removeValue(forKey: streamID) ?? [] {
            count(event, into: &state)
            state.events.append(event)
        }
    }

    /// Forgets partial messages of `streams` (reset, or abandoned by the sender) and reports
    /// what waited behind them.
    private func dropPartials(of streams: Set<UInt16>, into state: inout State) {
        state.partial = state.partial.filter { !streams.contains($0.key.streamID) }
        for stream in streams { releaseHeldBack(streamID: stream, into: &state) }
    }

    private func handleNotification(_ note: SCTPNotification, into state: inout State) {
        switch Int32(note.type) {
        case Int32(SCTP_ASSOC_CHANGE):
            switch Int32(note.flags) {
            case Int32(SCTP_COMM_UP), Int32(SCTP_RESTART):
                guard state.phase != .closed else { return }
                state.phase = .established
                state.outboundStreams = note.outboundStreams
                state.inboundStreams = note.inboundStreams
                state.events.append(.established(
                    outboundStreams: note.outboundStreams, inboundStreams: note.inboundStreams))
            case Int32(SCTP_COMM_LOST), Int32(SCTP_SHUTDOWN_COMP):
                guard state.phase != .closed else { return }
                state.phase = .closed
                state.partial.removeAll()
                state.heldBack.removeAll()
                state.events.append(.closed(.lost(error: note.error)))
            case Int32(SCTP_CANT_STR_ASSOC):
                guard state.phase != .closed else { return }
                state.phase = .closed
                state.events.append(.closed(.cannotStart))
            default:
                break
            }
        case Int32(SCTP_STREAM_RESET_EVENT):
            let flags = Int32(note.flags)
            if flags & Int32(SCTP_STREAM_RESET_DENIED | SCTP_STREAM_RESET_FAILED) != 0 {
                state.events.append(.streamResetFailed(note.streams))
            } else if flags & Int32(SCTP_STREAM_RESET_INCOMING_SSN) != 0 {
                dropPartials(of: Set(note.streams), into: &state)
                state.events.append(.incomingStreamsReset(note.streams))
            } else if flags & Int32(SCTP_STREAM_RESET_OUTGOING_SSN) != 0 {
                state.events.append(.outgoingStreamsReset(note.streams))
            }
        case Int32(SCTP_STREAM_CHANGE_EVENT):
            state.outboundStreams = note.outboundStreams
            state.inboundStreams = note.inboundStreams
        case Int32(SCTP_SEND_FAILED_EVENT):
            state.counters.messagesAbandoned += 1
        case Int32(SCTP_REMOTE_ERROR):
            state.counters.remoteErrors += 1
        case Int32(SCTP_PARTIAL_DELIVERY_EVENT):
            // The peer abandoned a message we were receiving in pieces (PR-SCTP).
            dropPartials(of: [note.stream], into: &state)
        default:
            break
        }
    }
}
