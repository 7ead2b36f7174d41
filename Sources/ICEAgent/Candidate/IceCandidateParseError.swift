/// Why a `candidate:` line could not be parsed (RFC 8839 §5.1), naming the field and the
/// character offset where it starts.
///
/// Match on ``code``; the description is for people.
public struct IceCandidateParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case notACandidate, missingField, invalidFoundation, invalidComponent, invalidTransport
            case invalidPriority, invalidAddress, invalidPort, missingType, invalidType
            case invalidRelatedAddress, invalidRelatedPort, invalidTcpType, invalidExtension
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The text does not start with `candidate:` or `a=candidate:`.
        public static let notACandidate = Code(.notACandidate)
        /// The line ends before a required field.
        public static let missingField = Code(.missingField)
        /// Not 1–32 ice-chars.
        public static let invalidFoundation = Code(.invalidFoundation)
        /// Not 1–3 digits in 1–256.
        public static let invalidComponent = Code(.invalidComponent)
        /// Neither `udp` nor `tcp` (any case).
        public static let invalidTransport = Code(.invalidTransport)
        /// Not 1–10 digits fitting 32 bits.
        public static let invalidPriority = Code(.invalidPriority)
        /// Neither an IP address nor a hostname.
        public static let invalidAddress = Code(.invalidAddress)
        /// Not a number 0–65535.
        public static let invalidPort = Code(.invalidPort)
        /// `typ` is not where the grammar puts it.
        public static let missingType = Code(.missingType)
        /// A candidate type other than host, srflx, prflx, relay.
        public static let invalidType = Code(.invalidType)
        /// `raddr` without a valid address.
        public static let invalidRelatedAddress = Code(.invalidRelatedAddress)
        /// `rport` without a valid port.
        public static let invalidRelatedPort = Code(.invalidRelatedPort)
        /// `tcptype` other than active, passive, so.
        public static let invalidTcpType = Code(.invalidTcpType)
        /// An extension name without a value, or with characters the grammar forbids.
        public static let invalidExtension = Code(.invalidExtension)

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// The grammar's name for the field, e.g. `component-id` or `rel-port`.
    public let field: String
    /// Character offset of the field in the text given to the parser.
    public let offset: Int

    public init(_ code: Code, field: String, offset: Int) {
        self.code = code
        self.field = field
        self.offset = offset
    }

    public var description: String { "ICE candidate parse failed: \(code) in \(field) at offset \(offset)" }
}
