/// A validated MQTT topic filter: what a SUBSCRIBE asks for, with the `+` and `#` wildcards
/// (MQTT 3.1.1 and 5.0 §4.7) and MQTT 5.0 shared subscriptions, `$share/<group>/<filter>`
/// (§4.8.2).
///
/// Equality and hashing compare UTF-8 bytes of ``value`` (§4.7.3, [MQTT-4.7.3-4]), so a
/// shared and a non-shared subscription to the same filter are different filters.
public struct MQTTTopicFilter: Hashable, Sendable, CustomStringConvertible {
    /// The prefix of a shared subscription (MQTT 5.0 §4.8.2).
    public static let sharePrefix = "$share/"

    /// The filter as given, including any `$share/<group>/` prefix.
    public let value: String
    /// The share name of a shared subscription, e.g. `g` for `$share/g/a/+`; `nil` otherwise.
    ///
    /// Shared subscriptions are parsed whatever the protocol version; a broker that does not
    /// support them (or speaks MQTT 3.1.1, which has none) refuses filters where this is set.
    public let shareGroup: String?
    /// The filter that is matched against topic names: ``value`` without the `$share/<group>/`
    /// prefix (equal to ``value`` when ``shareGroup`` is `nil`).
    public let topicFilter: Substring
    /// The levels of ``topicFilter`` between `/` separators, empty levels kept (§4.7.1.1).
    public let levels: [Substring]
    /// Whether ``topicFilter`` contains `+` or `#`.
    public let hasWildcards: Bool

    /// Validates a topic filter and parses a shared subscription.
    ///
    /// - Parameter value: the filter, e.g. `desktops/+/status` or `$share/g/server/#`.
    /// - Throws: ``MQTTTopicError`` with, in this order: ``MQTTTopicError/Code/empty``
    ///   ([MQTT-4.7.3-1]), ``MQTTTopicError/Code/tooLong`` above 65,535 UTF-8 bytes
    ///   ([MQTT-4.7.3-3]), ``MQTTTopicError/Code/nullCharacter`` for U+0000 ([MQTT-4.7.3-2]);
    ///   for `$share/...`: ``MQTTTopicError/Code/invalidShareGroup`` when the share name is
    ///   empty, contains `+` or `#`, or is not followed by `/` ([MQTT-4.8.2-1], [MQTT-4.8.2-2]),
    ///   ``MQTTTopicError/Code/empty`` when nothing follows it; then for the first misplaced
    ///   wildcard: ``MQTTTopicError/Code/misplacedMultiLevelWildcard`` when `#` is not alone in
    ///   the last level and ``MQTTTopicError/Code/misplacedSingleLevelWildcard`` when `+` is
    ///   not alone in its level (§4.7.1.2, §4.7.1.3).
    public init(_ value: String) throws(MQTTTopicError) {
        let utf8 = value.utf8
        if utf8.isEmpty { throw MQTTTopicError(.empty, text: value, offset: 0) }
        if utf8.count > MQTTTopicName.maximumLength {
            throw MQTTTopicError(.tooLong, text: value, offset: MQTTTopicName.maximumLength)
        }
        if let null = utf8.firstIndex(of: 0) {
            throw MQTTTopicError(.nullCharacter, text: value, offset: utf8.distance(from: utf8.startIndex, to: null))
        }

        var filterStart = utf8.startIndex
        var shareGroup: String?
        if utf8.starts(with: Self.sharePrefix.utf8) {
            let groupStart = utf8.index(utf8.startIndex, offsetBy: Self.sharePrefix.utf8.count)
            let slash = utf8[groupStart...].firstIndex(of: UInt8(ascii: "/"))
            let groupEnd = slash ?? utf8.endIndex
            let group = utf8[groupStart..<groupEnd]
            if let wildcard = group.firstIndex(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }) {
                throw MQTTTopicError(.invalidShareGroup, text: value, offset: utf8.distance(from: utf8.startIndex, to: wildcard))
            }
            guard let slash, !group.isEmpty else {
                throw MQTTTopicError(.invalidShareGroup, text: value, offset: utf8.distance(from: utf8.startIndex, to: groupStart))
            }
            filterStart = utf8.index(after: slash)
            if filterStart == utf8.endIndex {
                throw MQTTTopicError(.empty, text: value, offset: utf8.count)
            }
            shareGroup = String(value[groupStart..<groupEnd])
        }

        // §4.7.1.2 and §4.7.1.3: a wildcard occupies a whole level; `#` only the last one.
        var hasWildcards = false
        var atLevelStart = true
        var index = filterStart
        while index != utf8.endIndex {
            let byte = utf8[index]
            let next = utf8.index(after: index)
            switch byte {
            case UInt8(ascii: "#"):
                guard atLevelStart, next == utf8.endIndex else {
                    throw MQTTTopicError(.misplacedMultiLevelWildcard, text: value, offset: utf8.distance(from: utf8.startIndex, to: index))
                }
                hasWildcards = true
            case UInt8(ascii: "+"):
                guard atLevelStart, next == utf8.endIndex || utf8[next] == UInt8(ascii: "/") else {
                    throw MQTTTopicError(.misplacedSingleLevelWildcard, text: value, offset: utf8.distance(from: utf8.startIndex, to: index))
                }
                hasWildcards = true
            default:
                break
            }
            atLevelStart = byte == UInt8(ascii: "/")
            index = next
        }

        self.value = value
        self.shareGroup = shareGroup
        self.topicFilter = value[filterStart...]
        self.levels = topicFilter.split(separator: "/", omittingEmptySubsequences: false)
        self.hasWildcards = hasWildcards
    }

    /// Whether a topic name matches this filter (§4.7.1, §4.7.2; for a shared subscription,
    /// its ``topicFilter``).
    ///
    /// `+` matches exactly one level, which may be empty (`sport/+` matches `sport/` but not
    /// `sport`); `#` matches any number of levels including none, so `sport/#` also matches
    /// the parent `sport`; literal levels compare UTF-8 bytes. A filter whose first level is
    /// a wildcard never matches a name that starts with `$` ([MQTT-4.7.2-1]).
    ///
    /// - Parameter topic: the topic name of a PUBLISH.
    /// - Returns: `true` when a message on `topic` is delivered to this subscription.
    public func matches(_ topic: MQTTTopicName) -> Bool {
        if topic.isSystem, let first = levels.first, _isMultiLevelWildcard(first) || _isSingleLevelWildcard(first) {
            return false
        }
        let names = topic.levels
        var index = 0
        for level in levels {
            if _isMultiLevelWildcard(level) { return true }
            guard index < names.count else { return false }
            if !_isSingleLevelWildcard(level) && !_utf8Equal(level, names[index]) { return false }
            index += 1
        }
        return index == names.count
    }

    public var description: String { value }

    public static func == (lhs: MQTTTopicFilter, rhs: MQTTTopicFilter) -> Bool { _utf8Equal(lhs.value, rhs.value) }
    public func hash(into hasher: inout Hasher) { _hashUTF8(value, into: &hasher) }
}
