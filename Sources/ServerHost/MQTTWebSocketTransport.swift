import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle
import SignalingMQTT
import Synchronization

/// MQTT over WebSocket at `/mqtt` (MQTT 5.0 §6, MQTT 3.1.1 §6): binary frames carry the MQTT
/// byte stream into the embedded broker. A packet may span frames and a frame may hold several
/// packets; the broker's stream decoder sees only bytes.
public enum MQTTWebSocketTransport {
    /// The WebSocket subprotocol MQTT clients ask for (MQTT 5.0 §6: "mqtt").
    public static let subprotocol = "mqtt"

    /// Whether a `Sec-WebSocket-Protocol` request header offers `mqtt` (RFC 6455 §4.1: a
    /// comma-separated list of tokens; several header lines are joined the same way).
    public static func offersMQTT(_ headerValues: [String]) -> Bool {
        headerValues.contains { value in
            value.split(separator: ",").contains { $0.trimmingWhitespaceSubstring().lowercased() == subprotocol }
        }
    }

    /// Runs one upgraded connection until either side ends it.
    static func serve(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
        runtime: MQTTBrokerRuntime<PodArcadeBrokerPolicy>, logger: Logger
    ) async throws {
        let (commands, continuation) = AsyncStream.makeStream(of: WebSocketSink.Command.self)
        let sink = WebSocketSink(continuation: continuation)
        let id = try await runtime.openStream(sink)
        sink.attach(id: id, runtime: runtime)
        defer { runtime.closed(id) }
        // On graceful shutdown, end the connection from our side (close frame, then at most the
        // close timeout) rather than wait for the client to send something.
        await withGracefulShutdownHandler {
            await run(commands: commands, sink: sink, id: id, inbound: inbound, outbound: outbound, runtime: runtime, logger: logger)
        } onGracefulShutdown: {
            sink.close()
        }
    }

    private static func run(
        commands: AsyncStream<WebSocketSink.Command>, sink: WebSocketSink, id: MQTTConnectionID,
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
        runtime: MQTTBrokerRuntime<PodArcadeBrokerPolicy>, logger: Logger
    ) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Broker → client: one binary message per processing round.
                do {
                    for await command in commands {
                        switch command {
                        case .frame(let buffer):
                            // A round above the frame limit leaves as a fragmented message (RFC 6455 §5.4).
                            try await outbound.writeBinaryMessage(buffer)
                            sink.sent(buffer.readableBytes)
                        case .close:
                            try await outbound.close(.normalClosure, reason: nil)
                            return
                        }
                    }
                } catch {
                    logger.debug("MQTT WebSocket write failed", metadata: ["error": "\(error)"])
                }
            }
            group.addTask {
                // Client → broker. MQTT 5.0 §6: anything but binary data frames closes the connection.
                do {
                    for try await frame in inbound {
                        switch frame.opcode {
                        case .binary, .continuation:
                            runtime.received(id, frame.data)
                        case .text:
                            HTTPMetrics.malformedWebSocket()
                            logger.info("MQTT WebSocket closed: text frame (MQTT needs binary frames)", metadata: ["connection": "\(id)"])
                            return
                        }
                    }
                } catch {
                    logger.debug("MQTT WebSocket read failed", metadata: ["error": "\(error)"])
                }
            }
            _ = await group.next()
            group.cancelAll()
        }
    }
}

/// The broker's side of one WebSocket connection: bytes written in one processing round go
/// out as one frame; a queue above `highWatermark` bytes tells the broker the client is slow.
final class WebSocketSink: MQTTBrokerStreamSink {
    enum Command: Sendable {
        case frame(ByteBuffer)
        case close
    }

    private struct State {
        var pending: ByteBuffer?
        var queued = 0
        var writable = true
        var id: MQTTConnectionID?
        var runtime: MQTTBrokerRuntime<PodArcadeBrokerPolicy>?
    }

    static let highWatermark = 256 * 1024
    static let lowWatermark = 32 * 1024

    private let continuation: AsyncStream<Command>.Continuation
    private let state = Mutex(State())

    init(continuation: AsyncStream<Command>.Continuation) {
        self.continuation = continuation
    }

    func attach(id: MQTTConnectionID, runtime: MQTTBrokerRuntime<PodArcadeBrokerPolicy>) {
        state.withLock {
            $0.id = id
            $0.runtime = runtime
        }
    }

    func write(_ buffer: ByteBuffer) {
        state.withLock { state in
            if state.pending == nil {
                state.pending = buffer
            } else {
                var incoming = buffer
                state.pending!.writeBuffer(&incoming)
            }
        }
    }

    func flush() {
        let (frame, report) = state.withLock { state -> (ByteBuffer?, (MQTTConnectionID, MQTTBrokerRuntime<PodArcadeBrokerPolicy>)?) in
            guard let frame = state.pending else { return (nil, nil) }
            state.pending = nil
            state.queued += frame.readableBytes
            if state.writable, state.queued > Self.highWatermark, let id = state.id, let runtime = state.runtime {
                state.writable = false
                return (frame, (id, runtime))
            }
            return (frame, nil)
        }
        if let frame { continuation.yield(.frame(frame)) }
        if case let (id, runtime)? = report { runtime.writabilityChanged(id, isWritable: false) }
    }

    func close() {
        continuation.yield(.close)
        continuation.finish()
    }

    /// Whether the broker was last told the connection is writable.
    var isWritable: Bool { state.withLock { $0.writable } }

    /// A frame of `count` bytes went out.
    func sent(_ count: Int) {
        let report = state.withLock { state -> (MQTTConnectionID, MQTTBrokerRuntime<PodArcadeBrokerPolicy>)? in
            state.queued -= count
            if !state.writable, state.queued < Self.lowWatermark, let id = state.id, let runtime = state.runtime {
                state.writable = true
                return (id, runtime)
            }
            return nil
        }
        if case let (id, runtime)? = report { runtime.writabilityChanged(id, isWritable: true) }
    }
}

extension Substring {
    func trimmingWhitespaceSubstring() -> Substring {
        var text = self
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return text
    }
}
