public import Logging
public import NIOCore
import NIOPosix

/// Runs an ``MQTTBroker`` on one event loop and connects it to NIO channels (TCP here; the
/// server's WebSocket endpoint feeds the same runtime).
///
/// All broker state lives on ``loop``; channel handlers on other loops hop to it. On Linux the
/// runtime's default loop is an epoll loop of its own that also serves the TCP listeners
/// (`MQTTTCPTransport`): a PUBLISH is read, routed and written to its subscribers on one thread
/// in one wake-up. The broker processes everything that arrived in one turn of the loop
/// together, and each connection gets one write per round.
public final class MQTTBrokerRuntime<Policy: MQTTBrokerPolicy>: @unchecked Sendable {
    // @unchecked: every mutable field below is touched only on `loop` (asserted in debug builds).

    /// Checks a CONNECT's credentials; runs off the loop.
    public typealias Authenticator = @Sendable (MQTTConnect) async -> Result<Void, MQTTReasonCode>

    public let loop: any EventLoop
    private var broker: MQTTBroker<Policy>
    private var channels: [MQTTConnectionID: Endpoint] = [:]
    private var toFlush: Set<MQTTConnectionID> = []
    private var nextID: UInt64 = 1
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private let authenticator: Authenticator
    private let onEvent: @Sendable (MQTTBrokerEvent) -> Void
    private let logger: Logger
    private var listeners: [any Channel] = []
    /// True while a processing round is scheduled on ``loop``.
    private var processScheduled = false
    /// After ``shutdown()``: no timer is armed any more.
    private var isShutDown = false
    #if os(Linux)
    /// The TCP listeners' connections, when ``loop`` is an epoll loop.
    private var tcp: MQTTTCPTransport?
    #endif

    /// - Parameters:
    ///   - loop: where the broker runs. By default (nil) on Linux, an epoll loop of the
    ///     runtime's own (one thread, ended when the runtime is released) that also serves the TCP
    ///     listeners; elsewhere, or if that fails, a loop of NIO's shared group. With a NIO loop
    ///     given here, TCP connections are NIO channels.
    public init(
        broker: MQTTBroker<Policy>, loop: (any EventLoop)? = nil,
        logger: Logger = Logger(label: "pod-arcade.mqtt"),
        authenticator: @escaping Authenticator = { _ in .success(()) },
        onEvent: @escaping @Sendable (MQTTBrokerEvent) -> Void = { _ in }
    ) {
        self.broker = broker
        #if os(Linux)
        self.loop = loop ?? (try? MQTTEpollEventLoop()) ?? MultiThreadedEventLoopGroup.singleton.next()
        #else
        self.loop = loop ?? MultiThreadedEventLoopGroup.singleton.next()
        #endif
        self.logger = logger
        self.authenticator = authenticator
        self.onEvent = onEvent
    }

    /// Listens for MQTT over TCP.
    /// - Returns: the bound address (port 0 picks a free one).
    public func listenTCP(host: String, port: Int) async throws -> SocketAddress {
        #if os(Linux)
        if let epollLoop = loop as? MQTTEpollEventLoop {
            return try await loop.submit {
                let transport = self.tcp ?? MQTTTCPTransport(loop: epollLoop, delegate: self)
                self.tcp = transport
                return try transport.listen(host: host, port: port)
            }.get()
        }
        #endif
        return try await listenNIO(host: host, port: port)
    }

