/// A validated MQTT topic name: what a PUBLISH (or a will) is sent to (MQTT 3.1.1 and 5.0 §4.7).
///
/// Two names are equal when their UTF-8 bytes are equal; no Unicode normalization is applied
/// (§4.7.3, [MQTT-4.7.3-4]), so `"caf\u{E9}"` and `"cafe\u{301}"` are different topics even
/// though Swift's `String ==` calls them equal.
///
/// Control characters and non-characters (which MQTT 5.0 §1.5.4 says should not be sent) are
/// accepted; Swift strings cannot hold the ill-formed UTF-8 and surrogates that §1.5.4 forbids.
public struct MQTTTopicName: Hashable, Sendable, CustomStringConvertible {
    /// The maximum length in UTF-8 bytes (§4.7.3, [MQTT-4.7.3-3]).
    public static let maximumLength = 65_535

    /// The name as given.
    public let value: String
    /// The levels between `/` separators (§4.7.1.1); empty levels are kept, so `"/a/"` has
    /// three levels: `""`, `"a"`, `""`.
    public let levels: [Substring]

    /// Validates a topic name.
    ///
    /// - Parameter value: the name, e.g. `desktops/pa-desktop/status`.
    /// - Throws: ``MQTTTopicError`` with ``MQTTTopicError/Code/empty`` when `value` is empty
    ///   ([MQTT-4.7.3-1]), ``MQTTTopicError/Code/tooLong`` above 65,535 UTF-8 bytes
    ///   ([MQTT-4.7.3-3]), then for the first offending character:
    ///   ``MQTTTopicError/Code/nullCharacter`` for U+0000 ([MQTT-4.7.3-2]) and
    ///   ``MQTTTopicError/Code/wildcardInTopicName`` for `+` or `#` (3.1.1 [MQTT-4.7.1-1],
    ///   5.0 [MQTT-4.7.0-1]).
    public init(_ value: String) throws(MQTTTopicError) {
        let utf8 = value.utf8
        if utf8.isEmpty { throw MQTTTopicError(.empty, text: value, offset: 0) }
        if utf8.count > Self.maximumLength { throw MQTTTopicError(.tooLong, text: value, offset: Self.maximumLength) }
        var offset = 0
        for byte in utf8 {
            switch byte {
            case 0: throw MQTTTopicError(.nullCharacter, text: value, offset: offset)
            case UInt8(ascii: "+"), UInt8(ascii: "#"): throw MQTTTopicError(.wildcardInTopicName, text: value, offset: offset)
            default: offset += 1
            }
        }
        self.value = value
        self.levels = value.split(separator: "/", omittingEmptySubsequences: false)
    }

    /// Whether the name starts with `$` (e.g. `$SYS/...`): filters that start with a wildcard
    /// never match it (§4.7.2, [MQTT-4.7.2-1]).
    public var isSystem: Bool { value.utf8.first == UInt8(ascii: "$") }

    public var description: String { value }

    public static func == (lhs: MQTTTopicName, rhs: MQTTTopicName) -> Bool { _utf8Equal(lhs.value, rhs.value) }
    public func hash(into hasher: inout Hasher) { _hashUTF8(value, into: &hasher) }
}
