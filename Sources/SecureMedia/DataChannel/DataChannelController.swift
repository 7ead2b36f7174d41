public import NIOCore
import Synchronization

/// Owns one ``SCTPAssociation`` and the data channels on it: maps streams to channels, speaks
/// DCEP (RFC 8832), keeps each channel's send queue and closes channels by stream reset
/// (RFC 8831 §6.7). The PeerConnection owns one and drives it from its event loop.
///
/// Driving it (sans-IO, like the association): call ``start(now:)`` when DTLS is connected,
/// ``receive(_:)`` for every DTLS application-data record, ``handleTimeout(now:)`` at
/// ``nextTimeout()``; after each, and whenever the wake-up set with ``setWakeup(_:)`` runs,
/// call ``handlePendingWork()`` and drain ``pollTransmit()`` (into
/// `DTLSEndpoint.writeApplicationData`) and ``pollEvent()`` until both return nil.
/// `DataChannel.send` may run on any thread: the packets it produces wake the owner.
public final class DataChannelController: Sendable {
    public let association: SCTPAssociation
    public var role: SCTPAssociation.Role { association.role }
    private let state: Mutex<State>
    /// Boxed for the reason given at ``DataChannelMessageHandler``.
    private let peerChannelHandler = Mutex<PeerChannelMessageHandler?>(nil)

    private final class PeerChannelMessageHandler: Sendable {
        let call: @Sendable (DataChannel, DataChannelMessage) -> Void
        init(_ call: @escaping @Sendable (DataChannel, DataChannelMessage) -> Void) { self.call = call }
    }

    private struct Outgoing {
        enum Kind {
            case message(ppid: UInt32, payload: ByteBuffer, userBytes: Int)
            case dcep(ByteBuffer)
            case reset
        }
        var channel: DataChannel
        var kind: Kind
    }

    private struct State {
        var channels: [UInt16: DataChannel] = [:]
        var queue: [Outgoing] = []
        var queueHead = 0
        var pendingResets: [UInt16] = []
        var resetFailures = 0
        var established = false
        var closed = false
        var events: [DataChannelControllerEvent] = []
        var eventIndex = 0
        var counters = DataChannelCounters()
        /// Messages for channels with a message handler, called once the lock is released.
        var handlerDeliveries: [(DataChannelMessageHandler, DataChannelMessage)] = []
    }

    /// Resets that fail this many times in a row give up and close their channels.
    private static let maximumResetFailures = 100

    /// - Parameters:
    ///   - role: our DTLS role, which decides the stream-id parity (RFC 8832 §6).
    ///   - configuration: ports and `max-message-size` from SDP, and the transport settings.
    public init(role: SCTPAssociation.Role, configuration: SCTPAssociationConfiguration = .init()) throws(SCTPError) {
        self.association = try SCTPAssociation(role: role, configuration: configuration)
        self.state = Mutex(State())
    }

    /// A message handler (see ``DataChannel/setMessageHandler(_:)``) for every channel the peer
    /// opens in-band, installed when its DATA_CHANNEL_OPEN is handled, so that no message that
    /// follows the open in the same packet can miss it. Set it before the association starts.
    public func setPeerChannelMessageHandler(_ handler: (@Sendable (DataChannel, DataChannelMessage) -> Void)?) {
        let box = handler.map(PeerChannelMessageHandler.init)
        peerChannelHandler.withLock { $0 = box }
    }

    /// See ``SCTPAssociation/setWakeup(_:)``: it must only schedule ``handlePendingWork()``
    /// and a drain on the owner's event loop.
    public func setWakeup(_ wakeup: (@Sendable () -> Void)?) {
        association.setWakeup(wakeup)
    }

    /// Starts the association (both DTLS roles send INIT; see ``SCTPAssociation/start(now:)``).
    public func start(now: NIODeadline) throws(SCTPError) {
        try association.start(now: now)
        handlePendingWork()
    }

    /// Feeds one SCTP packet from DTLS.
    public func receive(_ packet: ByteBuffer) {
        association.receive(packet)
        handlePendingWork()
    }

    /// Ticks usrsctp's timers.
    public func handleTimeout(now: NIODeadline) {
        association.handleTimeout(now: now)
        handlePendingWork()
    }

    public func nextTimeout() -> NIODeadline? { association.nextTimeout() }

    /// The next SCTP packet for DTLS.
    public func pollTransmit() -> ByteBuffer? { association.pollTransmit() }

