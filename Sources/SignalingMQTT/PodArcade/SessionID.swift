/// A session's id (protocol.md, "Ids"): random ASCII letters and digits, at most 32, chosen
/// by the browser (the original web client uses 7 base-36 characters). It is the fourth level
/// of the session topics, `desktops/<desktop>/sessions/<id>/...`.
public struct SessionID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The maximum length in characters.
    public static let maximumLength = 32

    public let value: String

    /// Validates a session id.
    ///
    /// - Parameter value: e.g. `k3j9x0a`.
    /// - Throws: ``PodArcadeIDError`` (field ``PodArcadeIDError/Field/sessionID``) with
    ///   ``PodArcadeIDError/Code/empty``, ``PodArcadeIDError/Code/tooLong``, or
    ///   ``PodArcadeIDError/Code/invalidCharacter`` for the first byte that is not `[A-Za-z0-9]`.
    public init(_ value: String) throws(PodArcadeIDError) {
        let utf8 = value.utf8
        if utf8.isEmpty { throw PodArcadeIDError(.empty, field: .sessionID, text: value, offset: 0) }
        if utf8.count > Self.maximumLength {
            throw PodArcadeIDError(.tooLong, field: .sessionID, text: value, offset: Self.maximumLength)
        }
        for (offset, byte) in utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): continue
            default: throw PodArcadeIDError(.invalidCharacter, field: .sessionID, text: value, offset: offset)
            }
        }
        self.value = value
    }

    public var description: String { value }

    public static func < (lhs: SessionID, rhs: SessionID) -> Bool { lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8) }
}
