import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
public import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
public import ServiceLifecycle
public import SignalingMQTT

/// Builds the HTTP and HTTPS listeners: Hummingbird 2 with a WebSocket upgrade at `/mqtt`
/// into the embedded broker, every other request answered by ``PodArcadeHTTPResponder``.
public enum HTTPServerTransport {
    /// Request headers above these limits are refused (RFC 9110 §15.5.32 / RFC 6585 §5: the
    /// connection gets a 431 or is closed) before any route runs.
    public static let maxHeaderListSize = 16 * 1024
    public static let maxHeaderFieldCount = 100
    /// The largest WebSocket frame accepted: browsers send a message as one frame, so one
    /// frame must hold the largest MQTT packet the broker accepts (1 MiB, plus its fixed header).
    /// An MQTT packet may also span several frames.
    public static let maxWebSocketFrameSize = MQTTBrokerConfiguration().maximumPacketSize + 16

    /// One listener.
    /// - Parameters:
    ///   - host: address to bind (`::` for every address).
    ///   - port: TCP port; 0 picks a free one.
    ///   - tls: certificate and key for HTTPS, nil for plain HTTP.
    ///   - responder: the routes.
    ///   - runtime: the broker `/mqtt` feeds.
    ///   - onBound: called with the bound port once listening.
    /// - Returns: a service that runs until graceful shutdown.
    public static func listener(
        host: String = "::", port: Int, tls: TLSMaterial?, responder: PodArcadeHTTPResponder,
        runtime: MQTTBrokerRuntime<PodArcadeBrokerPolicy>, logger: Logger,
        onBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) throws -> any Service {
        let scheme = tls == nil ? "http" : "https"
        let http1 = HTTP1Channel.Configuration(
            idleTimeout: .seconds(120),
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: maxHeaderListSize, maxHeaderListSize: maxHeaderListSize,
                maxHeaderFieldCount: maxHeaderFieldCount))
        let configuration = HTTP1WebSocketUpgradeChannel.Configuration(
            http1: http1,
            // MQTT keep-alive already detects dead peers, so no WebSocket pings; a peer that does not
            // answer our close frame holds a shutdown up for at most 3 s.
            ws: .init(maxFrameSize: maxWebSocketFrameSize, autoPing: .disabled, closeTimeout: .seconds(3)))
        let shouldUpgrade: @Sendable (HTTPRequest, any Channel, Logger) throws -> ShouldUpgradeResult<
            WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>
        > = { request, _, logger in
            let path = request.path?.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first
            guard path == "/mqtt" else { return .dontUpgrade }
            // MQTT 5.0 §6 / 3.1.1 §6: the client must offer, and the server must answer, "mqtt".
            guard MQTTWebSocketTransport.offersMQTT(request.headerFields[values: .secWebSocketProtocol]) else {
                // Answered 400 by Hummingbird's failed-upgrade path, so counted here.
                HTTPMetrics.refused("websocket_without_mqtt")
                logger.info("WebSocket upgrade at /mqtt without subprotocol mqtt refused")
                return .dontUpgrade
            }
            return .upgrade([.secWebSocketProtocol: MQTTWebSocketTransport.subprotocol]) { inbound, outbound, context in
                try await MQTTWebSocketTransport.serve(inbound: inbound, outbound: outbound, runtime: runtime, logger: context.logger)
            }
        }
        let server = HTTPServerBuilder { responder in
            let http = HeaderLimitedChannel(
                base: HTTP1WebSocketUpgradeChannel(responder: responder, configuration: configuration, shouldUpgrade: shouldUpgrade))
            guard let tls else { return http }
            return try TLSChannel(http, tlsConfiguration: tls.serverConfiguration)
        }
        return Application(
            responder: responder, server: server,
            configuration: .init(address: .hostname(host, port: port), serverName: "pod-arcade-server"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                logger.info("\(scheme.uppercased()) server listening", metadata: ["address": "\(scheme)://[\(host)]:\(bound)"])
                onBound(bound)
            },
            logger: logger)
    }
}

/// Wraps the HTTP/WebSocket child channel so that a request the HTTP decoder refuses (headers
/// over the limits, or not HTTP/1.1 at all) gets an answer and a closed connection instead of
/// a connection left waiting: the upgrade pipeline has no error handler of its own before the
/// WebSocket negotiation ends.
struct HeaderLimitedChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            try channel.pipeline.syncOperations.addHandler(HTTPDecoderErrorHandler())
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Answers a request the HTTP decoder refused: 431 for headers over the limits (RFC 6585 §5),
/// 400 for anything else it cannot parse, then closes. Sits behind the decoder and the upgrade
/// handler, so what it writes goes through the response encoder.
final class HTTPDecoderErrorHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = HTTPServerResponsePart
    private var answered = false

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        guard !answered else { return }
        answered = true
        let status: HTTPResponseStatus = parserError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
        HTTPMetrics.refused(parserError == .headerOverflow ? "header_too_large" : "malformed_http")
        var headers = HTTPHeaders()
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Content-Length", value: "0")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
