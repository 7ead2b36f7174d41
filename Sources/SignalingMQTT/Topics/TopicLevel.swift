/// MQTT compares topics byte for byte: "the Server MUST NOT perform any normalization of Topic
/// Names or Topic Filters" (MQTT 3.1.1 and 5.0 §4.7.3, [MQTT-4.7.3-4]). Swift's `String ==`
/// and `hash(into:)` use Unicode canonical equivalence ("é" == "e\u{301}"), so every
/// comparison and hash in `Topics/` goes through these helpers instead.

/// Whether two strings have the same UTF-8 bytes.
func _utf8Equal<A: StringProtocol, B: StringProtocol>(_ a: A, _ b: B) -> Bool {
    let lhs = a.utf8, rhs = b.utf8
    guard lhs.count == rhs.count else { return false }
    let fast = lhs.withContiguousStorageIfAvailable { l in
        rhs.withContiguousStorageIfAvailable { r in l.elementsEqual(r) }
    }
    if let result = fast ?? nil { return result }
    return lhs.elementsEqual(rhs)
}

/// Feeds a string's UTF-8 bytes, then a terminator byte that UTF-8 never contains.
func _hashUTF8<S: StringProtocol>(_ s: S, into hasher: inout Hasher) {
    let done: Void? = s.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    if done == nil {
        Array(s.utf8).withUnsafeBytes { hasher.combine(bytes: $0) }
    }
    hasher.combine(UInt8(0xFF))
}

/// Whether a level is exactly `#`.
func _isMultiLevelWildcard(_ level: Substring) -> Bool {
    level.utf8.count == 1 && level.utf8.first == UInt8(ascii: "#")
}

/// Whether a level is exactly `+`.
func _isSingleLevelWildcard(_ level: Substring) -> Bool {
    level.utf8.count == 1 && level.utf8.first == UInt8(ascii: "+")
}

/// One topic level as a dictionary key in the tries, compared and hashed by UTF-8 bytes.
struct _TopicLevel: Hashable, Sendable {
    let text: Substring

    /// A key that borrows `text` (for look-ups).
    init(_ text: Substring) { self.text = text }

    /// A key with its own storage (for keys kept in a trie), so it does not keep the whole
    /// topic or filter it came from alive.
    init(owning text: Substring) { self.text = Substring(String(text)) }

    static let multiLevelWildcard = _TopicLevel("#")
    static let singleLevelWildcard = _TopicLevel("+")

    /// Whether the level begins with `$` (only meaningful for a first level: §4.7.2).
    var isSystem: Bool { text.utf8.first == UInt8(ascii: "$") }

    static func == (lhs: _TopicLevel, rhs: _TopicLevel) -> Bool { _utf8Equal(lhs.text, rhs.text) }
    func hash(into hasher: inout Hasher) { _hashUTF8(text, into: &hasher) }
}