    /// The next event.
    public func pollEvent() -> DataChannelControllerEvent? {
        state.withLock { state in
            if state.eventIndex == state.events.count {
                state.events.removeAll(keepingCapacity: true)
                state.eventIndex = 0
                process(&state)
                guard !state.events.isEmpty else { return nil }
            }
            defer { state.eventIndex += 1 }
            return state.events[state.eventIndex]
        }
    }

    /// Handles what the association reported (messages, DCEP, resets) and moves queued
    /// messages into SCTP as far as its send buffer allows.
    public func handlePendingWork() {
        let deliveries = state.withLock { state in
            process(&state)
            let deliveries = state.handlerDeliveries
            state.handlerDeliveries.removeAll()
            return deliveries
        }
        for (handler, message) in deliveries { handler.call(message) }
    }

    public var counters: DataChannelCounters { state.withLock { $0.counters } }

    /// The channel on stream `id`, if any.
    public func channel(id: UInt16) -> DataChannel? { state.withLock { $0.channels[id] } }

    /// Channels that are not closed, by id.
    public var channels: [DataChannel] {
        state.withLock { $0.channels.values.sorted { $0.id < $1.id } }
    }

    /// Creates a channel (W3C `createDataChannel`).
    ///
    /// - Parameters:
    ///   - label: the channel's label.
    ///   - protocol: the sub-protocol.
    ///   - reliability: ordering and partial reliability.
    ///   - priority: RFC 8832 §5.1 priority (256 is "normal").
    ///   - negotiatedID: for a pre-negotiated channel (both sides create it with this id and no
    ///     DCEP is sent, e.g. Pod Arcade's `input` on id 0); nil for an in-band channel that
    ///     sends DATA_CHANNEL_OPEN on the next free id of our parity (RFC 8832 §6).
    /// - Returns: the channel, `connecting` until the association is up.
    /// - Throws: ``DataChannelError`` `.idInUse`, `.idOutOfRange`, `.noFreeID`,
    ///   `.associationClosed`, `.invalidParameters`.
    public func createDataChannel(
        label: String, protocol: String = "", reliability: DataChannelReliability = .reliable,
        priority: UInt16 = 256, negotiatedID: UInt16? = nil
    ) throws(DataChannelError) -> DataChannel {
        guard label.utf8.count <= Int(UInt16.max), `protocol`.utf8.count <= Int(UInt16.max) else {
            throw DataChannelError(.invalidParameters, field: "label or protocol longer than 65535 bytes")
        }
        return try state.withLock { (state: inout State) throws(DataChannelError) -> DataChannel in
            guard !state.closed else { throw DataChannelError(.associationClosed, field: "createDataChannel") }
            let limit = streamLimit(established: state.established)
            let id: UInt16
            if let negotiatedID {
                guard Int(negotiatedID) < limit else {
                    throw DataChannelError(.idOutOfRange, field: "id \(negotiatedID) (streams: \(limit))")
                }
                guard state.channels[negotiatedID] == nil else {
                    throw DataChannelError(.idInUse, field: "id \(negotiatedID)")
                }
                id = negotiatedID
            } else {
                var candidate = role == .client ? 0 : 1
                while candidate < limit, state.channels[UInt16(candidate)] != nil { candidate += 2 }
                guard candidate < limit else { throw DataChannelError(.noFreeID, field: "streams: \(limit)") }
                id = UInt16(candidate)
            }
            let channel = DataChannel(
                id: id, label: label, protocol: `protocol`, reliability: reliability, priority: priority,
                negotiated: negotiatedID != nil, controller: self)
            state.channels[id] = channel
            state.counters.channelsOpened += 1
            if state.established { announce(channel, in: &state) }
            flush(&state)
            return channel
        }
    }

    /// Aborts the association and closes every channel.
    public func close() {
        association.close()
        handlePendingWork()
    }

    // MARK: - Channel requests

