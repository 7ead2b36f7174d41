import Logging
import NIOCore
import NIOPosix
import NIOSSL
import STUNCore

/// Runs one ``TurnClient`` on one event loop: owns its socket or connection and its timer,
/// feeds it bytes and time and performs its outputs.
final class TurnConnectionCore: @unchecked Sendable {
    // @unchecked: every mutable field is touched only on `loop` (asserted with preconditionInEventLoop).

    let loop: any EventLoop
    let server: SocketAddress
    private let configuration: TurnConnection.Configuration
    private var machine: TurnClient
    private var channel: (any Channel)?
    private(set) var localAddress: TransportAddress?
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var finished = false
    /// Set when the connecting task was cancelled before the allocation succeeded.
    private var cancelled = false
    /// The first error the stream reported, named when the connection's end fails the allocation.
    private var streamError: String?

    private var allocationWaiter: EventLoopPromise<(relayed: TransportAddress, mapped: TransportAddress?)>?
    private var permissionWaiters: [IPAddress: [EventLoopPromise<Void>]] = [:]
    private var channelWaiters: [TransportAddress: [EventLoopPromise<UInt16>]] = [:]
    private var closeWaiters: [EventLoopPromise<Void>] = []
    private let events: AsyncStream<TurnEvent>.Continuation

    init(configuration: TurnConnection.Configuration, server: SocketAddress, loop: any EventLoop,
         events: AsyncStream<TurnEvent>.Continuation) {
        var clientConfiguration = configuration.client
        clientConfiguration.mode = configuration.server.transport == .udp && !configuration.server.scheme.isSecure ? .datagram : .stream
        self.configuration = configuration
        self.server = server
        self.loop = loop
        self.events = events
        self.machine = TurnClient(configuration: clientConfiguration)
    }

    var statistics: TurnStatistics { machine.statistics }

    /// Runs `body` on the loop, at once when already there.
    func onLoop(_ body: @escaping @Sendable (TurnConnectionCore) -> Void) {
        if loop.inEventLoop {
            body(self)
        } else {
            loop.execute { body(self) }
        }
    }

    // MARK: Opening

