public import NIOCore
import Synchronization

/// One WebRTC data channel (RFC 8831), with the W3C `RTCDataChannel` surface: identity and
/// reliability, `readyState`, messages as an `AsyncSequence`, `send` with back-pressure
/// (`bufferedAmount`, `bufferedAmountLowThreshold`, a low-water event and an async wait) and
/// `close()` (stream reset, RFC 8831 §6.7).
///
/// Channels come from ``DataChannelController/createDataChannel(label:protocol:reliability:priority:negotiatedID:)``
/// or from the peer (``DataChannelControllerEvent/channelOpened(_:)``). All methods are
/// thread-safe.
///
/// `bufferedAmount` counts the bytes of messages `send` accepted that usrsctp's send buffer
/// (``SCTPAssociationConfiguration/sendBufferSize``) could not take yet; bytes inside that
/// buffer are the association's, not the channel's.
public final class DataChannel: Sendable {
    /// Stream identifier (RFC 8832 §6), the W3C `id`.
    public let id: UInt16
    public let label: String
    /// The sub-protocol (`pod-arcade-input-v1` for the input channel).
    public let `protocol`: String
    public let reliability: DataChannelReliability
    /// RFC 8832 §5.1 priority.
    public let priority: UInt16
    /// Whether both sides created the channel themselves (no DCEP).
    public let negotiated: Bool

    /// Received messages, in the order SCTP delivered them (in order on ordered channels).
    /// Finishes when the channel closes. Unbounded: a consumer that stops reading lets them pile up.
    public let messages: AsyncStream<DataChannelMessage>
    /// State changes and low-water notifications. Finishes after ``DataChannelEvent/closed(_:)``.
    public let events: AsyncStream<DataChannelEvent>

    private let messageSink: AsyncStream<DataChannelMessage>.Continuation
    private let eventSink: AsyncStream<DataChannelEvent>.Continuation
    private let state: Mutex<State>
    private let messageHandlerBox = Mutex<DataChannelMessageHandler?>(nil)
    private weak let controller: DataChannelController?

    struct State {
        var readyState: DataChannelState = .connecting
        var bufferedAmount = 0
        var threshold = 0
        var lowWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiterID: UInt64 = 0
        /// A local in-band channel whose DATA_CHANNEL_ACK has not come: send ordered (RFC 8832 §6).
        var awaitingAck = false
        var outgoingResetDone = false
        var incomingResetDone = false
        var closeReason: DataChannelCloseReason?
        /// Pieces of a message split by a sender with the deprecated PPIDs 52/54 (RFC 8831 §8).
        var deprecatedPartial: ByteBuffer?
    }

    init(
        id: UInt16, label: String, protocol: String, reliability: DataChannelReliability, priority: UInt16,
        negotiated: Bool, controller: DataChannelController
    ) {
        self.id = id
        self.label = label
        self.protocol = `protocol`
        self.reliability = reliability
        self.priority = priority
        self.negotiated = negotiated
        (messages, messageSink) = AsyncStream.makeStream(of: DataChannelMessage.self)
        (events, eventSink) = AsyncStream.makeStream(of: DataChannelEvent.self)
        self.state = Mutex(State())
        self.controller = controller
    }

    /// Whether messages keep their order (W3C `ordered`).
    public var ordered: Bool { reliability.ordered }

    /// W3C `maxRetransmits`.
    public var maxRetransmits: UInt32? {
        if case .maxRetransmits(let count) = reliability.limit { return count }
        return nil
    }

    /// W3C `maxPacketLifeTime`, in milliseconds.
    public var maxPacketLifeTime: UInt32? {
        if case .maxPacketLifeTime(let milliseconds) = reliability.limit { return milliseconds }
        return nil
    }

    public var readyState: DataChannelState { state.withLock { $0.readyState } }

    /// Bytes accepted by `send` and not yet taken by SCTP (see the type's documentation).
    public var bufferedAmount: Int { state.withLock { $0.bufferedAmount } }

    /// When `bufferedAmount` falls from above this to at most this,
    /// ``DataChannelEvent/bufferedAmountLow`` fires and waiters resume. Default 0.
    public var bufferedAmountLowThreshold: Int {
        get { state.withLock { $0.threshold } }
        set { state.withLock { $0.threshold = max(0, newValue) } }
    }

    /// Why the channel closed, once closed.
    public var closeReason: DataChannelCloseReason? { state.withLock { $0.closeReason } }

    /// Sends a message.
    /// - Throws: ``DataChannelError`` `.notOpen` unless open, `.messageTooLarge` above the peer's
    ///   `max-message-size`. A full send buffer is not an error: the message waits in the
    ///   channel's queue and counts in ``bufferedAmount``.
    public func send(_ message: DataChannelMessage) throws(DataChannelError) {
        guard let controller else { throw DataChannelError(.associationClosed, field: "controller released") }
        try controller.send(message, on: self)
    }