    func send(_ message: DataChannelMessage, on channel: DataChannel) throws(DataChannelError) {
        let limit = association.configuration.remoteMaxMessageSize
        guard limit == 0 || message.byteCount <= limit else {
            throw DataChannelError(.messageTooLarge, field: "message (\(message.byteCount) > \(limit) bytes)")
        }
        let (ppid, payload) = message.wireForm
        try state.withLock { (state: inout State) throws(DataChannelError) in
            guard channel.readyState == .open, state.channels[channel.id] === channel else {
                throw DataChannelError(.notOpen, field: "readyState \(channel.readyState)")
            }
            let item = Outgoing(channel: channel, kind: .message(ppid: ppid, payload: payload, userBytes: message.byteCount))
            if state.queueHead == state.queue.count {
                switch transmit(item, in: &state) {
                case .sent: return
                case .blocked: break
                case .failed(let error):
                    let code: DataChannelError.Code =
                        switch error.code {
                        case .closed: .associationClosed
                        case .messageTooLarge: .messageTooLarge
                        default: .sendFailed
                        }
                    throw DataChannelError(code, field: "\(error)")
                }
            }
            state.queue.append(item)
            channel.adjustBuffered(by: message.byteCount)
        }
    }

    func close(_ channel: DataChannel) {
        state.withLock { state in
            beginClose(channel, reason: .local, in: &state)
            flush(&state)
            requestResets(&state)
        }
    }

    // MARK: - Processing

    private func streamLimit(established: Bool) -> Int {
        if established {
            let counts = association.streamCounts
            return Int(min(counts.outbound, counts.inbound))
        }
        let configuration = association.configuration
        return Int(min(configuration.outboundStreams, configuration.inboundStreams))
    }

    private func process(_ state: inout State) {
        while let event = association.pollEvent() {
            handle(event, in: &state)
        }
        flush(&state)
        requestResets(&state)
    }

    private func handle(_ event: SCTPAssociationEvent, in state: inout State) {
        switch event {
        case .established:
            guard !state.established, !state.closed else { return }
            state.established = true
            state.events.append(.associationEstablished)
            for channel in state.channels.values.sorted(by: { $0.id < $1.id }) {
                announce(channel, in: &state)
            }
        case .message(let message):
            handleMessage(message, in: &state)
        case .oversizedMessage(let streamID, let size):
            state.counters.oversizedMessages += 1
            if let channel = state.channels[streamID] {
                beginClose(channel, reason: .oversizedMessage(size: size), in: &state)
            }
        case .incomingStreamsReset(let streams):
            for id in streams {
                guard let channel = state.channels[id] else { continue }
                channel.withState { $0.incomingResetDone = true }
                beginClose(channel, reason: .remote, in: &state)
                finishCloseIfDone(channel, in: &state)
            }
        case .outgoingStreamsReset(let streams):
            for id in streams {
                guard let channel = state.channels[id] else { continue }
                channel.withState { $0.outgoingResetDone = true }
                finishCloseIfDone(channel, in: &state)
            }
        case .streamResetFailed(let streams):
            state.resetFailures += 1
            state.pendingResets.append(contentsOf: streams.filter { state.channels[$0] != nil })
        case .writable:
            break
        case .packetDropped(let error):
            state.events.append(.dropped(.malformedPacket(error)))
        case .closed(let reason):
            guard !state.closed else { return }
            state.closed = true
            for channel in state.channels.values.sorted(by: { $0.id < $1.id }) {
                if channel.markClosed(.associationClosed) {
                    state.counters.channelsClosed += 1
                    state.events.append(.channelClosed(id: channel.id, reason: .associationClosed))
                }
            }
            state.channels.removeAll()
            state.queue.removeAll()
            state.queueHead = 0
            state.pendingResets.removeAll()
            state.events.append(.associationClosed(reason))
        }
    }

    /// Opens a channel once the association is up: negotiated ones at once, in-band ones by
    /// queueing DATA_CHANNEL_OPEN first (RFC 8832 §6); until the ACK, its messages go ordered.
    private func announce(_ channel: DataChannel, in state: inout State) {
        guard channel.readyState == .connecting else { return }
        if channel.negotiated {
            channel.markOpen(awaitingAck: false)
            return
        }
        let open = DCEPOpenMessage(
            reliability: channel.reliability, priority: channel.priority, label: channel.label,
            protocol: channel.protocol)
        state.queue.append(Outgoing(channel: channel, kind: .dcep(DCEPMessage.open(open).encoded)))
        channel.markOpen(awaitingAck: true)
    }

