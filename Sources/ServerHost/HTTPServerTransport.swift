import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
public import Logging
import NIOCore
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
    /// The largest WebSocket frame accepted; an MQTT packet may span several.
    public static let maxWebSocketFrameSize = 1 << 20

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
            http1: http1, ws: .init(maxFrameSize: maxWebSocketFrameSize, autoPing: .disabled))
        let upgrade = HTTPServerBuilder.http1WebSocketUpgrade(configuration: configuration) { request, _, logger in
            let path = request.path?.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first
            guard path == "/mqtt" else { return .dontUpgrade }
            // MQTT 5.0 §6 / 3.1.1 §6: the client must offer, and the server must answer, "mqtt".
            guard MQTTWebSocketTransport.offersMQTT(request.headerFields[values: .secWebSocketProtocol]) else {
                logger.info("WebSocket upgrade at /mqtt without subprotocol mqtt refused")
                return .dontUpgrade
            }
            return .upgrade([.secWebSocketProtocol: MQTTWebSocketTransport.subprotocol]) { inbound, outbound, context in
                try await MQTTWebSocketTransport.serve(inbound: inbound, outbound: outbound, runtime: runtime, logger: context.logger)
            }
        }
        var server = upgrade
        if let tls { server = try .tls(upgrade, tlsConfiguration: tls.serverConfiguration) }
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
