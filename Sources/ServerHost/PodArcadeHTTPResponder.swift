import HTTPTypes
public import Hummingbird
import NIOCore

/// The server's HTTP routes (the same on HTTP and HTTPS):
///
/// | route | answer |
/// |---|---|
/// | `GET /config.json` | ``ClientConfigDocument`` |
/// | `GET /metrics` | Prometheus text (``MetricsExporter``) |
/// | `GET /healthz` | `ok` |
/// | `GET /mqtt` | WebSocket upgrade with subprotocol `mqtt` (handled before this responder); anything else 400 |
/// | `GET /…` | the web client (``WebRoot``), unknown non-file paths fall back to `index.html` |
public struct PodArcadeHTTPResponder: HTTPResponder {
    public typealias Context = BasicRequestContext

    public let webRoot: WebRoot
    private let configJSON: ByteBuffer
    private let metrics: MetricsExporter?

    public init(webRoot: WebRoot, clientConfig: ClientConfigDocument, metrics: MetricsExporter?) {
        self.webRoot = webRoot
        self.configJSON = ByteBuffer(bytes: clientConfig.json())
        self.metrics = metrics
    }

    public func respond(to request: Request, context: Context) async throws -> Response {
        HTTPMetrics.requests.increment()
        let target = request.head.path ?? "/"
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? target
        guard request.method == .get || request.method == .head else {
            HTTPMetrics.refused("method")
            return Self.text(.methodNotAllowed, "only GET and HEAD are served\n", extra: [.allow: "GET, HEAD"])
        }
        switch path {
        case "/config.json":
            return Self.bytes(.ok, configJSON, contentType: "application/json", cache: "no-store")
        case "/healthz":
            return Self.text(.ok, "ok\n")
        case "/metrics":
            let body = await metrics?.render() ?? []
            return Self.bytes(.ok, ByteBuffer(bytes: body), contentType: "text/plain; version=0.0.4; charset=utf-8", cache: "no-store")
        case "/mqtt":
            // A request that reaches here was not upgraded: no WebSocket handshake, or one that
            // did not offer the `mqtt` subprotocol (MQTT 5.0 §6).
            HTTPMetrics.refused("websocket_without_mqtt")
            return Self.text(.badRequest, "/mqtt needs a WebSocket upgrade with Sec-WebSocket-Protocol: mqtt\n")
        default:
            break
        }
        switch webRoot.resolve(target: target) {
        case .file(let name):
            guard let file = webRoot.files[name] else { return Self.text(.notFound, "not found\n") }
            let cache = name.hasSuffix(".html") ? "no-cache" : "public, max-age=300"
            return Self.bytes(.ok, file.body, contentType: file.contentType, cache: cache)
        case .notFound:
            return Self.text(.notFound, "not found\n")
        case .refused(let reason):
            HTTPMetrics.refused(reason.rawValue)
            context.logger.info("HTTP request refused", metadata: ["target": "\(target)", "reason": "\(reason.rawValue)"])
            return Self.text(.badRequest, "bad request\n")
        }
    }

    static func text(_ status: HTTPResponse.Status, _ text: String, extra: HTTPFields = [:]) -> Response {
        var response = bytes(status, ByteBuffer(string: text), contentType: "text/plain; charset=utf-8", cache: "no-store")
        response.headers.append(contentsOf: extra)
        return response
    }

    static func bytes(_ status: HTTPResponse.Status, _ body: ByteBuffer, contentType: String, cache: String) -> Response {
        let headers: HTTPFields = [
            .contentType: contentType,
            .cacheControl: cache,
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        ]
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }
}
