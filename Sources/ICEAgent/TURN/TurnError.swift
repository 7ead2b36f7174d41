public import STUNCore

/// Why a TURN operation failed: an allocation that could not be made or was lost, a permission
/// or channel binding the server refused, data that could not be sent.
///
/// Match on ``code``; ``detail`` is for people. ``method`` names the request that failed and
/// ``errorCode`` carries the server's ERROR-CODE when there was one (RFC 8656 §19).
public struct TurnError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case timedOut, errorResponse, unauthenticated, wrongCredentials, allocationMismatch
            case unsupportedTransport, quotaReached, insufficientCapacity, staleNonceLoop
            case unauthenticatedResponse, malformedResponse, notAllocated, invalidPeer
            case channelsExhausted, dataTooLarge, connectionClosed, allocationExpired, closed
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The server never answered (RFC 8489 §6.2.1: Rc transmissions and Rm·RTO; §6.2.2: Ti).
        public static let timedOut = Code(.timedOut)
        /// An error response with a code that has no more specific case here (see ``TurnError/errorCode``).
        public static let errorResponse = Code(.errorResponse)
        /// 401 after credentials were sent, or 401 without REALM/NONCE (RFC 8489 §9.2.5).
        public static let unauthenticated = Code(.unauthenticated)
        /// 441 Wrong Credentials (RFC 8656 §19).
        public static let wrongCredentials = Code(.wrongCredentials)
        /// 437 Allocation Mismatch (RFC 8656 §19): the server has no (or another) allocation.
        public static let allocationMismatch = Code(.allocationMismatch)
        /// 442 Unsupported Transport Protocol (RFC 8656 §19).
        public static let unsupportedTransport = Code(.unsupportedTransport)
        /// 486 Allocation Quota Reached (RFC 8656 §19).
        public static let quotaReached = Code(.quotaReached)
        /// 508 Insufficient Capacity (RFC 8656 §19).
        public static let insufficientCapacity = Code(.insufficientCapacity)
        /// 438 Stale Nonce more often in a row than ``TurnClient/Configuration/maxStaleNonceRetries``.
        public static let staleNonceLoop = Code(.staleNonceLoop)
        /// Over TCP/TLS: a response whose MESSAGE-INTEGRITY did not verify (RFC 8489 §9.2.5: over a
        /// reliable transport such a response fails the transaction; over UDP it is dropped).
        public static let unauthenticatedResponse = Code(.unauthenticatedResponse)
        /// A success response missing a mandatory attribute (e.g. XOR-RELAYED-ADDRESS, RFC 8656 §7.3).
        public static let malformedResponse = Code(.malformedResponse)
        /// The call needs an allocation and there is none (yet, or any more).
        public static let notAllocated = Code(.notAllocated)
        /// A peer address the allocation cannot reach (another address family, RFC 8656 §9.1).
        public static let invalidPeer = Code(.invalidPeer)
        /// All 4096 channel numbers are bound (RFC 8656 §12).
        public static let channelsExhausted = Code(.channelsExhausted)
        /// More application bytes than one DATA attribute or ChannelData message carries.
        public static let dataTooLarge = Code(.dataTooLarge)
        /// Over TCP/TLS: the connection to the server ended, and the allocation with it (RFC 8656 §3.1).
        public static let connectionClosed = Code(.connectionClosed)
        /// The allocation's lifetime ran out before a refresh succeeded (RFC 8656 §7).
        public static let allocationExpired = Code(.allocationExpired)
        /// The client was closed.
        public static let closed = Code(.closed)

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// The request method that failed, when a request failed.
    public let method: StunMethod?
    /// The server's ERROR-CODE, when an error response caused the failure.
    public let errorCode: StunErrorCode?
    /// A sentence for logs.
    public let detail: String

    public init(_ code: Code, method: StunMethod? = nil, errorCode: StunErrorCode? = nil, detail: String = "") {
        self.code = code
        self.method = method
        self.errorCode = errorCode
        self.detail = detail
    }

    /// The error for an error response to a request (RFC 8656 §19 codes get their own ``Code``).
    static func response(_ errorCode: StunErrorCode, method: StunMethod) -> TurnError {
        let code: Code =
            switch errorCode.code {
            case 401: .unauthenticated
            case 437: .allocationMismatch
            case 438: .staleNonceLoop
            case 441: .wrongCredentials
            case 442: .unsupportedTransport
            case 486: .quotaReached
            case 508: .insufficientCapacity
            default: .errorResponse
            }
        return TurnError(code, method: method, errorCode: errorCode, detail: "\(method) failed: \(errorCode)")
    }

    public var description: String {
        var text = "TURN \(code)"
        if let method { text += " (\(method))" }
        if let errorCode { text += ": \(errorCode)" }
        if !detail.isEmpty { text += " — \(detail)" }
        return text
    }
}
