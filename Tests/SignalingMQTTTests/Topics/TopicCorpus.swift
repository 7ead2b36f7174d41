import SignalingMQTT

/// A seeded random corpus of topic names and filters for property tests: small level
/// vocabularies so that wildcards and literals meet often, `$` levels for the §4.7.2 rule,
/// empty levels, and pairs that differ only by Unicode normalization.
enum TopicCorpus {
    /// SplitMix64, so a failing seed replays exactly.
    struct Random: RandomNumberGenerator {
        private var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let firstLevels = ["sport", "desktops", "a", "", "$SYS", "$x", "caf\u{E9}", "cafe\u{301}"]
    static let levels = ["a", "b", "tennis", "", "$SYS", "caf\u{E9}", "cafe\u{301}", "K", "\u{212A}"]

    static func topic(using random: inout Random) -> MQTTTopicName {
        var parts = [firstLevels.randomElement(using: &random)!]
        for _ in 0..<Int.random(in: 0...4, using: &random) {
            parts.append(levels.randomElement(using: &random)!)
        }
        let text = parts.joined(separator: "/")
        return try! MQTTTopicName(text.isEmpty ? "/" : text)
    }

    static func filter(using random: inout Random) -> MQTTTopicFilter {
        var parts: [String] = []
        let depth = Int.random(in: 1...5, using: &random)
        for index in 0..<depth {
            let vocabulary = index == 0 ? firstLevels : levels
            parts.append(Int.random(in: 0..<4, using: &random) == 0 ? "+" : vocabulary.randomElement(using: &random)!)
        }
        switch Int.random(in: 0..<10, using: &random) {
        case 0: parts = ["#"]
        case 1, 2: parts.append("#")
        case 3: parts[parts.count - 1] = "#"
        default: break
        }
        var text = parts.joined(separator: "/")
        if text.isEmpty { text = "/" }
        if Int.random(in: 0..<10, using: &random) == 0 { text = "$share/g\(Int.random(in: 0..<3, using: &random))/" + text }
        return try! MQTTTopicFilter(text)
    }
}
