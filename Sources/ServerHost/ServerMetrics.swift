import Metrics
public import Prometheus
public import SignalingMQTT
import Synchronization

/// `/metrics`: Prometheus text exposition of every swift-metrics counter the server keeps
/// (STUN, MQTT, HTTP) plus the broker's state read at scrape time.
///
/// Counters that come from the broker's running totals (``MQTTBrokerStatistics``) are advanced
/// by the difference since the previous scrape, so they stay monotonic counters.
public final class MetricsExporter: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let runtime: MQTTBrokerRuntime<PodArcadeBrokerPolicy>?
    private let previous = Mutex(MQTTBrokerStatistics())

    /// - Parameters:
    ///   - registry: where the metrics live; the one swift-metrics was bootstrapped with.
    ///   - runtime: the broker whose clients and totals to report, if any.
    public init(registry: PrometheusCollectorRegistry, runtime: MQTTBrokerRuntime<PodArcadeBrokerPolicy>?) {
        self.registry = registry
        self.runtime = runtime
        // Create the scrape-time metrics at once, so that they show 0 before anything happens.
        apply(statistics: MQTTBrokerStatistics(), clients: [:], sessions: 0)
        apply(sessionStatuses: [])
    }

    /// Bootstraps swift-metrics with a Prometheus registry. Call once per process, before any
    /// metric is created.
    public static func bootstrapMetricsSystem() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        StunMetrics.register()
        MQTTBrokerService.registerMetrics()
        _ = HTTPMetrics.requests
        return registry
    }

    /// The exposition text (format 0.0.4).
    public func render() async -> [UInt8] {
        if let runtime {
            let (statistics, clients) = await runtime.snapshot()
            let sessions = await runtime.sessionCount()
            apply(statistics: statistics, clients: clients, sessions: sessions)
            let statuses = await runtime.retainedPayloads(matching: Self.sessionStatusFilter).map { String(buffer: $0.payload) }
            apply(sessionStatuses: statuses)
        }
        return registry.emitToBuffer()
    }

    /// `desktops/+/sessions/+/status` (protocol.md): one retained status per live session; the
    /// broker clears it when the browser that set it goes away.
    static let sessionStatusFilter = try! MQTTTopicFilter("desktops/+/sessions/+/status")
    static let sessionStatuses = ["new", "connecting", "connected", "disconnected", "failed", "closed"]

    /// Sets `pod_arcade_sessions{status}` from the retained session statuses; unknown values are
    /// not counted.
    func apply(sessionStatuses statuses: [String]) {
        for status in Self.sessionStatuses {
            registry.makeGauge(
                descriptor: Self.name("pod_arcade_sessions", "WebRTC sessions by the status their browser last published"),
                labels: [("status", status)]
            ).set(Double(statuses.count { $0 == status }))
        }
    }

    /// Sets the gauges and advances the counters to `statistics`.
    func apply(statistics: MQTTBrokerStatistics, clients: [String: Int], sessions: Int) {
        for kind in ["desktop", "user"] {
            registry.makeGauge(
                descriptor: Self.name("pod_arcade_mqtt_clients", "connected MQTT clients by kind"), labels: [("kind", kind)]
            ).set(Double(clients[kind] ?? 0))
        }
        registry.makeGauge(descriptor: Self.name("pod_arcade_desktops_online", "connected desktops"))
            .set(Double(clients["desktop"] ?? 0))
        registry.makeGauge(descriptor: Self.name("pod_arcade_mqtt_sessions", "MQTT sessions held, connected or persistent"))
            .set(Double(sessions))
        let last = previous.withLock { last in
            let value = last
            // A runtime restarted under us would report lower totals; start over from them.
            last = statistics
            return value
        }
        func advance(_ name: String, _ labels: [(String, String)], _ now: Int, _ before: Int) {
            let descriptor = Self.name(name, "")
            let counter = labels.isEmpty
                ? registry.makeCounter(descriptor: descriptor) : registry.makeCounter(descriptor: descriptor, labels: labels)
            if now > before { counter.increment(by: Int64(now - before)) }
        }
        advance("pod_arcade_mqtt_messages_total", [("direction", "received")], statistics.messagesReceived, last.messagesReceived)
        advance("pod_arcade_mqtt_messages_total", [("direction", "delivered")], statistics.messagesDelivered, last.messagesDelivered)
        advance("pod_arcade_mqtt_auth_failures_total", [], statistics.authenticationFailures, last.authenticationFailures)
        advance(
            "pod_arcade_malformed_input_total", [("source", "mqtt")],
            statistics.malformedPackets + statistics.protocolViolations, last.malformedPackets + last.protocolViolations)
    }

    /// A descriptor for a full metric name (the name is not split into namespace and unit).
    private static func name(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}

/// Counters of the HTTP side, through swift-metrics.
enum HTTPMetrics {
    static let requests = Metrics.Counter(label: "pod_arcade_http_requests_total")

    /// A request answered with an error because of what it asked for.
    static func refused(_ reason: String) {
        Metrics.Counter(label: "pod_arcade_http_refused_total", dimensions: [("reason", reason)]).increment()
    }

    /// Input on the WebSocket endpoint that is not MQTT over binary frames (MQTT 5.0 §6).
    static func malformedWebSocket() {
        Metrics.Counter(label: "pod_arcade_malformed_input_total", dimensions: [("source", "websocket")]).increment()
    }
}
