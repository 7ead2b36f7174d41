import NIOCore
import NIOHTTP1
import NIOSSL
import NIOWebSocket

/// The end of a client connection's pipeline: the MQTT byte stream in and out, and the
/// connection's life, reported to the ``MQTTClientConnection`` that owns it.
///
/// Runs on the connection's event loop, which is the client's loop.
final class MQTTClientByteStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let connection: MQTTClientConnection
    private let generation: UInt64
    private var reportedOpen = false
    private var error: (any Error)?

    init(connection: MQTTClientConnection, generation: UInt64) {
        self.connection = connection
        self.generation = generation
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // Added after a WebSocket upgrade the channel is already active.
        if context.channel.isActive { reportOpen(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        reportOpen(context)
        context.fireChannelActive()
    }

    private func reportOpen(_ context: ChannelHandlerContext) {
        guard !reportedOpen else { return }
        reportedOpen = true
        connection.opened(channel: context.channel, generation: generation)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.received(unwrapInboundIn(data), generation: generation)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.closed(generation: generation, error: error.map(MQTTClientConnection.describe))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.error == nil { self.error = error }
        context.close(promise: nil)
    }
}

/// Sends the WebSocket upgrade request (RFC 6455 §4.1) with subprotocol `mqtt` (MQTT 5.0 §6)
/// and reports a refused upgrade. ``NIOHTTPClientUpgradeHandler`` removes it when the upgrade
/// succeeds.
final class MQTTWebSocketUpgradeRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let connection: MQTTClientConnection
    private let generation: UInt64
    private let url: MQTTClientURL
    private var error: MQTTClientError?

    init(connection: MQTTClientConnection, generation: UInt64, url: MQTTClientURL) {
        self.connection = connection
        self.generation = generation
        self.url = url
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: url.hostHeader)
        headers.add(name: "Sec-WebSocket-Protocol", value: "mqtt")
        headers.add(name: "Content-Length", value: "0")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: url.path, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Only reached when the server did not switch protocols.
        if case .head(let response) = unwrapInboundIn(data), error == nil {
            error = MQTTClientError(
                .webSocketUpgradeFailed, detail: "GET \(url.path) answered \(response.status.code) \(response.status.reasonPhrase)")
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let reason = error ?? MQTTClientError(.webSocketUpgradeFailed, detail: "the connection closed during the WebSocket upgrade")
        connection.closed(generation: generation, error: reason)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.error == nil {
            if error is NIOSSLError || error is NIOSSLExtraError {
                // The TLS handshake of wss:// (certificate, protocol): a transport failure.
                self.error = MQTTClientConnection.describe(error)
            } else {
                // Connected, but no WebSocket: a refused upgrade, or a peer that is not an HTTP
                // server (an MQTT listener resets the connection on "GET").
                self.error = MQTTClientError(.webSocketUpgradeFailed, detail: "\(error)")
            }
        }
        context.close(promise: nil)
    }
}

/// Carries the MQTT byte stream in binary WebSocket frames (MQTT 5.0 §6): any data frame's
/// payload is stream bytes, wherever packets start or end; each write becomes one masked binary
/// frame (RFC 6455 §5.3); pings are answered; a close is echoed and ends the connection.
final class MQTTWebSocketStreamHandler: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    private var sentClose = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .continuation:
            context.fireChannelRead(wrapInboundOut(frame.unmaskedData))
        case .ping:
            send(.pong, frame.unmaskedData, context: context, flush: true)
        case .pong:
            break
        case .connectionClose:
            // RFC 6455 §5.5.1: answer with a close frame, echoing the status code, then close.
            var data = frame.unmaskedData
            let status = data.readSlice(length: min(2, data.readableBytes)) ?? ByteBuffer()
            sendClose(status, context: context)
            context.close(promise: nil)
        default:
            // Text frames are not MQTT (MQTT 5.0 §6: "MUST close the Network Connection").
            var status = ByteBuffer()
            status.write(webSocketErrorCode: .unacceptableData)
            sendClose(status, context: context)
            context.close(promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: unwrapOutboundIn(data))
        context.write(wrapOutboundOut(frame), promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all, context.channel.isActive {
            var status = ByteBuffer()
            status.write(webSocketErrorCode: .normalClosure)
            sendClose(status, context: context)
        }
        context.close(mode: mode, promise: promise)
    }

    private func sendClose(_ status: ByteBuffer, context: ChannelHandlerContext) {
        guard !sentClose else { return }
        sentClose = true
        send(.connectionClose, status, context: context, flush: true)
    }

    private func send(_ opcode: WebSocketOpcode, _ data: ByteBuffer, context: ChannelHandlerContext, flush: Bool) {
        let frame = WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: data)
        context.write(wrapOutboundOut(frame), promise: nil)
        if flush { context.flush() }
    }
}
