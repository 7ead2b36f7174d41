/// Why a string is not a valid MQTT topic name or topic filter, with the UTF-8 byte offset
/// that failed.
///
/// Match on ``code``; ``description`` is for people. The rules are MQTT 3.1.1 §4.7 and
/// MQTT 5.0 §4.7 (identical for names and filters), plus MQTT 5.0 §4.8.2 for shared
/// subscriptions.
public struct MQTTTopicError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case empty, wildcardInTopicName, misplacedMultiLevelWildcard, misplacedSingleLevelWildcard
            case nullCharacter, tooLong, invalidShareGroup
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Zero length; for a shared subscription, nothing after `$share/<group>/`
        /// (MQTT 3.1.1 and 5.0 §4.7.3, [MQTT-4.7.3-1]; 5.0 §4.8.2, [MQTT-4.8.2-2]).
        public static let empty = Code(.empty)
        /// A topic name contains `+` or `#` (§4.7.1, [MQTT-4.7.1-1] in 3.1.1, [MQTT-4.7.0-1] in 5.0).
        public static let wildcardInTopicName = Code(.wildcardInTopicName)
        /// `#` is not alone in its level or not the last character (§4.7.1.2; 3.1.1
        /// [MQTT-4.7.1-2], 5.0 [MQTT-4.7.1-1]).
        public static let misplacedMultiLevelWildcard = Code(.misplacedMultiLevelWildcard)
        /// `+` is not alone in its level (§4.7.1.3; 3.1.1 [MQTT-4.7.1-3], 5.0 [MQTT-4.7.1-2]).
        public static let misplacedSingleLevelWildcard = Code(.misplacedSingleLevelWildcard)
        /// Contains U+0000 (§4.7.3, [MQTT-4.7.3-2]).
        public static let nullCharacter = Code(.nullCharacter)
        /// Longer than 65,535 UTF-8 bytes (§4.7.3, [MQTT-4.7.3-3]).
        public static let tooLong = Code(.tooLong)
        /// `$share/` is not followed by a non-empty share name without `+` or `#`, and a `/`
        /// (MQTT 5.0 §4.8.2, [MQTT-4.8.2-1], [MQTT-4.8.2-2]).
        public static let invalidShareGroup = Code(.invalidShareGroup)

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// The topic name or filter that failed, as given.
    public let text: String
    /// UTF-8 byte offset in ``text`` of the character that failed (the start of the empty
    /// part for ``Code/empty``, 65,535 for ``Code/tooLong``).
    public let offset: Int

    public init(_ code: Code, text: String, offset: Int) {
        self.code = code
        self.text = text
        self.offset = offset
    }

    public var description: String {
        let shown = text.utf8.count > 80 ? "\(text.prefix(80))…" : text
        return "invalid MQTT topic \"\(shown)\": \(code) at byte \(offset)"
    }
}
