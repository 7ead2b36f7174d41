public import Logging
#if canImport(Glibc)
import Glibc
#endif
import Metrics
public import NIOCore
public import NIOPosix
public import STUNCore
public import ServiceLifecycle

/// The built-in STUN server (seed-peer-to-peer.md, `STUN_PORT`): answers Binding requests on
/// UDP, IPv4 and IPv6, with the sans-IO ``BindingResponder`` doing the protocol work.
public final class StunServer: Service, Sendable {
    /// Where the server ended up listening, once bound.
    public struct Bound: Sendable {
        public let addresses: [SocketAddress]
        /// The UDP port (the same on both families).
        public let port: Int
    }

    private let port: Int
    private let hosts: [String]
    private let group: any EventLoopGroup
    private let logger: Logger
    private let responderConfiguration: BindingResponder.Configuration
    private let onBound: @Sendable (Bound) -> Void
    private let socketsPerFamily: Int
    private let transport: Transport

    /// How datagrams reach the responder.
    public enum Transport: Sendable, Hashable {
        /// A SwiftNIO datagram channel per socket (vector reads, batched flushes); portable.
        case eventLoop
        /// A thread per socket calling `recvmmsg`/`sendmmsg` directly (Linux); the fastest path.
        case batchedSyscalls

        /// `batchedSyscalls` on Linux, else `eventLoop`.
        public static var platformDefault: Transport {
            #if os(Linux)
            .batchedSyscalls
            #else
            .eventLoop
            #endif
        }
    }

    /// - Parameters:
    ///   - port: UDP port; 0 picks a free one (the same for IPv6 as for IPv4).
    ///   - hosts: addresses to bind; by default all IPv4 and all IPv6 addresses.
    ///   - socketsPerFamily: sockets bound to the same port with SO_REUSEPORT, each on its own
    ///     event loop, so the kernel spreads clients over the cores (default: one per core).
    ///   - transport: how sockets are served; see ``Transport``.
    ///   - onBound: called once the sockets are bound.
    public init(
        port: Int, hosts: [String] = ["0.0.0.0", "::"], group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        socketsPerFamily: Int = System.coreCount, transport: Transport = .platformDefault,
        logger: Logger = Logger(label: "pod-arcade.stun"),
        responder: BindingResponder.Configuration = .init(),
        onBound: @escaping @Sendable (Bound) -> Void = { _ in }
    ) {
        self.port = port
        self.hosts = hosts
        self.group = group
        self.logger = logger
        self.responderConfiguration = responder
        self.onBound = onBound
        self.socketsPerFamily = max(1, socketsPerFamily)
        self.transport = transport
    }

    public func run() async throws {
        let sockets = try await bind()
        var addresses: [SocketAddress] = []
        for address in sockets.map(\.localAddress) where !addresses.contains(address) { addresses.append(address) }
        let boundPort = addresses.first?.port ?? port
        for address in addresses { logger.info("STUN server listening", metadata: ["address": "udp \(address)"]) }
        onBound(Bound(addresses: addresses, port: boundPort))
        try? await gracefulShutdown()
        for socket in sockets { await socket.close() }
        logger.info("STUN server stopped")
    }

    /// One bound socket of either transport.
    private struct BoundSocket: Sendable {
        let localAddress: SocketAddress
        let close: @Sendable () async -> Void
    }

    private func open(host: String, port: Int, ipv6: Bool) async throws -> BoundSocket {
        switch transport {
        case .eventLoop:
            let channel = try await makeBootstrap(ipv6: ipv6).bind(host: host, port: port).get()
            return BoundSocket(localAddress: channel.localAddress!, close: { try? await channel.close() })
        case .batchedSyscalls:
            #if os(Linux)
            let socket = try BatchedStunSocket(host: host, port: port, reusePort: true)
            socket.start(responder: responderConfiguration, logger: logger)
            return BoundSocket(localAddress: socket.localAddress, close: { await socket.close() })
            #else
            preconditionFailure("batchedSyscalls is Linux only")
            #endif
        }
    }

