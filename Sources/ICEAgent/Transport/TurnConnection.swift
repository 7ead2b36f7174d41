public import Logging
public import NIOCore
import NIOPosix
public import NIOSSL
public import STUNCore

/// One TURN allocation on a server, over UDP, TCP or TLS: a ``TurnClient`` run by SwiftNIO.
///
/// ```swift
/// let turn = try await TurnConnection.connect(configuration: .init(
///     server: try IceServerURL(parsing: "turn:127.0.0.1:3478?transport=udp"), username: "u", password: "p"))
/// print(turn.relayedAddress, turn.mappedAddress as Any)   // relayed and server-reflexive candidates
/// try await turn.createPermission(for: peer)
/// turn.send([1, 2, 3], to: peer)
/// for await event in turn.events { if case .data(let from, let bytes) = event { … } }
/// await turn.close()
/// ```
///
/// The client's timers run on the channel's event loop; all calls are safe from any thread.
public final class TurnConnection: Sendable {
    /// Where and how to reach the server.
    public struct Configuration: Sendable {
        /// `turn:` (UDP unless `?transport=tcp`) or `turns:` (TLS over TCP).
        public var server: IceServerURL
        /// Credentials, lifetimes and timers for the engine; its ``TurnClient/Configuration/mode``
        /// is set from ``server``'s transport.
        public var client: TurnClient.Configuration
        /// For `turns:`. Tests pass a trust root of their own (`trustRoots = .certificates([...])`)
        /// or `certificateVerification = .none`.
        public var tls: TLSConfiguration
        /// The TLS server name (SNI and certificate check); defaults to the URL's host when it is a name.
        public var tlsServerName: String?
        /// How long a TCP/TLS connect may take.
        public var connectTimeout: TimeAmount
        /// When set, called on the connection's event loop with each datagram a permitted peer
        /// sent, instead of yielding `.data` into ``TurnConnection/events``: the hook for an ICE
        /// agent's receive path, without a hop through a task. It must not block.
        public var onData: (@Sendable (_ peer: TransportAddress, _ bytes: [UInt8]) -> Void)?
        public var logger: Logger

        public init(
            server: IceServerURL, username: String, password: String, tls: TLSConfiguration = .makeClientConfiguration(),
            tlsServerName: String? = nil, connectTimeout: TimeAmount = .seconds(10),
            onData: (@Sendable (_ peer: TransportAddress, _ bytes: [UInt8]) -> Void)? = nil,
            logger: Logger = Logger(label: "pod-arcade.turn")
        ) {
            self.server = server
            self.client = TurnClient.Configuration(username: username, password: password)
            self.tls = tls
            self.tlsServerName = tlsServerName
            self.connectTimeout = connectTimeout
            self.onData = onData
            self.logger = logger
        }
    }

    /// The relayed transport address (a relayed ICE candidate).
    public let relayedAddress: TransportAddress
    /// This host's address as the server saw it (a server-reflexive ICE candidate), if sent.
    public let mappedAddress: TransportAddress?
    /// The local address of the socket that talks to the server.
    public let localAddress: TransportAddress?
    /// Everything the client reports: `.allocated` first, `.data(from:bytes:)` for each datagram
    /// a permitted peer sent (unless ``Configuration/onData`` takes them), permission and channel
    /// results, `.failed` when the allocation is lost, `.closed` after ``close()``. Finishes after
    /// `.failed` or `.closed`. Its buffer is unbounded: keep reading it, or set
    /// ``Configuration/onData`` for the data.
    public let events: AsyncStream<TurnEvent>

    private let core: TurnConnectionCore

    private init(core: TurnConnectionCore, events: AsyncStream<TurnEvent>, relayed: TransportAddress, mapped: TransportAddress?) {
        self.core = core
        self.events = events
        self.relayedAddress = relayed
        self.mappedAddress = mapped
        self.localAddress = core.localAddress
    }

    deinit {
        // Dropped without close(): delete the allocation anyway, so its refreshes stop and the
        // socket closes.
        core.onLoop { _ = $0.close() }
    }

    /// Resolves the server's host (NIO's `getaddrinfo` resolver, on its thread pool), opens the
    /// socket or connection and allocates.
    /// - Parameter group: where the socket runs; `MultiThreadedEventLoopGroup.singleton` when nil.
    /// - Throws: ``TurnError`` when the allocation fails (wrong credentials, no answer, …),
    ///   `CancellationError` when the task is cancelled, or the resolver's, socket's or TLS
    ///   configuration's error.
    public static func connect(
        configuration: Configuration, group: (any EventLoopGroup)? = nil
    ) async throws -> TurnConnection {
        let group = group ?? MultiThreadedEventLoopGroup.singleton
        let server = try await resolve(configuration.server)
        try Task.checkCancellation()
        let (stream, continuation) = AsyncStream<TurnEvent>.makeStream()
        let loop = group.next()
        let core = TurnConnectionCore(configuration: configuration, server: server, loop: loop, events: continuation)
        // Cancelling the task stops the attempt at once: the socket closes and this throws
        // CancellationError (instead of waiting for the Allocate to time out).
        let allocation = try await withTaskCancellationHandler {
            try await loop.flatSubmit { core.open() }.get()
        } onCancel: {
            core.onLoop { $0.cancelOpen() }
        }
        return TurnConnection(core: core, events: stream, relayed: allocation.relayed, mapped: allocation.mapped)
    }

    /// Sends bytes to a peer through the relay (ChannelData on a bound channel, else a Send
    /// indication; a permission is requested first if there is none). Like a datagram, it
    /// may be lost; failures are counted in ``statistics()``.
    public func send(_ bytes: [UInt8], to peer: TransportAddress) {
        core.onLoop { $0.send(bytes, to: peer) }
    }

    /// Installs a permission for the peer's IP (RFC 8656 §9) and keeps it refreshed.
    /// - Throws: ``TurnError`` when the server refuses or there is no allocation.
    public func createPermission(for peer: TransportAddress) async throws {
        try await core.loop.flatSubmit { self.core.createPermission(for: peer) }.get()
    }

    /// Binds a channel to the peer (RFC 8656 §12) and keeps it refreshed; later sends to the
    /// peer use ChannelData.
    /// - Returns: the channel number.
    /// - Throws: ``TurnError`` when the server refuses or there is no allocation.
    @discardableResult
    public func bindChannel(to peer: TransportAddress) async throws -> UInt16 {
        try await core.loop.flatSubmit { self.core.bindChannel(to: peer) }.get()
    }

    /// The engine's counters.
    public func statistics() async throws -> TurnStatistics {
        try await core.loop.submit { self.core.statistics }.get()
    }

    /// Deletes the allocation (Refresh with LIFETIME 0, RFC 8656 §8), closes the socket and
    /// finishes ``events``. Returns when the server answered or the request timed out.
    public func close() async {
        try? await core.loop.flatSubmit { self.core.close() }.get()
    }

    private static func resolve(_ url: IceServerURL) async throws -> SocketAddress {
        switch url.host {
        case .ip(let ip):
            return try SocketAddress(ipAddress: ip.description, port: Int(url.port))
        case .name(let name):
            let port = Int(url.port)
            return try await NIOThreadPool.singleton.runIfActive {
                try SocketAddress.makeAddressResolvingHost(name, port: port)
            }
        }
    }
}
