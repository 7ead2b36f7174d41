/// Why a DCEP message (RFC 8832 §5) could not be decoded, with the field and byte offset.
/// Match on ``code``; the text is for people.
public struct DCEPDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case empty, unknownMessageType, truncated, unknownChannelType, lengthMismatch, invalidUTF8
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// No bytes at all.
        public static let empty = Code(.empty)
        /// The first byte is neither DATA_CHANNEL_OPEN (0x03) nor DATA_CHANNEL_ACK (0x02).
        public static let unknownMessageType = Code(.unknownMessageType)
        /// Fewer bytes than the fixed header or than the label and protocol lengths claim.
        public static let truncated = Code(.truncated)
        /// A channel type not in RFC 8832 §5.1.
        public static let unknownChannelType = Code(.unknownChannelType)
        /// More bytes than the message and its declared lengths account for.
        public static let lengthMismatch = Code(.lengthMismatch)
        /// The label or protocol is not UTF-8 (RFC 8832 §5.1 requires it).
        public static let invalidUTF8 = Code(.invalidUTF8)

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// Which field failed, e.g. `labelLength`.
    public let field: String
    /// Byte offset of the failing field from the start of the message.
    public let offset: Int

    public init(_ code: Code, field: String, offset: Int) {
        self.code = code
        self.field = field
        self.offset = offset
    }

    public var description: String { "DCEP decoding failed: \(code) in \(field) at byte \(offset)" }
}