    /// Opens the socket or connection, then allocates. Fails with the socket's error or a ``TurnError``.
    func open() -> EventLoopFuture<(relayed: TransportAddress, mapped: TransportAddress?)> {
        loop.preconditionInEventLoop()
        let promise = loop.makePromise(of: (relayed: TransportAddress, mapped: TransportAddress?).self)
        if cancelled {
            promise.fail(CancellationError())
            return promise.futureResult
        }
        let opened: EventLoopFuture<any Channel>
        switch machine.configuration.mode {
        case .datagram:
            let anyAddress = server.protocol == .inet6 ? "::" : "0.0.0.0"
            opened = DatagramBootstrap(group: loop)
                .channelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(TurnDatagramHandler(core: self))
                    }
                }
                .bind(host: anyAddress, port: 0)
        case .stream:
            let tlsContext: NIOSSLContext?
            do {
                tlsContext = configuration.server.scheme.isSecure ? try NIOSSLContext(configuration: configuration.tls) : nil
            } catch {
                promise.fail(error)
                return promise.futureResult
            }
            let serverName: String? = {
                if let name = configuration.tlsServerName { return name }
                if case .name(let name) = configuration.server.host { return name }
                return nil
            }()
            opened = ClientBootstrap(group: loop)
                .connectTimeout(configuration.connectTimeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        if let tlsContext {
                            try pipeline.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                        }
                        try pipeline.addHandler(ByteToMessageHandler(StunStreamFramer()))
                        try pipeline.addHandler(TurnStreamHandler(core: self))
                    }
                }
                .connect(to: server)
        }
        opened.whenComplete { [self] result in
            switch result {
            case .success(let channel):
                if cancelled {
                    channel.close(promise: nil)
                    promise.fail(CancellationError())
                    return
                }
                self.channel = channel
                localAddress = channel.localAddress.flatMap { TransportAddress($0) }
                allocationWaiter = promise
                machine.allocate(now: .now())
                process()
            case .failure(let error):
                configuration.logger.debug("TURN connection to \(server) failed: \(error)")
                promise.fail(error)
            }
        }
        return promise.futureResult
    }

    /// The connecting task was cancelled: give up the attempt (a no-op once allocated).
    func cancelOpen() {
        loop.preconditionInEventLoop()
        guard allocationWaiter != nil || channel == nil else { return }
        cancelled = true
        if allocationWaiter != nil {
            machine.close(now: .now())
            process()
        }
    }

    // MARK: Requests (on the loop)

    func send(_ bytes: [UInt8], to peer: TransportAddress) {
        loop.preconditionInEventLoop()
        do {
            try machine.send(to: peer, bytes: bytes, now: .now())
        } catch {
            configuration.logger.trace("TURN send to \(peer) dropped: \(error)")
        }
        process()
    }

    func createPermission(for peer: TransportAddress) -> EventLoopFuture<Void> {
        loop.preconditionInEventLoop()
        let now = NIODeadline.now()
        if machine.hasPermission(for: peer.ip, now: now) { return loop.makeSucceededVoidFuture() }
        do {
            try machine.createPermission(for: peer, now: now)
        } catch {
            return loop.makeFailedFuture(error)
        }
        let promise = loop.makePromise(of: Void.self)
        permissionWaiters[peer.ip, default: []].append(promise)
        process()
        return promise.futureResult
    }

    func bindChannel(to peer: TransportAddress) -> EventLoopFuture<UInt16> {
        loop.preconditionInEventLoop()
        let now = NIODeadline.now()
        if let number = machine.boundChannel(to: peer, now: now) { return loop.makeSucceededFuture(number) }
        do {
            try machine.bindChannel(to: peer, now: now)
        } catch {
            return loop.makeFailedFuture(error)
        }
        let promise = loop.makePromise(of: UInt16.self)
        channelWaiters[peer, default: []].append(promise)
        process()
        return promise.futureResult
    }

    func close() -> EventLoopFuture<Void> {
        loop.preconditionInEventLoop()
        if finished { return loop.makeSucceededVoidFuture() }
        let promise = loop.makePromise(of: Void.self)
        closeWaiters.append(promise)
        machine.close(now: .now())
        process()
        return promise.futureResult
    }

    // MARK: Input from the channel handlers (on the loop)

    func received(_ bytes: [UInt8]) {
        machine.handleReceive(bytes, now: .now())
        process()
    }

    func received(frame: StunStreamFrame) {
        machine.handleReceive(frame: frame, now: .now())
        process()
    }

    func connectionClosed() {
        machine.handleConnectionClosed(now: .now(), reason: streamError)
        process()
    }

    /// The stream failed (TLS, or bytes that are neither STUN nor ChannelData); the handler closes it.
    func streamFailed(_ error: any Error) {
        if streamError == nil { streamError = "\(error)" }
        configuration.logger.debug("TURN connection to \(server) failed: \(error)")
    }

    // MARK: Performing outputs

    private func process() {
        if let channel {
            var wrote = false
            while let bytes = machine.pollTransmit() {
                let buffer = channel.allocator.buffer(bytes: bytes)
                switch machine.configuration.mode {
                case .datagram:
                    channel.write(AddressedEnvelope(remoteAddress: server, data: buffer), promise: nil)
                case .stream:
                    channel.write(buffer, promise: nil)
                }
                wrote = true
            }
            if wrote { channel.flush() }
        }
        while let event = machine.pollEvent() { dispatch(event) }
        armTimer()
    }

    private func dispatch(_ event: TurnEvent) {
        switch event {
        case .allocated(let relayed, let mapped, _):
            allocationWaiter?.succeed((relayed, mapped))
            allocationWaiter = nil
        case .permissionCreated(let ip):
            for waiter in permissionWaiters.removeValue(forKey: ip) ?? [] { waiter.succeed() }
        case .permissionFailed(let ip, let error):
            for waiter in permissionWaiters.removeValue(forKey: ip) ?? [] { waiter.fail(error) }
        case .channelBound(let peer, let number):
            for waiter in channelWaiters.removeValue(forKey: peer) ?? [] { waiter.succeed(number) }
        case .channelBindFailed(let peer, let error):
            for waiter in channelWaiters.removeValue(forKey: peer) ?? [] { waiter.fail(error) }
        case .failed(let error):
            configuration.logger.debug("TURN allocation on \(server) failed: \(error)")
            finish(error: error)
        case .closed:
            finish(error: TurnError(.closed, detail: "the connection was closed"))
        case .data(let peer, let bytes):
            if let onData = configuration.onData {
                onData(peer, bytes)
                return
            }
        case .refreshed:
            break
        }
        events.yield(event)
        if case .failed = event { events.finish() }
        if case .closed = event { events.finish() }
    }

    /// Fails every waiter, closes the socket and stops the timer.
    private func finish(error: TurnError) {
        guard !finished else { return }
        finished = true
        allocationWaiter?.fail(cancelled ? CancellationError() : error)
        allocationWaiter = nil
        for waiter in permissionWaiters.values.joined() { waiter.fail(error) }
        permissionWaiters.removeAll()
        for waiter in channelWaiters.values.joined() { waiter.fail(error) }
        channelWaiters.removeAll()
        for waiter in closeWaiters { waiter.succeed() }
        closeWaiters.removeAll()
        timer?.cancel()
        timer = nil
        channel?.close(promise: nil)
    }

    private func armTimer() {
        guard !finished, let deadline = machine.nextTimeout() else {
            timer?.cancel()
            timer = nil
            timerDeadline = nil
            return
        }
        if let current = timerDeadline, current == deadline, timer != nil { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = loop.scheduleTask(deadline: deadline) { [self] in
            timer = nil
            timerDeadline = nil
            machine.handleTimeout(now: .now())
            process()
        }
    }
}
