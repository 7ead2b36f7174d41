/// Why bytes could not be decoded as STUN, with the field and byte offset that failed.
///
/// Match on ``code``; the message text is for people. When the 20-byte header was valid,
/// ``header`` carries it, so a server can still answer a malformed request with 400
/// (RFC 8489 §6.3).
public struct StunDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case truncatedHeader, notStun, badMagicCookie, badLength, lengthMismatch
            case truncatedAttribute, invalidValue, valueTooLong, invalidUTF8, fingerprintMismatch
            case truncatedFrame, notChannelData, invalidChannelNumber
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Fewer than 20 bytes.
        public static let truncatedHeader = Code(.truncatedHeader)
        /// The two most significant bits are not zero (RFC 8489 §5).
        public static let notStun = Code(.notStun)
        /// The magic cookie is missing where it is required (RFC 8489 §5).
        public static let badMagicCookie = Code(.badMagicCookie)
        /// The length field is not a multiple of 4 (RFC 8489 §5).
        public static let badLength = Code(.badLength)
        /// The length field disagrees with the bytes received.
        public static let lengthMismatch = Code(.lengthMismatch)
        /// An attribute header or value runs past the end of the message.
        public static let truncatedAttribute = Code(.truncatedAttribute)
        /// An attribute value has the wrong size or a field out of range.
        public static let invalidValue = Code(.invalidValue)
        /// A text value is longer than its attribute allows.
        public static let valueTooLong = Code(.valueTooLong)
        /// A text value is not UTF-8.
        public static let invalidUTF8 = Code(.invalidUTF8)
        /// FINGERPRINT does not match the message (RFC 8489 §14.7).
        public static let fingerprintMismatch = Code(.fingerprintMismatch)
        /// A stream frame (TCP) is incomplete — only from APIs that need a whole frame.
        public static let truncatedFrame = Code(.truncatedFrame)
        /// The first byte is neither STUN (0–3) nor ChannelData (64–79) (RFC 8656 §12).
        public static let notChannelData = Code(.notChannelData)
        /// A channel number outside 0x4000–0x4FFF (RFC 8656 §12).
        public static let invalidChannelNumber = Code(.invalidChannelNumber)

        public var description: String { "\(base)" }
    }

    /// The header of a message whose header was valid but whose body was not.
    public struct Header: Hashable, Sendable {
        public var type: StunMessageType
        public var transactionID: TransactionID
        public var hasMagicCookie: Bool
    }

    public let code: Code
    /// Which field failed, e.g. `header.length` or `USERNAME.value`.
    public let field: String
    /// Byte offset of the failing field from the start of the message.
    public let offset: Int
    /// The header, when it decoded.
    public let header: Header?

    public init(_ code: Code, field: String, offset: Int, header: Header? = nil) {
        self.code = code
        self.field = field
        self.offset = offset
        self.header = header
    }

    public var description: String { "STUN decoding failed: \(code) in \(field) at byte \(offset)" }
}
