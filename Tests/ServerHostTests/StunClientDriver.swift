import NIOCore
import NIOPosix
import STUNCore

/// Test-side UDP driver for the sans-IO ``StunClientTransaction``: sends, retransmits on the
/// transaction's schedule and completes with the response. Runs on one event loop.
final class StunTransactionHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private var transaction: StunClientTransaction
    private let server: SocketAddress
    let promise: EventLoopPromise<(StunMessage, Int)>
    private var timer: Scheduled<Void>?
    private(set) var transmissions = 0

    init(transaction: StunClientTransaction, server: SocketAddress, promise: EventLoopPromise<(StunMessage, Int)>) {
        self.transaction = transaction
        self.server = server
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        drive(context: context)
        context.fireChannelActive()
    }

    private func drive(context: ChannelHandlerContext) {
        transaction.handleTimeout(now: .now())
        if let bytes = transaction.pollTransmit() {
            transmissions += 1
            let envelope = AddressedEnvelope(remoteAddress: server, data: context.channel.allocator.buffer(bytes: bytes))
            context.writeAndFlush(wrapOutboundOut(envelope), promise: nil)
        }
        switch transaction.state {
        case .timedOut, .cancelled:
            promise.fail(StunClientError.timedOut(transmissions: transmissions))
        case .completed(let response):
            promise.succeed((response, transmissions))
        case .pending:
            guard let next = transaction.nextTimeout() else { return }
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleTask(deadline: next) {
                let (handler, context) = loopBound.value
                handler.drive(context: context)
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let message = try? StunMessage(decoding: envelope.data) else { return }
        if transaction.handleResponse(message) {
            timer?.cancel()
            promise.succeed((message, transmissions))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable while the server is not up yet: keep retransmitting.
    }
}

enum StunClientError: Error {
    case timedOut(transmissions: Int)
}

/// Runs one Binding transaction from a fresh socket on `localHost`.
/// - Returns: the response, the local address it was sent from, and how many times it was sent.
func bindingTransaction(
    to server: SocketAddress, from localHost: String, configuration: StunClientTransaction.Configuration = .init(),
    attributes: [StunAttribute] = []
) async throws -> (response: StunMessage, local: SocketAddress, transmissions: Int) {
    let group = MultiThreadedEventLoopGroup.singleton
    let loop = group.next()
    let promise = loop.makePromise(of: (StunMessage, Int).self)
    let request = StunMessage(method: .binding, messageClass: .request, attributes: attributes)
    let transaction = StunClientTransaction(message: request, configuration: configuration, now: .now())
    let channel = try await DatagramBootstrap(group: loop)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    StunTransactionHandler(transaction: transaction, server: server, promise: promise))
            }
        }
        .bind(host: localHost, port: 0).get()
    defer { channel.close(promise: nil) }
    let (response, transmissions) = try await withTaskCancellationHandler {
        try await promise.futureResult.get()
    } onCancel: {
        promise.fail(CancellationError())
    }
    return (response, channel.localAddress!, transmissions)
}
