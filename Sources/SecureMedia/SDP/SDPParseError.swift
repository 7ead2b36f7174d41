/// Why a session description could not be parsed (RFC 8866 §5, §9), naming the 1-based line,
/// the grammar field and the offending text.
///
/// Match on ``code``; the description is for people.
public struct SDPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case tooLarge, tooManyMediaDescriptions, malformedLine, unknownLineType
            case missingVersion, unsupportedVersion, missingOrigin, missingSessionName, missingTiming
            case lineOutOfPlace, invalidOrigin, invalidConnection, invalidBandwidth, invalidTiming
            case invalidMedia, invalidAttribute, undeclaredPayloadType, conflictingAttribute
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The text is larger than ``SDPSessionDescription/maximumSize``.
        public static let tooLarge = Code(.tooLarge)
        /// More `m=` lines than ``SDPSessionDescription/maximumMediaDescriptions``.
        public static let tooManyMediaDescriptions = Code(.tooManyMediaDescriptions)
        /// Not `<type>=<value>` with a single lowercase letter, or control characters in it.
        public static let malformedLine = Code(.malformedLine)
        /// A type letter RFC 8866 does not define (§5: such a description is rejected).
        public static let unknownLineType = Code(.unknownLineType)
        /// The first line is not `v=`.
        public static let missingVersion = Code(.missingVersion)
        /// `v=` other than 0.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// No `o=` line after `v=`.
        public static let missingOrigin = Code(.missingOrigin)
        /// No `s=` line after `o=`.
        public static let missingSessionName = Code(.missingSessionName)
        /// No `t=` line at session level.
        public static let missingTiming = Code(.missingTiming)
        /// A line where the grammar does not allow it (e.g. `v=` twice, `t=` inside a media section).
        public static let lineOutOfPlace = Code(.lineOutOfPlace)
        /// `o=` is not six fields with numeric session id and version.
        public static let invalidOrigin = Code(.invalidOrigin)
        /// `c=` is not `<nettype> <addrtype> <address>`.
        public static let invalidConnection = Code(.invalidConnection)
        /// `b=` is not `<bwtype>:<number>`.
        public static let invalidBandwidth = Code(.invalidBandwidth)
        /// `t=` is not two numbers.
        public static let invalidTiming = Code(.invalidTiming)
        /// `m=` is not `<media> <port>[/<count>] <proto> <fmt>...` with a port 0–65535.
        public static let invalidMedia = Code(.invalidMedia)
        /// A known attribute whose value breaks its grammar (rtpmap, fmtp, extmap, setup, ...).
        public static let invalidAttribute = Code(.invalidAttribute)
        /// rtpmap, fmtp or rtcp-fb for a payload type the `m=` line does not list.
        public static let undeclaredPayloadType = Code(.undeclaredPayloadType)
        /// An attribute that may appear once appears twice with different meanings (two
        /// directions, two `mid`s, two `setup`s, two rtpmaps for one payload type).
        public static let conflictingAttribute = Code(.conflictingAttribute)

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// 1-based line number; 0 when the whole text is concerned.
    public let line: Int
    /// The grammar's name for the field, e.g. `proto`, `rtpmap`, `fmtp`.
    public let field: String
    /// The offending text (cut to 120 characters).
    public let text: String

    public init(_ code: Code, line: Int, field: String, text: some StringProtocol) {
        self.code = code
        self.line = line
        self.field = field
        self.text = text.count > 120 ? String(text.prefix(120)) + "…" : String(text)
    }

    public var description: String {
        line == 0
            ? "SDP parse failed: \(code) in \(field): \(text)"
            : "SDP parse failed: \(code) in \(field) on line \(line): \(text)"
    }
}
