/// Why an SCTP operation failed: a code to match on, the field (or socket option) involved and,
/// for packet checks, the byte offset that failed.
public struct SCTPError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case socketCreation, socketOption, bind, connect, notStarted, closed
            case wouldBlock, messageTooLarge, emptyMessage, invalidStream, sendFailed, resetFailed
            case truncatedPacket, truncatedChunk, badChunkLength, wrongPort, noChunks
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// `usrsctp_socket` returned no socket.
        public static let socketCreation = Code(.socketCreation)
        /// A socket option could not be set (``SCTPError/field`` names it).
        public static let socketOption = Code(.socketOption)
        /// `usrsctp_bind` failed.
        public static let bind = Code(.bind)
        /// `usrsctp_connect` failed with something other than EINPROGRESS.
        public static let connect = Code(.connect)
        /// The association was used before ``SCTPAssociation/start()``.
        public static let notStarted = Code(.notStarted)
        /// The association is closed or failed.
        public static let closed = Code(.closed)
        /// The send buffer is full: queue and retry after the next SACK.
        public static let wouldBlock = Code(.wouldBlock)
        /// A message is larger than the peer's `max-message-size` (RFC 8841 §6) or the send buffer.
        public static let messageTooLarge = Code(.messageTooLarge)
        /// SCTP cannot carry an empty user message (RFC 8831 §6.6 sends one byte instead).
        public static let emptyMessage = Code(.emptyMessage)
        /// The stream id is outside the negotiated streams.
        public static let invalidStream = Code(.invalidStream)
        /// `usrsctp_sendv` failed for another reason (``SCTPError/field`` holds errno).
        public static let sendFailed = Code(.sendFailed)
        /// The stream reset request could not be sent.
        public static let resetFailed = Code(.resetFailed)
        /// Shorter than the 12-byte common header (RFC 4960 §3.1).
        public static let truncatedPacket = Code(.truncatedPacket)
        /// A chunk header (4 bytes) does not fit in the packet (RFC 4960 §3.2).
        public static let truncatedChunk = Code(.truncatedChunk)
        /// A chunk length below 4 or past the end of the packet (RFC 4960 §3.2).
        public static let badChunkLength = Code(.badChunkLength)
        /// The destination port is not ours or the source port not the peer's (RFC 8261 §5).
        public static let wrongPort = Code(.wrongPort)
        /// A common header without a single chunk.
        public static let noChunks = Code(.noChunks)

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// Which field or option failed, e.g. `chunk[2].length` or `SCTP_NODELAY`.
    public let field: String
    /// Byte offset of the failing field in the packet (0 when not about a packet).
    public let offset: Int

    public init(_ code: Code, field: String, offset: Int = 0) {
        self.code = code
        self.field = field
        self.offset = offset
    }

    public var description: String { "SCTP: \(code) in \(field) at byte \(offset)" }
}