    private func handleMessage(_ message: SCTPMessage, in state: inout State) {
        let streamID = message.streamID
        if message.ppid == DataChannelPPID.dcep {
            handleDCEP(message, in: &state)
            return
        }
        guard let channel = state.channels[streamID], channel.readyState != .closed else {
            state.counters.messagesWithoutChannel += 1
            state.events.append(.dropped(.noChannel(streamID: streamID)))
            return
        }
        if message.ppid == DataChannelPPID.stringPartial || message.ppid == DataChannelPPID.binaryPartial {
            collectDeprecatedPartial(message, on: channel, in: &state)
            return
        }
        var payload = message.payload
        if message.ppid == DataChannelPPID.string || message.ppid == DataChannelPPID.binary,
            var head = channel.withState({ state -> ByteBuffer? in
                defer { state.deprecatedPartial = nil }
                return state.deprecatedPartial
            })
        {
            head.writeBuffer(&payload)
            payload = head
            let limit = association.configuration.localMaxMessageSize
            if limit != 0, payload.readableBytes > limit {
                state.counters.oversizedMessages += 1
                beginClose(channel, reason: .oversizedMessage(size: payload.readableBytes), in: &state)
                return
            }
        }
        guard let decoded = DataChannelMessage.decode(ppid: message.ppid, payload: payload) else {
            state.counters.unknownPPIDs += 1
            state.events.append(.dropped(.unknownPPID(streamID: streamID, ppid: message.ppid)))
            return
        }
        // User data before DATA_CHANNEL_ACK means the peer has the channel (RFC 8832 §6).
        channel.withState { $0.awaitingAck = false }
        state.counters.messagesReceived += 1
        if let handler = channel.messageHandler {
            state.handlerDeliveries.append((handler, decoded))
        } else {
            channel.deliver(decoded)
        }
    }

    /// A piece with PPID 52 or 54 (deprecated, RFC 8831 §8): kept until the piece with 51 or 53
    /// that ends the message; more than our `max-message-size` in total closes the channel.
    private func collectDeprecatedPartial(_ message: SCTPMessage, on channel: DataChannel, in state: inout State) {
        let limit = association.configuration.localMaxMessageSize
        let size = channel.withState { channelState -> Int in
            var piece = message.payload
            var collected = channelState.deprecatedPartial ?? ByteBuffer()
            collected.writeBuffer(&piece)
            channelState.deprecatedPartial = collected
            return collected.readableBytes
        }
        if limit != 0, size > limit {
            channel.withState { $0.deprecatedPartial = nil }
            state.counters.oversizedMessages += 1
            beginClose(channel, reason: .oversizedMessage(size: size), in: &state)
        }
    }

    private func handleDCEP(_ message: SCTPMessage, in state: inout State) {
        let streamID = message.streamID
        let decoded: DCEPMessage
        do {
            decoded = try DCEPMessage.decode(from: message.payload)
        } catch {
            state.counters.malformedDCEP += 1
            state.events.append(.dropped(.malformedDCEP(streamID: streamID, error)))
            if let channel = state.channels[streamID] {
                beginClose(channel, reason: .protocolViolation("\(error)"), in: &state)
            } else {
                state.pendingResets.append(streamID)
            }
            return
        }
        switch decoded {
        case .ack:
            state.channels[streamID]?.withState { $0.awaitingAck = false }
        case .open(let open):
            let ourParity = role == .client ? 0 : 1
            guard state.channels[streamID] == nil else {
                state.counters.rejectedOpens += 1
                state.events.append(.dropped(.rejectedOpen(streamID: streamID)))
                return
            }
            guard Int(streamID) % 2 != ourParity, Int(streamID) < streamLimit(established: state.established) else {
                state.counters.rejectedOpens += 1
                state.events.append(.dropped(.rejectedOpen(streamID: streamID)))
                state.pendingResets.append(streamID)
                return
            }
            let channel = DataChannel(
                id: streamID, label: open.label, protocol: open.protocol, reliability: open.reliability,
                priority: open.priority, negotiated: false, controller: self)
            if let handler = peerChannelHandler.withLock({ $0 }) {
                channel.setMessageHandler { [weak channel] message in
                    if let channel { handler.call(channel, message) }
                }
            }
            state.channels[streamID] = channel
            state.counters.channelsOpened += 1
            state.queue.append(Outgoing(channel: channel, kind: .dcep(DCEPMessage.ack.encoded)))
            channel.markOpen(awaitingAck: false)
            state.events.append(.channelOpened(channel))
        }
    }

