/// Why an RTCP compound packet was rejected: a code to match on, the field that failed and its
/// byte offset from the start of the compound packet.
public struct RTCPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case truncatedHeader, badVersion, lengthPastEnd, badPadding, bodyTooShort, badItem, empty
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Fewer than the 4 common header bytes (RFC 3550 §6.4.1).
        public static let truncatedHeader = Code(.truncatedHeader)
        /// The version field is not 2.
        public static let badVersion = Code(.badVersion)
        /// The length field claims more 32-bit words than the datagram holds.
        public static let lengthPastEnd = Code(.lengthPastEnd)
        /// The P bit is set but the padding count is zero or longer than the packet's body
        /// (RFC 3550 §6.4.1).
        public static let badPadding = Code(.badPadding)
        /// The length field is too short for what the packet type and count require (e.g. an
        /// SR with 3 report blocks in 6 words).
        public static let bodyTooShort = Code(.bodyTooShort)
        /// An SDES item, BYE reason or feedback field is malformed (runs past its chunk, a
        /// status count that the chunks do not cover, ...).
        public static let badItem = Code(.badItem)
        /// No bytes at all.
        public static let empty = Code(.empty)

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// The field that failed, e.g. `SR.reportBlocks` or `packet[1].length`.
    public let field: String
    /// Byte offset from the start of the compound packet.
    public let offset: Int

    public init(_ code: Code, field: String, offset: Int) {
        self.code = code
        self.field = field
        self.offset = offset
    }

    public var description: String { "RTCP \(code) in \(field) at offset \(offset)" }
}
