/// Why a data-channel operation failed. Match on ``code``.
public struct DataChannelError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case notOpen, messageTooLarge, sendFailed, idInUse, idOutOfRange, noFreeID, associationClosed, invalidParameters
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// `send` on a channel that is connecting, closing or closed (W3C InvalidStateError).
        public static let notOpen = Code(.notOpen)
        /// The message is larger than the peer's `max-message-size` (RFC 8841 §6; W3C TypeError).
        public static let messageTooLarge = Code(.messageTooLarge)
        /// SCTP refused the message for another reason (``DataChannelError/field`` says which).
        public static let sendFailed = Code(.sendFailed)
        /// A channel with this id exists already.
        public static let idInUse = Code(.idInUse)
        /// The id is beyond the streams the association offers.
        public static let idOutOfRange = Code(.idOutOfRange)
        /// Every stream id of our parity (RFC 8832 §6) is taken.
        public static let noFreeID = Code(.noFreeID)
        /// The association is closed.
        public static let associationClosed = Code(.associationClosed)
        /// A label or protocol longer than 65535 bytes (RFC 8832 §5.1 length fields).
        public static let invalidParameters = Code(.invalidParameters)

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// What failed, e.g. `message (300000 > 262144 bytes)`.
    public let field: String

    public init(_ code: Code, field: String) {
        self.code = code
        self.field = field
    }

    public var description: String { "data channel: \(code) (\(field))" }
}
