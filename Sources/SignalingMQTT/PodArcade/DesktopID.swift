/// A desktop's id (protocol.md, "Ids"; config.md `DESKTOP_ID`): `[a-z0-9-]+`, at most 32
/// characters, not starting or ending with `-`. It is the MQTT username of the desktop and
/// the second level of its topics, `desktops/<id>/...`.
public struct DesktopID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The maximum length in characters (all allowed characters are ASCII, one byte each).
    public static let maximumLength = 32

    public let value: String

    /// Validates a desktop id.
    ///
    /// - Parameter value: e.g. `pa-desktop`.
    /// - Throws: ``PodArcadeIDError`` (field ``PodArcadeIDError/Field/desktopID``) with
    ///   ``PodArcadeIDError/Code/empty``, ``PodArcadeIDError/Code/tooLong``, then for the
    ///   first offending byte ``PodArcadeIDError/Code/invalidCharacter``, then
    ///   ``PodArcadeIDError/Code/leadingOrTrailingHyphen``.
    public init(_ value: String) throws(PodArcadeIDError) {
        let utf8 = value.utf8
        func failure(_ code: PodArcadeIDError.Code, _ offset: Int) -> PodArcadeIDError {
            PodArcadeIDError(code, field: .desktopID, text: value, offset: offset)
        }
        if utf8.isEmpty { throw failure(.empty, 0) }
        if utf8.count > Self.maximumLength { throw failure(.tooLong, Self.maximumLength) }
        for (offset, byte) in utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"): continue
            default: throw failure(.invalidCharacter, offset)
            }
        }
        if utf8.first == UInt8(ascii: "-") { throw failure(.leadingOrTrailingHyphen, 0) }
        if utf8.last == UInt8(ascii: "-") { throw failure(.leadingOrTrailingHyphen, utf8.count - 1) }
        self.value = value
    }

    public var description: String { value }

    public static func < (lhs: DesktopID, rhs: DesktopID) -> Bool { lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8) }
}
