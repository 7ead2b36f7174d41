import NIOCore
import STUNCore

/// Hands datagrams from the TURN server's address to the core; others are ignored (only the
/// server talks to this socket, RFC 8656 §3).
final class TurnDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let core: TurnConnectionCore

    init(core: TurnConnectionCore) { self.core = core }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard TransportAddress(turnSocketAddress: envelope.remoteAddress) == TransportAddress(turnSocketAddress: core.server)
        else { return }
        core.received(Array(envelope.data.readableBytesView))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // UDP errors (e.g. ICMP unreachable reported on a later read) are not fatal: the
        // transactions time out if the server is really gone.
    }
}

/// Hands frames cut by `StunStreamFramer` to the core and reports the end of the connection.
final class TurnStreamHandler: ChannelInboundHandler {
    typealias InboundIn = StunStreamFrame

    private let core: TurnConnectionCore

    init(core: TurnConnectionCore) { self.core = core }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        core.received(frame: unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        core.connectionClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A stream that is not STUN/ChannelData (the framer throws) or a TLS failure cannot be
        // resynchronised: close, which ends the allocation (RFC 8656 §3.1).
        core.streamFailed(error)
        context.close(promise: nil)
    }
}

extension TransportAddress {
    /// The transport address of an IP socket address (IPv4-mapped IPv6 becomes IPv4); nil for Unix sockets.
    init?(turnSocketAddress address: SocketAddress) {
        switch address {
        case .v4(let v4):
            self.init(ip: .v4(UInt32(bigEndian: v4.address.sin_addr.s_addr)), port: UInt16(bigEndian: v4.address.sin_port))
        case .v6(let v6):
            var storage = v6.address.sin6_addr
            guard let ip = IPAddress(bytes: withUnsafeBytes(of: &storage) { Array($0) }) else { return nil }
            self.init(ip: ip.unmappedIPv4 ?? ip, port: UInt16(bigEndian: v6.address.sin6_port))
        case .unixDomainSocket:
            return nil
        }
    }
}