    private static let ipv6Only = ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only)

    private func makeBootstrap(ipv6: Bool) -> DatagramBootstrap {
        var bootstrap = DatagramBootstrap(group: group.next())
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(ChannelOptions.Types.SocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
            // Absorb bursts: the kernel caps this at net.core.rmem_max.
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.datagramVectorReadMessageCount, value: StunDatagramHandler.batch)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: StunDatagramHandler.batch * 2048))
            .channelOption(.maxMessagesPerRead, value: 4)
        if ipv6 {
            // Separate sockets per family, so both can use the same port.
            bootstrap = bootstrap.channelOption(Self.ipv6Only, value: 1)
        }
        let logger = self.logger
        let configuration = responderConfiguration
        return bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    StunDatagramHandler(responder: BindingResponder(configuration: configuration), logger: logger))
            }
        }
    }

    /// Binds every host. A family the machine lacks (IPv6 disabled) is logged and skipped; any
    /// other failure, such as the port being taken, fails start-up.
    private func bind() async throws -> [BoundSocket] {
        var channels: [BoundSocket] = []
        var chosenPort = port
        var lastError: (any Error)?
        for host in hosts {
            let isIPv6 = host.contains(":")
            do {
                // SO_REUSEPORT would let a second server (same user) share the port silently; a
                // plain bind first proves the port is free, and picks it when 0 was asked for.
                var probeBootstrap = DatagramBootstrap(group: group.next())
                if isIPv6 { probeBootstrap = probeBootstrap.channelOption(Self.ipv6Only, value: 1) }
                let probe = try await probeBootstrap.bind(host: host, port: chosenPort).get()
                if chosenPort == 0, let bound = probe.localAddress?.port { chosenPort = bound }
                try await probe.close()
                for _ in 0..<socketsPerFamily {
                    channels.append(try await open(host: host, port: chosenPort, ipv6: isIPv6))
                }
            } catch let error as IOError where [EAFNOSUPPORT, EADDRNOTAVAIL, EPROTONOSUPPORT].contains(error.errnoCode) {
                logger.warning("STUN server skips an address family this machine lacks", metadata: ["address": "\(host)", "error": "\(error)"])
                lastError = error
            } catch {
                for channel in channels { await channel.close() }
                throw StunServerError(host: host, port: chosenPort, underlying: error)
            }
        }
        if channels.isEmpty, let lastError { throw lastError }
        return channels
    }
}

/// The STUN socket could not be bound, e.g. because the port is taken.
public struct StunServerError: Error, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let underlying: any Error

    public var description: String { "STUN_PORT: cannot listen on UDP \(host) port \(port): \(underlying)" }
}

/// Feeds datagrams to a ``BindingResponder`` and writes its answers, flushing once per read
/// batch so replies leave with sendmmsg.
final class StunDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    static let batch = 64

    private var responder: BindingResponder
    private let logger: Logger
    private var pendingFlush = false

    init(responder: BindingResponder, logger: Logger) {
        self.responder = responder
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let source = TransportAddress(envelope.remoteAddress) else { return }
        let bytes = Array(envelope.data.readableBytesView)
        let before = responder.statistics
        switch responder.handle(bytes, from: source) {
        case .respond(let response):
            StunMetrics.countResponse(before: before, after: responder.statistics, from: source, logger: logger)
            let buffer = context.channel.allocator.buffer(bytes: response)
            context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: buffer)), promise: nil)
            pendingFlush = true
        case .drop(let reason):
            StunMetrics.countDrop(reason, from: source, bytes: bytes.count, logger: logger)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if pendingFlush {
            pendingFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    /// ICMP errors (port unreachable from a vanished client) surface here; they never close the socket.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("STUN socket error", metadata: ["error": "\(error)"])
    }
}