    public func send(_ text: String) throws(DataChannelError) { try send(.string(text)) }

    public func send(_ bytes: ByteBuffer) throws(DataChannelError) { try send(.binary(bytes)) }

    public func send(_ bytes: [UInt8]) throws(DataChannelError) { try send(.binary(ByteBuffer(bytes: bytes))) }

    /// Closes the channel: queued messages go first, then our outgoing stream is reset and the
    /// peer resets its own in turn (RFC 8831 §6.7). `readyState` is `closing` until then.
    public func close() {
        controller?.close(self)
    }

    /// Returns once `bufferedAmount` is at most `bufferedAmountLowThreshold`, the channel is
    /// closed, or the calling task is cancelled.
    public func waitForBufferedAmountLow() async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if state.bufferedAmount <= state.threshold || state.readyState == .closed || Task.isCancelled {
                        return true
                    }
                    state.lowWaiters[id] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.lowWaiters.removeValue(forKey: id) }?.resume()
        }
    }

    // MARK: - Controller side (called with the controller's lock held; never calls it back)

    func withState<T: Sendable>(_ body: (inout State) -> T) -> T {
        state.withLock { state in body(&state) }
    }

    func deliver(_ message: DataChannelMessage) {
        messageSink.yield(message)
    }

    /// Receives this channel's messages in `handler` instead of ``messages``: called on the
    /// transport's event loop right after the packet that completed each message, in order,
    /// outside every lock (it may call ``send(_:)``, whose packets then leave in the same pass).
    /// For latency-critical consumers such as the input channel: it saves the hop to a task.
    /// Set it before the channel opens; nil goes back to ``messages``. The handler must not block.
    public func setMessageHandler(_ handler: (@Sendable (DataChannelMessage) -> Void)?) {
        let box = handler.map(DataChannelMessageHandler.init)
        messageHandlerBox.withLock { $0 = box }
    }

    var messageHandler: DataChannelMessageHandler? { messageHandlerBox.withLock { $0 } }

    /// Moves to `open` (from connecting) and reports it.
    func markOpen(awaitingAck: Bool) {
        let changed = state.withLock { state -> Bool in
            state.awaitingAck = awaitingAck
            guard state.readyState == .connecting else { return false }
            state.readyState = .open
            return true
        }
        if changed { eventSink.yield(.open) }
    }

    func markClosing() -> Bool {
        let changed = state.withLock { state -> Bool in
            guard state.readyState == .connecting || state.readyState == .open else { return false }
            state.readyState = .closing
            return true
        }
        if changed { eventSink.yield(.closing) }
        return changed
    }

    /// Moves to `closed` once; returns whether this call did it.
    @discardableResult
    func markClosed(_ reason: DataChannelCloseReason) -> Bool {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>]? in
            guard state.readyState != .closed else { return nil }
            state.readyState = .closed
            state.closeReason = reason
            state.bufferedAmount = 0
            defer { state.lowWaiters = [:] }
            return Array(state.lowWaiters.values)
        }
        guard let waiters else { return false }
        for waiter in waiters { waiter.resume() }
        messageSink.finish()
        eventSink.yield(.closed(reason))
        eventSink.finish()
        return true
    }

    /// Adds to (positive) or takes from (negative) `bufferedAmount`; fires the low-water event
    /// when it crosses the threshold downwards.
    func adjustBuffered(by delta: Int) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>]? in
            let before = state.bufferedAmount
            state.bufferedAmount = max(0, before + delta)
            guard delta < 0, before > state.threshold, state.bufferedAmount <= state.threshold else { return nil }
            defer { state.lowWaiters = [:] }
            return Array(state.lowWaiters.values)
        }
        guard let waiters else { return }
        for waiter in waiters { waiter.resume() }
        eventSink.yield(.bufferedAmountLow)
    }
}

/// A message handler, held by reference.
///
/// Not a function value straight in a `Mutex`: `withLock` hands its value to the closure as a
/// generic `inout`, and a function value passed that way is converted to the generic
/// representation and back, each conversion wrapping it in a reabstraction thunk, and the
/// wrapped value is written back. Every read made the stored handler two thunks deeper: after
/// 4,000 messages a call walked 8,000 frames (512 KB of stack in a debug build); in a release
/// build the echo round trip grew fourfold and memory by 1.7 MB per 10,000 messages, and the
/// stack would in the end have overflowed. A class reference goes through unchanged.
final class DataChannelMessageHandler: Sendable {
    let call: @Sendable (DataChannelMessage) -> Void
    init(_ call: @escaping @Sendable (DataChannelMessage) -> Void) { self.call = call }
}
