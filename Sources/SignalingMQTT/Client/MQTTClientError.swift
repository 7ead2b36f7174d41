/// Why a client operation failed or a connection ended. Match on ``code``; ``reasonCode`` carries
/// the broker's answer where there is one, ``detail`` a human-readable explanation.
public struct MQTTClientError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case connectionClosed, transportFailed, webSocketUpgradeFailed, connectTimeout, keepAliveTimeout
            case connectionRefused, serverDisconnected, protocolError, disconnected, notConnected
            case alreadyConnected, invalidRequest, rejected, tooManyPending
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The connection ended without an MQTT DISCONNECT (EOF or reset).
        public static let connectionClosed = Code(.connectionClosed)
        /// The connection could not be made or failed: name resolution, TCP connect, TLS handshake
        /// or certificate check, socket error. ``MQTTClientError/detail`` has the underlying error.
        public static let transportFailed = Code(.transportFailed)
        /// The WebSocket server did not answer the upgrade with `101 Switching Protocols` and a
        /// valid `Sec-WebSocket-Accept`.
        public static let webSocketUpgradeFailed = Code(.webSocketUpgradeFailed)
        /// No CONNACK within the connect timeout (which also covers opening the transport).
        public static let connectTimeout = Code(.connectTimeout)
        /// No PINGRESP within the ping timeout (MQTT 5.0 §3.1.2.10, §4.13).
        public static let keepAliveTimeout = Code(.keepAliveTimeout)
        /// CONNACK with a failure reason code (in ``MQTTClientError/reasonCode``).
        public static let connectionRefused = Code(.connectionRefused)
        /// The server sent DISCONNECT (MQTT 5.0 §3.14), reason in ``MQTTClientError/reasonCode``.
        public static let serverDisconnected = Code(.serverDisconnected)
        /// The server sent a malformed or unexpected packet; the client closed the connection.
        public static let protocolError = Code(.protocolError)
        /// `disconnect()` was called: the operation was abandoned.
        public static let disconnected = Code(.disconnected)
        /// The client is not running: `connect()` was not called, failed, or `disconnect()` was called.
        public static let notConnected = Code(.notConnected)
        /// `connect()` on a client that is already connected or reconnecting.
        public static let alreadyConnected = Code(.alreadyConnected)
        /// The request cannot be sent: a topic or filter MQTT cannot carry, QoS 2 publishing, no
        /// filters. ``MQTTClientError/detail`` names the field.
        public static let invalidRequest = Code(.invalidRequest)
        /// The broker answered PUBACK, SUBACK or UNSUBACK with a failure reason code.
        public static let rejected = Code(.rejected)
        /// All 65,535 packet identifiers are in use, or the offline queue is full.
        public static let tooManyPending = Code(.tooManyPending)

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// The broker's reason code (CONNACK, DISCONNECT, PUBACK, SUBACK, UNSUBACK) or the reason code
    /// a decoding error maps to; nil otherwise.
    public let reasonCode: MQTTReasonCode?
    /// A human-readable explanation, for logs.
    public let detail: String

    public init(_ code: Code, reasonCode: MQTTReasonCode? = nil, detail: String = "") {
        self.code = code
        self.reasonCode = reasonCode
        self.detail = detail
    }

    public var description: String {
        var text = "MQTT client: \(code)"
        if let reasonCode { text += " (\(reasonCode))" }
        if !detail.isEmpty { text += ": \(detail)" }
        return text
    }
}
