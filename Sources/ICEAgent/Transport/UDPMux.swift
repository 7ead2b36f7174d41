public import NIOCore
import NIOPosix
public import STUNCore

/// The single UDP port every session shares when `WEBRTC_PORT` is set (seed-peer-to-peer.md
/// "Port Forwarding"): one socket per address family, bound to the wildcard address, with a
/// ``UDPMuxRouter`` deciding which session each datagram belongs to.
///
/// All sessions that use a mux run on its event loop.
public final class UDPMux: @unchecked Sendable {
    public let eventLoop: any EventLoop
    /// The shared port.
    public let port: UInt16
    /// The families a socket is open for (IPv6 is skipped when the system has none).
    public let families: [AddressFamily]

    // Event-loop state.
    var router = UDPMuxRouter()
    private var sessions: [UDPMuxRouter.SessionID: (transport: IceTransport, bases: [AddressFamily: IceBaseID])] = [:]
    private var nextSession = 0
    private let channels: [AddressFamily: any NIOCore.Channel]

    private init(eventLoop: any EventLoop, port: UInt16, channels: [AddressFamily: any NIOCore.Channel]) {
        self.eventLoop = eventLoop
        self.port = port
        self.channels = channels
        self.families = [AddressFamily.ipv4, .ipv6].filter { channels[$0] != nil }
    }

    /// Binds `port` on 0.0.0.0 and, when possible, on `::` (IPv6 only, so both families share
    /// the number).
    /// - Throws: when the IPv4 port cannot be bound (taken, or not permitted).
    public static func bind(port: UInt16, ipv6: Bool = true, eventLoop: (any EventLoop)? = nil) async throws -> UDPMux {
        let loop = eventLoop ?? MultiThreadedEventLoopGroup.singleton.next()
        let handler = MuxInboundHandler.Box()
        func open(_ host: String, v6only: Bool) async throws -> any NIOCore.Channel {
            var bootstrap = DatagramBootstrap(group: loop)
                .channelOption(.datagramVectorReadMessageCount, value: 16)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2048 * 16))
                // Every session's media shares this socket: a larger buffer rides out bursts
                // (the kernel caps it at net.core.rmem_max).
                .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
                .channelOption(.socketOption(.so_sndbuf), value: 4 << 20)
            if v6only { bootstrap = bootstrap.channelOption(.ipOption(.ipv6_v6only), value: 1) }
            return try await bootstrap
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(MuxInboundHandler(box: handler))
                    }
                }
                .bind(host: host, port: Int(port)).get()
        }
        var channels: [AddressFamily: any NIOCore.Channel] = [:]
        channels[.ipv4] = try await open("0.0.0.0", v6only: false)
        let boundPort = UInt16(channels[.ipv4]!.localAddress?.port ?? Int(port))
        if ipv6, let v6 = try? await open("::", v6only: true) { channels[.ipv6] = v6 }
        let mux = UDPMux(eventLoop: loop, port: boundPort, channels: channels)
        try await loop.submit { handler.mux = mux }.get()
        return mux
    }

    /// The router's counters (routed, dropped by reason).
    public var statistics: UDPMuxRouter.Statistics {
        get async { (try? await eventLoop.submit { self.router.statistics }.get()) ?? .init() }
    }

    /// How many sessions share the port.
    public var sessionCount: Int {
        get async { (try? await eventLoop.submit { self.sessions.count }.get()) ?? 0 }
    }

    /// Closes the sockets.
    public func close() async {
        for channel in channels.values { try? await channel.close() }
    }

    // MARK: Event-loop internals

    func register(_ transport: IceTransport, bases: [AddressFamily: IceBaseID]) throws -> UDPMuxRouter.SessionID {
        let session = UDPMuxRouter.SessionID(nextSession)
        nextSession += 1
        guard router.register(ufrag: transport.agent.localCredentials.usernameFragment, for: session) else {
            throw UDPMuxError.ufragInUse
        }
        sessions[session] = (transport, bases)
        return session
    }

    func unregister(_ session: UDPMuxRouter.SessionID) {
        router.unregister(session)
        sessions.removeValue(forKey: session)
    }

    func send(_ buffer: ByteBuffer, to destination: TransportAddress) {
        guard let channel = channels[destination.ip.family], let address = try? SocketAddress(destination) else { return }
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
    }

    fileprivate func receive(_ buffer: ByteBuffer, from source: TransportAddress) {
        guard case .session(let id) = router.route(buffer.readableBytesView, from: source),
            let session = sessions[id], let base = session.bases[source.ip.family]
        else { return }
        session.transport.receive(buffer, from: source, on: base)
    }
}

/// Why a session could not join a mux.
public enum UDPMuxError: Error, Hashable, Sendable {
    /// Another session on the port already uses this ufrag.
    case ufragInUse
}

private final class MuxInboundHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    /// Set once the mux exists (the channels are opened first).
    final class Box: @unchecked Sendable { var mux: UDPMux? }

    private let box: Box
    init(box: Box) { self.box = box }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let mux = box.mux, let source = TransportAddress(envelope.remoteAddress) else { return }
        mux.receive(envelope.data, from: source)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