    /// Listens for MQTT over TCP with a NIO channel per connection.
    private func listenNIO(host: String, port: Int) async throws -> SocketAddress {
        let channel = try await ServerBootstrap(group: loop)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 256 * 1024))
            // An idle channel keeps its pooled receive buffer: start small, grow after full reads.
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 65536))
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(MQTTConnectionHandler(runtime: self))
                }
            }
            .bind(host: host, port: port).get()
        loop.execute { self.listeners.append(channel) }
        return channel.localAddress!
    }

    /// Closes the listeners and every connection.
    public func shutdown() async {
        let (listeners, connections): ([any Channel], [any Channel]) = (try? await loop.submit {
            var channels: [any Channel] = []
            for endpoint in self.channels.values {
                switch endpoint {
                case .channel(let channel): channels.append(channel)
                case .stream(let sink): sink.close()
                }
            }
            let result = (self.listeners, channels)
            self.listeners = []
            // No timer from now on: it would keep the runtime (and its loop) alive.
            self.isShutDown = true
            self.timer?.cancel()
            self.timer = nil
            self.timerDeadline = nil
            #if os(Linux)
            self.tcp?.closeAll()
            self.process()
            #endif
            return result
        }.get()) ?? ([], [])
        for channel in listeners { try? await channel.close() }
        for channel in connections { try? await channel.close() }
    }

    /// Publishes as the server (no ACL).
    public func publish(topic: String, payload: ByteBuffer, qos: MQTTQoS = .atMostOnce, retain: Bool = false) async throws {
        try await loop.submit {
            try self.broker.publish(topic: topic, payload: payload, qos: qos, retain: retain, now: .now())
            self.process()
        }.get()
    }

    /// A snapshot of the broker's statistics and client counts.
    public func snapshot() async -> (statistics: MQTTBrokerStatistics, clients: [String: Int]) {
        (try? await loop.submit { (self.broker.statistics, self.broker.connectedClients) }.get())
            ?? (MQTTBrokerStatistics(), [:])
    }

    /// The number of MQTT sessions the broker holds (connected or kept for a client that may
    /// come back).
    public func sessionCount() async -> Int {
        (try? await loop.submit { self.broker.sessionCount }.get()) ?? 0
    }

    /// The retained messages whose topics match `filter` (e.g. for statistics).
    public func retainedPayloads(matching filter: MQTTTopicFilter) async -> [(topic: String, payload: ByteBuffer)] {
        (try? await loop.submit { self.broker.retainedPayloads(matching: filter) }.get()) ?? []
    }

    // MARK: Byte-stream connections (any loop)

    /// Opens a connection whose bytes do not come from a NIO channel of byte buffers (the
    /// server's WebSocket endpoint unwraps frames and feeds them here).
    ///
    /// Feed what arrives with ``received(_:_:)``, report the end with ``closed(_:)`` and
    /// backpressure with ``writabilityChanged(_:isWritable:)``.
    /// - Parameter sink: where the broker's bytes for this connection go.
    /// - Returns: the connection's id.
    public func openStream(_ sink: any MQTTBrokerStreamSink) async throws -> MQTTConnectionID {
        try await loop.submit {
            let id = MQTTConnectionID(self.nextID)
            self.nextID += 1
            self.channels[id] = .stream(sink)
            self.broker.connectionOpened(id, now: .now())
            self.process()
            return id
        }.get()
    }

    // MARK: Channel events (any loop)

    func opened(_ channel: any Channel, assign: @escaping @Sendable (MQTTConnectionID) -> Void) {
        onLoop {
            let id = MQTTConnectionID(self.nextID)
            self.nextID += 1
            self.channels[id] = .channel(channel)
            self.broker.connectionOpened(id, now: .now())
            assign(id)
            self.process()
        }
    }

    /// Bytes that arrived on a connection; packets may span calls and a call may hold several.
    @_specialize(where Policy == PodArcadeBrokerPolicy)
    public func received(_ id: MQTTConnectionID, _ buffer: ByteBuffer) {
        onLoop {
            var bytes = buffer
            self.broker.receive(id, &bytes, now: .now())
            self.scheduleProcess()
        }
    }

    /// The connection ended (the peer closed it or it failed).
    public func closed(_ id: MQTTConnectionID) {
        onLoop {
            self.channels[id] = nil
            self.broker.connectionClosed(id, now: .now())
            self.process()
        }
    }

    /// The connection's outgoing queue went above (false) or back below (true) its limit.
    public func writabilityChanged(_ id: MQTTConnectionID, isWritable: Bool) {
        onLoop {
            self.broker.connectionWritabilityChanged(id, isWritable: isWritable, now: .now())
            self.process()
        }
    }

    private func onLoop(_ body: @escaping @Sendable () -> Void) {
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }

    /// Processes once after everything this loop turn reads (NIO runs tasks after the turn's
    /// I/O events), so that one round of reads gives one write per connection, with no delay.
    private func scheduleProcess() {
        guard !processScheduled else { return }
        processScheduled = true
        loop.execute {
            self.processScheduled = false
            self.process()
        }
    }


    // MARK: Output

    /// Performs every pending output, flushes, and re-arms the timer.
    private func process() {
        loop.preconditionInEventLoop()
        while let output = broker.pollOutput() {
            switch output {
            case .send(let id, let buffer):
                #if os(Linux)
                if MQTTTCPTransport.owns(id) {
                    tcp?.write(id, buffer)
                    continue
                }
                #endif
                switch channels[id] {
                case .channel(let channel): channel.write(buffer, promise: nil)
                case .stream(let sink): sink.write(buffer)
                case nil: continue
                }
                toFlush.insert(id)
            case .close(let id):
                #if os(Linux)
                if MQTTTCPTransport.owns(id) {
                    tcp?.close(id)
                    continue
                }
                #endif
                guard let endpoint = channels[id] else { continue }
                toFlush.remove(id)
                switch endpoint {
                case .channel(let channel):
                    channel.writeAndFlush(ByteBuffer(), promise: nil)
                    channel.close(promise: nil)
                case .stream(let sink):
                    sink.flush()
                    sink.close()
                }
            case .authenticate(let id, let connect):
                let authenticator = self.authenticator
                Task {
                    let result = await authenticator(connect)
                    self.onLoop {
                        self.broker.completeAuthentication(id, accepted: result, now: .now())
                        self.process()
                    }
                }
            case .event(let event):
                onEvent(event)
            }
        }
        for id in toFlush {
            switch channels[id] {
            case .channel(let channel): channel.flush()
            case .stream(let sink): sink.flush()
            case nil: break
            }
        }
        toFlush.removeAll(keepingCapacity: true)
        armTimer()
    }


    private func armTimer() {
        guard !isShutDown, let deadline = broker.nextTimeout() else {
            timer?.cancel()
            timer = nil
            timerDeadline = nil
            return
        }
        if let current = timerDeadline, current <= deadline, timer != nil { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = loop.scheduleTask(deadline: deadline) { [self] in
            self.timer = nil
            self.timerDeadline = nil
            self.broker.handleTimeout(now: .now())
            self.process()
        }
    }
}

