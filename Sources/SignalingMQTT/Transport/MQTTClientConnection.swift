import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// Runs one ``MQTTClientStateMachine`` on one event loop: opens the connections it asks for
/// (TCP, TLS, WebSocket), feeds it bytes, closes and time, and performs its outputs.
///
/// Every connection is opened on ``loop``, so channel handlers call in without hopping. Each
/// connection gets a generation number; events from a connection that is no longer current are
/// ignored, so a late close never ends its successor.
final class MQTTClientConnection: @unchecked Sendable {
    // @unchecked: every mutable field is touched only on `loop` (asserted in debug builds).

    let loop: any EventLoop
    private let configuration: MQTTClientConfiguration
    private var machine: MQTTClientStateMachine
    private var channel: (any Channel)?
    private var generation: UInt64 = 0
    /// Bytes of a packet that has not arrived whole yet.
    private var inbound = ByteBuffer()
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var tlsContext: NIOSSLContext?
    private var stopped = false

    private var connectWaiter: EventLoopPromise<Void>?
    private var publishWaiters: [UInt16: EventLoopPromise<Void>] = [:]
    private var subscribeWaiters: [UInt16: EventLoopPromise<[MQTTReasonCode]>] = [:]
    private var unsubscribeWaiters: [UInt16: EventLoopPromise<[MQTTReasonCode]>] = [:]
    private let messages: AsyncStream<MQTTPublish>.Continuation
    private let events: AsyncStream<MQTTClientConnectionEvent>.Continuation

    init(
        configuration: MQTTClientConfiguration, loop: any EventLoop,
        messages: AsyncStream<MQTTPublish>.Continuation, events: AsyncStream<MQTTClientConnectionEvent>.Continuation
    ) {
        self.configuration = configuration
        self.loop = loop
        self.messages = messages
        self.events = events
        machine = MQTTClientStateMachine(configuration: configuration.stateMachineConfiguration(randomSeed: .random(in: .min ... .max)))
    }

    // MARK: Requests (on the loop)

    func start() -> EventLoopFuture<Void> {
        loop.preconditionInEventLoop()
        guard !stopped else { return loop.makeFailedFuture(Self.stoppedError) }
        do {
            try machine.start(now: .now())
        } catch {
            return loop.makeFailedFuture(error)
        }
        let promise = loop.makePromise(of: Void.self)
        connectWaiter = promise
        process()
        return promise.futureResult
    }

    func publish(_ message: MQTTPublish) -> EventLoopFuture<Void> {
        loop.preconditionInEventLoop()
        guard !stopped else { return loop.makeFailedFuture(Self.stoppedError) }
        do {
            let id = try machine.publish(message, now: .now())
            defer { process() }
            guard let id else { return loop.makeSucceededVoidFuture() }
            let promise = loop.makePromise(of: Void.self)
            publishWaiters[id] = promise
            return promise.futureResult
        } catch {
            return loop.makeFailedFuture(error)
        }
    }

    func subscribe(_ subscriptions: [MQTTSubscription]) -> EventLoopFuture<[MQTTReasonCode]> {
        loop.preconditionInEventLoop()
        guard !stopped else { return loop.makeFailedFuture(Self.stoppedError) }
        do {
            let id = try machine.subscribe(subscriptions, now: .now())
            let promise = loop.makePromise(of: [MQTTReasonCode].self)
            subscribeWaiters[id] = promise
            process()
            return promise.futureResult
        } catch {
            return loop.makeFailedFuture(error)
        }
    }

    func unsubscribe(_ filters: [String]) -> EventLoopFuture<[MQTTReasonCode]> {
        loop.preconditionInEventLoop()
        guard !stopped else { return loop.makeFailedFuture(Self.stoppedError) }
        do {
            let id = try machine.unsubscribe(filters, now: .now())
            let promise = loop.makePromise(of: [MQTTReasonCode].self)
            unsubscribeWaiters[id] = promise
            process()
            return promise.futureResult
        } catch {
            return loop.makeFailedFuture(error)
        }
    }

    /// Sends DISCONNECT, closes, ends the streams; completes when the connection has closed.
    func stop() -> EventLoopFuture<Void> {
        loop.preconditionInEventLoop()
        let current = channel
        machine.disconnect(now: .now())
        process()
        if !stopped {
            stopped = true
            timer?.cancel()
            timer = nil
            messages.finish()
            events.finish()
        }
        return current?.closeFuture ?? loop.makeSucceededVoidFuture()
    }

    /// Closes the current connection without DISCONNECT, as a crash or network loss would (the
    /// broker then publishes the will); the client reconnects as usual.
    func dropConnection() -> EventLoopFuture<Void> {
        loop.preconditionInEventLoop()
        guard let channel else { return loop.makeSucceededVoidFuture() }
        channel.close(promise: nil)
        return channel.closeFuture
    }

    var state: MQTTClientState {
        loop.preconditionInEventLoop()
        return machine.state
    }

    // MARK: Connection events (on the loop, from the handlers)

    func opened(channel: any Channel, generation: UInt64) {
        loop.preconditionInEventLoop()
        guard generation == self.generation else { return }
        self.channel = channel
        inbound.clear()
        machine.connectionOpened(now: .now())
        process()
    }

    func received(_ buffer: ByteBuffer, generation: UInt64) {
        loop.preconditionInEventLoop()
        guard generation == self.generation else { return }
        if inbound.readableBytes == 0 {
            inbound = buffer
        } else {
            var buffer = buffer
            inbound.writeBuffer(&buffer)
        }
        machine.receive(&inbound, now: .now())
        if inbound.readableBytes == 0 { inbound.clear() }
        process()
    }

