/// Why an RTP packet was rejected: a code to match on, the field that failed and its byte offset
/// from the start of the packet.
public struct RTPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case truncatedHeader, badVersion, truncatedCSRCList, truncatedExtension
            case badExtensionElement, badPadding, emptyPayload
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Fewer than the 12 fixed header bytes (RFC 3550 §5.1).
        public static let truncatedHeader = Code(.truncatedHeader)
        /// The version field is not 2 (RFC 3550 §5.1).
        public static let badVersion = Code(.badVersion)
        /// The CSRC count promises more identifiers than the packet holds.
        public static let truncatedCSRCList = Code(.truncatedCSRCList)
        /// The X bit is set but the extension header or its declared length runs past the end
        /// (RFC 3550 §5.3.1).
        public static let truncatedExtension = Code(.truncatedExtension)
        /// An RFC 8285 element's length runs past the extension block, or uses the reserved
        /// id 15 of the one-byte form incorrectly.
        public static let badExtensionElement = Code(.badExtensionElement)
        /// The P bit is set but the padding count is zero or longer than the payload
        /// (RFC 3550 §5.1).
        public static let badPadding = Code(.badPadding)
        /// No payload bytes where a payload format requires some.
        public static let emptyPayload = Code(.emptyPayload)

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// The header field or structure that failed, e.g. `extension.length`.
    public let field: String
    /// Byte offset from the first byte of the packet.
    public let offset: Int

    public init(_ code: Code, field: String, offset: Int) {
        self.code = code
        self.field = field
        self.offset = offset
    }

    public var description: String { "RTP \(code) in \(field) at offset \(offset)" }
}
