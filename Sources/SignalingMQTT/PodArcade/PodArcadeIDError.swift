/// Why a string is not a valid desktop id or session id (protocol.md, "Ids"), with the byte
/// offset that failed.
///
/// Match on ``code``; ``description`` names the id, the value and what was expected, in one
/// line, as config.md asks of start-up errors.
public struct PodArcadeIDError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case empty, tooLong, invalidCharacter, leadingOrTrailingHyphen
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Zero length.
        public static let empty = Code(.empty)
        /// More than 32 characters.
        public static let tooLong = Code(.tooLong)
        /// A character outside the allowed set.
        public static let invalidCharacter = Code(.invalidCharacter)
        /// A desktop id starts or ends with `-`.
        public static let leadingOrTrailingHyphen = Code(.leadingOrTrailingHyphen)

        public var description: String { "\(base)" }
    }

    /// Which kind of id failed.
    public enum Field: String, Hashable, Sendable {
        case desktopID = "desktop id"
        case sessionID = "session id"
    }

    public let code: Code
    public let field: Field
    /// The id that failed, as given.
    public let text: String
    /// UTF-8 byte offset in ``text`` of the character that failed (32 for
    /// ``Code/tooLong``, 0 for ``Code/empty``).
    public let offset: Int

    public init(_ code: Code, field: Field, text: String, offset: Int) {
        self.code = code
        self.field = field
        self.text = text
        self.offset = offset
    }

    /// What a valid id looks like, for error messages.
    public var expected: String {
        switch field {
        case .desktopID: "[a-z0-9-]+, at most 32 characters, not starting or ending with '-'"
        case .sessionID: "[A-Za-z0-9]+, at most 32 characters"
        }
    }

    public var description: String {
        let shown = text.utf8.count > 64 ? "\(text.prefix(64))…" : text
        return "invalid \(field.rawValue) \"\(shown)\": \(code) at byte \(offset) (expected \(expected))"
    }
}
