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
        guard TransportAddress(envelope.remoteAddress) == TransportAddress(core.server)
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
