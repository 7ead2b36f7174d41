import NIOCore
import STUNCore

/// Hands each datagram of a host socket to its ``IceTransport`` (on the channel's event loop).
final class DatagramInboundHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let transport: IceTransport
    /// Set once the socket is registered as a base.
    var base: IceBaseID?

    init(transport: IceTransport) { self.transport = transport }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let base, let source = TransportAddress(envelope.remoteAddress) else { return }
        transport.receive(envelope.data, from: source, on: base)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP errors (ECONNREFUSED from a closed peer port) surface here on Linux; a datagram
        // socket carries on.
    }
}