    /// Starts closing: the reset goes after the channel's queued messages.
    private func beginClose(_ channel: DataChannel, reason: DataChannelCloseReason, in state: inout State) {
        guard state.channels[channel.id] === channel, channel.readyState != .closed else { return }
        guard state.established, !state.closed else {
            finishClose(channel, reason: reason, in: &state)
            return
        }
        if channel.markClosing() {
            channel.withState { $0.closeReason = reason }
            state.queue.append(Outgoing(channel: channel, kind: .reset))
        }
    }

    private func finishCloseIfDone(_ channel: DataChannel, in state: inout State) {
        let (done, reason) = channel.withState { ($0.incomingResetDone && $0.outgoingResetDone, $0.closeReason) }
        if done { finishClose(channel, reason: reason ?? .remote, in: &state) }
    }

    private func finishClose(_ channel: DataChannel, reason: DataChannelCloseReason, in state: inout State) {
        if state.channels[channel.id] === channel { state.channels.removeValue(forKey: channel.id) }
        if channel.markClosed(reason) {
            state.counters.channelsClosed += 1
            state.events.append(.channelClosed(id: channel.id, reason: reason))
        }
    }

    private enum TransmitResult {
        case sent, blocked
        case failed(SCTPError)
    }

    private func transmit(_ item: Outgoing, in state: inout State) -> TransmitResult {
        let channel = item.channel
        switch item.kind {
        case .reset:
            state.pendingResets.append(channel.id)
            return .sent
        case .dcep(let payload):
            return send(payload, ppid: DataChannelPPID.dcep, channel: channel, ordered: true, reliability: .reliable)
        case .message(let ppid, let payload, _):
            let ordered = channel.ordered || channel.withState { $0.awaitingAck }
            let result = send(payload, ppid: ppid, channel: channel, ordered: ordered, reliability: channel.reliability.sctpReliability)
            if case .sent = result { state.counters.messagesSent += 1 }
            return result
        }
    }

    private func send(
        _ payload: ByteBuffer, ppid: UInt32, channel: DataChannel, ordered: Bool, reliability: SCTPReliability
    ) -> TransmitResult {
        do {
            try association.send(payload, streamID: channel.id, ppid: ppid, unordered: !ordered, reliability: reliability)
            return .sent
        } catch where error.code == .wouldBlock {
            return .blocked
        } catch {
            return .failed(error)
        }
    }

    /// Moves queued items into SCTP in order until its send buffer is full.
    private func flush(_ state: inout State) {
        guard state.established, !state.closed else { return }
        while state.queueHead < state.queue.count {
            let item = state.queue[state.queueHead]
            let userBytes: Int
            if case .message(_, _, let bytes) = item.kind { userBytes = bytes } else { userBytes = 0 }
            if item.channel.readyState == .closed {
                state.queueHead += 1
                continue
            }
            switch transmit(item, in: &state) {
            case .blocked:
                compactQueue(&state)
                return
            case .sent:
                state.queueHead += 1
                if userBytes > 0 { item.channel.adjustBuffered(by: -userBytes) }
            case .failed:
                // The association refused it for good (closed, or a stream beyond the
                // negotiated count): drop it; a closed association reports itself.
                state.queueHead += 1
                if userBytes > 0 { item.channel.adjustBuffered(by: -userBytes) }
            }
        }
        state.queue.removeAll(keepingCapacity: true)
        state.queueHead = 0
    }

    private func compactQueue(_ state: inout State) {
        guard state.queueHead > 256, state.queueHead * 2 > state.queue.count else { return }
        state.queue.removeFirst(state.queueHead)
        state.queueHead = 0
    }

    /// Sends the outstanding stream reset requests (RFC 6525 allows one in flight; usrsctp
    /// refuses more, so failures are retried on the next round).
    private func requestResets(_ state: inout State) {
        guard state.established, !state.closed, !state.pendingResets.isEmpty else { return }
        var streams: [UInt16] = []
        for id in state.pendingResets where !streams.contains(id) { streams.append(id) }
        do {
            try association.resetOutgoingStreams(streams)
            state.pendingResets.removeAll()
            state.resetFailures = 0
        } catch {
            state.resetFailures += 1
            guard state.resetFailures >= Self.maximumResetFailures else { return }
            state.pendingResets.removeAll()
            state.resetFailures = 0
            for id in streams {
                if let channel = state.channels[id] {
                    finishClose(channel, reason: channel.withState { $0.closeReason } ?? .local, in: &state)
                }
            }
        }
    }
}
