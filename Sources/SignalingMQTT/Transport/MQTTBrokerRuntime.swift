public import Logging
public import NIOCore
public import NIOPosix

/// Runs an ``MQTTBroker`` on one event loop and connects it to NIO channels (TCP here; the
/// server's WebSocket endpoint feeds the same runtime).
///
/// All broker state lives on ``loop``; channel handlers on other loops hop to it. On Linux, TCP
/// listeners are served by ``MQTTTCPTransport`` (one epoll thread each, beside the loop), which
/// hands over reads in batches. The broker processes everything that arrived in one turn of
/// the loop together, and each connection gets one write and one flush per round.
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
    #if os(Linux)
    private var transports: [MQTTTCPTransport] = []
    /// Writes and closes for each transport gathered in one round, handed over together.
    private var transportCommands: [[MQTTTCPTransport.Command]] = []
    /// Open TCP connections: writes handed to the I/O thread and writes it reported done. While
    /// they are equal the loop writes to the socket itself (see ``MQTTTCPTransport``).
    private var transportWrites: [MQTTConnectionID: (submitted: UInt64, completed: UInt64)] = [:]
    #endif

    public init(
        broker: MQTTBroker<Policy>, loop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next(),
        logger: Logger = Logger(label: "pod-arcade.mqtt"),
        authenticator: @escaping Authenticator = { _ in .success(()) },
        onEvent: @escaping @Sendable (MQTTBrokerEvent) -> Void = { _ in }
    ) {
        self.broker = broker
        self.loop = loop
        self.logger = logger
        self.authenticator = authenticator
        self.onEvent = onEvent
    }

    /// Listens for MQTT over TCP.
    /// - Returns: the bound address (port 0 picks a free one).
    public func listenTCP(host: String, port: Int) async throws -> SocketAddress {
        #if os(Linux)
        let transport = try await loop.submit {
            let transport = try MQTTTCPTransport(host: host, port: port, index: self.transports.count, loop: self.loop)
            self.transports.append(transport)
            self.transportCommands.append([])
            return transport
        }.get()
        transport.start { [self] events in self.transportEvents(events) }
        return transport.localAddress
        #else
        return try await listenNIO(host: host, port: port)
        #endif
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
            self.timer?.cancel()
            return result
        }.get()) ?? ([], [])
        for channel in listeners { try? await channel.close() }
        for channel in connections { try? await channel.close() }
        #if os(Linux)
        let transports: [MQTTTCPTransport] = (try? await loop.submit { () -> [MQTTTCPTransport] in
            let transports = self.transports
            self.transports = []
            self.transportWrites = [:]  // no more writes from this loop: the I/O threads close the sockets
            return transports
        }.get()) ?? []
        for transport in transports { await transport.stop() }
        #endif
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

    #if os(Linux)
    /// A batch from a TCP transport's thread (any thread).
    private func transportEvents(_ events: [MQTTTCPTransport.Event]) {
        loop.execute {
            let now = NIODeadline.now()
            for event in events {
                switch event {
                case .opened(let id):
                    self.transportWrites[id] = (0, 0)
                    self.broker.connectionOpened(id, now: now)
                case .bytes(let id, var bytes):
                    self.broker.receive(id, &bytes, now: now)
                case .closed(let id):
                    self.transportWrites[id] = nil
                    self.broker.connectionClosed(id, now: now)
                    if let index = MQTTTCPTransport.transportIndex(of: id), index < self.transportCommands.count {
                        self.transportCommands[index].append(.release(id))
                    }
                case .drained(let id, let writes):
                    self.transportWrites[id]?.completed = writes
                case .writability(let id, let isWritable):
                    self.broker.connectionWritabilityChanged(id, isWritable: isWritable, now: now)
                }
            }
            self.process()
        }
    }
    #endif

    // MARK: Output

    /// Performs every pending output, flushes, and re-arms the timer.
    private func process() {
        loop.preconditionInEventLoop()
        while let output = broker.pollOutput() {
            switch output {
            case .send(let id, let buffer):
                #if os(Linux)
                if let index = MQTTTCPTransport.transportIndex(of: id) {
                    sendTCP(id, buffer, transport: index)
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
                if let index = MQTTTCPTransport.transportIndex(of: id) {
                    transportWrites[id] = nil
                    if index < transportCommands.count { transportCommands[index].append(.close(id)) }
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
        #if os(Linux)
        for index in transportCommands.indices where !transportCommands[index].isEmpty {
            if index < transports.count { transports[index].submit(transportCommands[index]) }
            transportCommands[index].removeAll(keepingCapacity: true)
        }
        #endif
        armTimer()
    }

    #if os(Linux)
    /// Writes to the socket from this loop when the I/O thread holds nothing for it, else (and
    /// for the rest of a partial write) hands the bytes to the I/O thread.
    private func sendTCP(_ id: MQTTConnectionID, _ buffer: ByteBuffer, transport index: Int) {
        guard let state = transportWrites[id], index < transportCommands.count else { return }
        var rest = buffer
        if state.submitted == state.completed {
            let written = MQTTTCPTransport.sendDirectly(id, buffer)
            if written == buffer.readableBytes { return }
            if written > 0 { rest.moveReaderIndex(forwardBy: written) }
        }
        transportWrites[id] = (state.submitted + 1, state.completed)
        transportCommands[index].append(.write(id, rest))
    }
    #endif

    private func armTimer() {
        guard let deadline = broker.nextTimeout() else {
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