    func closed(generation: UInt64, error: MQTTClientError?) {
        loop.preconditionInEventLoop()
        guard generation == self.generation else { return }
        self.generation &+= 1
        channel = nil
        inbound.clear()
        machine.connectionClosed(now: .now(), error: error)
        process()
    }

    /// A transport error as the client reports it.
    static func describe(_ error: any Error) -> MQTTClientError {
        if let error = error as? MQTTClientError { return error }
        return MQTTClientError(.transportFailed, detail: "\(error)")
    }

    private static let stoppedError = MQTTClientError(.notConnected, detail: "disconnect() was called")

    // MARK: Outputs

    /// Performs every pending output, flushes, and re-arms the timer.
    private func process() {
        var lastWrite: EventLoopFuture<Void>?
        while let output = machine.pollOutput() {
            switch output {
            case .openConnection:
                openConnection()
            case .send(let bytes):
                guard let channel else { continue }
                let promise = loop.makePromise(of: Void.self)
                channel.write(bytes, promise: promise)
                lastWrite = promise.futureResult
            case .closeConnection:
                generation &+= 1
                inbound.clear()
                guard let channel else { continue }
                self.channel = nil
                channel.flush()
                // Close once what the machine sent last (DISCONNECT) is written.
                (lastWrite ?? loop.makeSucceededVoidFuture()).whenComplete { _ in channel.close(promise: nil) }
                lastWrite = nil
            case .event(let event):
                deliver(event)
            }
        }
        if lastWrite != nil { channel?.flush() }
        armTimer()
    }

    private func deliver(_ event: MQTTClientEvent) {
        switch event {
        case .message(let publish):
            messages.yield(publish)
        case .connected(let sessionPresent):
            connectWaiter?.succeed()
            connectWaiter = nil
            events.yield(.connected(sessionPresent: sessionPresent))
        case .disconnected(let reason, let reconnectAt):
            if reconnectAt == nil, let waiter = connectWaiter {
                connectWaiter = nil
                waiter.fail(reason)
            }
            events.yield(.disconnected(reason: reason, reconnecting: reconnectAt != nil))
        case .published(let id, let reasonCode):
            guard let waiter = publishWaiters.removeValue(forKey: id) else { return }
            if reasonCode.isFailure {
                waiter.fail(MQTTClientError(.rejected, reasonCode: reasonCode, detail: "PUBACK refused the message"))
            } else {
                waiter.succeed()
            }
        case .subscribed(let id, let reasonCodes):
            subscribeWaiters.removeValue(forKey: id)?.succeed(reasonCodes)
        case .unsubscribed(let id, let reasonCodes):
            unsubscribeWaiters.removeValue(forKey: id)?.succeed(reasonCodes)
        case .resubscribed(let subscriptions, let reasonCodes):
            events.yield(.resubscribed(subscriptions: subscriptions, reasonCodes: reasonCodes))
        case .requestFailed(let id, let error):
            publishWaiters.removeValue(forKey: id)?.fail(error)
            subscribeWaiters.removeValue(forKey: id)?.fail(error)
            unsubscribeWaiters.removeValue(forKey: id)?.fail(error)
        }
    }

    private func armTimer() {
        guard let deadline = machine.nextTimeout() else {
            timer?.cancel()
            timer = nil
            timerDeadline = nil
            return
        }
        // A timer that fires no later than needed stays: keep-alive deadlines move with every
        // packet, and firing early only makes the machine re-arm it.
        if let current = timerDeadline, current <= deadline, timer != nil { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = loop.scheduleTask(deadline: deadline) { [self] in
            timer = nil
            timerDeadline = nil
            machine.handleTimeout(now: .now())
            process()
        }
    }

    // MARK: Opening connections

    private func openConnection() {
        generation &+= 1
        let generation = self.generation
        inbound.clear()
        let url = configuration.url
        ClientBootstrap(group: loop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try configurePipeline(channel, generation: generation)
                }
            }
            .connect(host: url.host, port: url.port)
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    if generation != self.generation { channel.close(promise: nil) }
                case .failure(let error):
                    closed(generation: generation, error: Self.describe(error))
                }
            }
    }

    private func configurePipeline(_ channel: any Channel, generation: UInt64) throws {
        let pipeline = channel.pipeline.syncOperations
        let url = configuration.url
        if url.usesTLS {
            let context = try tlsContext ?? configuration.tls.makeContext()
            tlsContext = context
            let serverName = configuration.tls.serverName ?? (url.hostIsIPAddress ? nil : url.host)
            try pipeline.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
        }
        switch url.transport {
        case .tcp:
            try pipeline.addHandler(MQTTClientByteStreamHandler(connection: self, generation: generation))
        case .webSocket:
            let requestHandlerName = "mqtt-websocket-request"
            let upgrader = NIOWebSocketClientUpgrader(
                maxFrameSize: min(configuration.maximumPacketSize, Int(UInt32.max)),
                upgradePipelineHandler: { [self] channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(MQTTWebSocketStreamHandler())
                        try channel.pipeline.syncOperations.addHandler(
                            MQTTClientByteStreamHandler(connection: self, generation: generation))
                    }
                })
            try pipeline.addHTTPClientHandlers(
                leftOverBytesStrategy: .forwardBytes,
                withClientUpgrade: (
                    upgraders: [upgrader],
                    completionHandler: { context in
                        context.pipeline.syncOperations.removeHandler(name: requestHandlerName, promise: nil)
                    }
                ))
            try pipeline.addHandler(
                MQTTWebSocketUpgradeRequestHandler(connection: self, generation: generation, url: url), name: requestHandlerName)
        }
    }
}