#if os(Linux)
extension MQTTBrokerRuntime: MQTTTCPTransportDelegate {
    // The TCP transport reports on the loop; processing waits for the end of the round, so
    // that one wake-up's reads give one write per connection. Specialized for the server's
    // policy: unspecialized, every broker step pays generic metadata lookups.

    @_specialize(where Policy == PodArcadeBrokerPolicy)
    func tcpOpened(_ id: MQTTConnectionID) {
        broker.connectionOpened(id, now: .now())
    }

    @_specialize(where Policy == PodArcadeBrokerPolicy)
    func tcpReceived(_ id: MQTTConnectionID, _ bytes: inout ByteBuffer) {
        broker.receive(id, &bytes, now: .now())
    }

    @_specialize(where Policy == PodArcadeBrokerPolicy)
    func tcpClosed(_ id: MQTTConnectionID) {
        broker.connectionClosed(id, now: .now())
    }

    @_specialize(where Policy == PodArcadeBrokerPolicy)
    func tcpWritabilityChanged(_ id: MQTTConnectionID, isWritable: Bool) {
        broker.connectionWritabilityChanged(id, isWritable: isWritable, now: .now())
    }

    @_specialize(where Policy == PodArcadeBrokerPolicy)
    func tcpRoundEnded() {
        process()
    }
}
#endif

/// Where a connection's outgoing bytes go.
private enum Endpoint {
    case channel(any Channel)
    case stream(any MQTTBrokerStreamSink)
}

/// The outgoing side of a connection opened with ``MQTTBrokerRuntime/openStream(_:)``.
///
/// The runtime calls these on its loop, in order: any number of writes, then a flush at the end
/// of each processing round; ``close()`` (after a final flush) when the broker ends the
/// connection or the runtime shuts down.
public protocol MQTTBrokerStreamSink: Sendable {
    /// Queues bytes (one or more whole MQTT packets).
    func write(_ buffer: ByteBuffer)
    /// Sends what was queued since the last flush.
    func flush()
    /// Ends the connection once what was flushed has been sent.
    func close()
}

/// Feeds one TCP (or WebSocket-unwrapped) byte stream into the runtime.
final class MQTTConnectionHandler<Policy: MQTTBrokerPolicy>: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: `id` is written once on the runtime's loop before any read is forwarded, and
    // reads happen on the channel's loop after `channelActive` has been processed there.
    typealias InboundIn = ByteBuffer

    private let runtime: MQTTBrokerRuntime<Policy>
    private var id: MQTTConnectionID?
    private var pending: [ByteBuffer] = []
    private var closedEarly = false

    init(runtime: MQTTBrokerRuntime<Policy>) {
        self.runtime = runtime
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        runtime.opened(channel) { id in
            channel.eventLoop.execute {
                let handler = loopBound.value
                handler.id = id
                for buffer in handler.pending { handler.runtime.received(id, buffer) }
                handler.pending = []
                if handler.closedEarly { handler.runtime.closed(id) }
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if let id { runtime.received(id, buffer) } else { pending.append(buffer) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let id { runtime.closed(id) } else { closedEarly = true }
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let id { runtime.writabilityChanged(id, isWritable: context.channel.isWritable) }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
