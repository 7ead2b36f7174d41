import SignalingMQTT
import Testing

@Suite("MQTT topic filters (§4.7, shared subscriptions §4.8.2)")
struct TopicFilterTests {
    struct Valid: Sendable, CustomTestStringConvertible {
        var filter: String
        var shareGroup: String?
        var topicFilter: String
        var hasWildcards: Bool
        var testDescription: String { "\"\(filter.prefix(40))\"" }
    }

    struct Invalid: Sendable, CustomTestStringConvertible {
        var filter: String
        var code: MQTTTopicError.Code
        var offset: Int
        var testDescription: String { "\"\(filter.prefix(40))\" is \(code) at byte \(offset)" }
    }

    static let valid: [Valid] = [
        .init(filter: "sport", shareGroup: nil, topicFilter: "sport", hasWildcards: false),
        .init(filter: "#", shareGroup: nil, topicFilter: "#", hasWildcards: true),
        .init(filter: "+", shareGroup: nil, topicFilter: "+", hasWildcards: true),
        .init(filter: "sport/#", shareGroup: nil, topicFilter: "sport/#", hasWildcards: true),
        .init(filter: "sport/tennis/player1/#", shareGroup: nil, topicFilter: "sport/tennis/player1/#", hasWildcards: true),
        .init(filter: "sport/tennis/+", shareGroup: nil, topicFilter: "sport/tennis/+", hasWildcards: true),
        .init(filter: "+/tennis/#", shareGroup: nil, topicFilter: "+/tennis/#", hasWildcards: true),
        .init(filter: "sport/+/player1", shareGroup: nil, topicFilter: "sport/+/player1", hasWildcards: true),
        .init(filter: "+/+", shareGroup: nil, topicFilter: "+/+", hasWildcards: true),
        .init(filter: "/+", shareGroup: nil, topicFilter: "/+", hasWildcards: true),
        .init(filter: "/#", shareGroup: nil, topicFilter: "/#", hasWildcards: true),
        .init(filter: "a//b", shareGroup: nil, topicFilter: "a//b", hasWildcards: false),
        .init(filter: "/", shareGroup: nil, topicFilter: "/", hasWildcards: false),
        .init(filter: "$SYS/#", shareGroup: nil, topicFilter: "$SYS/#", hasWildcards: true),
        // MQTT 5.0 §4.8.2
        .init(filter: "$share/g/#", shareGroup: "g", topicFilter: "#", hasWildcards: true),
        .init(filter: "$share/consumers/desktops/+/status", shareGroup: "consumers", topicFilter: "desktops/+/status", hasWildcards: true),
        .init(filter: "$share/g/sport", shareGroup: "g", topicFilter: "sport", hasWildcards: false),
        .init(filter: "$share/g/$SYS/x", shareGroup: "g", topicFilter: "$SYS/x", hasWildcards: false),
        .init(filter: "$share/\u{E9}t\u{E9}/a", shareGroup: "\u{E9}t\u{E9}", topicFilter: "a", hasWildcards: false),
        // Not shared subscriptions: only "$share/" starts one.
        .init(filter: "$share", shareGroup: nil, topicFilter: "$share", hasWildcards: false),
        .init(filter: "$shared/g/a", shareGroup: nil, topicFilter: "$shared/g/a", hasWildcards: false),
        .init(filter: "$SHARE/g/a", shareGroup: nil, topicFilter: "$SHARE/g/a", hasWildcards: false),
        .init(filter: String(repeating: "a", count: 65_535), shareGroup: nil, topicFilter: String(repeating: "a", count: 65_535), hasWildcards: false),
    ]

    @Test("a valid filter is parsed into its share group and its topic filter", arguments: valid)
    func validFilters(entry: Valid) throws {
        let filter = try MQTTTopicFilter(entry.filter)
        #expect(filter.value == entry.filter)
        #expect(filter.description == entry.filter)
        #expect(filter.shareGroup == entry.shareGroup)
        #expect(String(filter.topicFilter) == entry.topicFilter)
        #expect(filter.levels.joined(separator: "/") == entry.topicFilter)
        #expect(filter.hasWildcards == entry.hasWildcards)
    }

    static let invalid: [Invalid] = [
        // [MQTT-4.7.3-1]
        .init(filter: "", code: .empty, offset: 0),
        // '#' alone in the last level (§4.7.1.2)
        .init(filter: "sport/tennis#", code: .misplacedMultiLevelWildcard, offset: 12),
        .init(filter: "sport/tennis/#/ranking", code: .misplacedMultiLevelWildcard, offset: 13),
        .init(filter: "#/", code: .misplacedMultiLevelWildcard, offset: 0),
        .init(filter: "##", code: .misplacedMultiLevelWildcard, offset: 0),
        .init(filter: "a#", code: .misplacedMultiLevelWildcard, offset: 1),
        .init(filter: "#a", code: .misplacedMultiLevelWildcard, offset: 0),
        .init(filter: "+#", code: .misplacedSingleLevelWildcard, offset: 0),
        .init(filter: "+/#/+", code: .misplacedMultiLevelWildcard, offset: 2),
        // '+' alone in its level (§4.7.1.3)
        .init(filter: "sport+", code: .misplacedSingleLevelWildcard, offset: 5),
        .init(filter: "+sport", code: .misplacedSingleLevelWildcard, offset: 0),
        .init(filter: "sport/+tennis", code: .misplacedSingleLevelWildcard, offset: 6),
        .init(filter: "sport/ten+nis/x", code: .misplacedSingleLevelWildcard, offset: 9),
        .init(filter: "++", code: .misplacedSingleLevelWildcard, offset: 0),
        .init(filter: "/+a", code: .misplacedSingleLevelWildcard, offset: 1),
        .init(filter: "\u{E9}+", code: .misplacedSingleLevelWildcard, offset: 2),
        // [MQTT-4.7.3-2]
        .init(filter: "a\u{0}", code: .nullCharacter, offset: 1),
        .init(filter: "$share/g\u{0}/a", code: .nullCharacter, offset: 8),
        // [MQTT-4.7.3-3]
        .init(filter: String(repeating: "a", count: 65_536), code: .tooLong, offset: 65_535),
        // MQTT 5.0 [MQTT-4.8.2-1], [MQTT-4.8.2-2]
        .init(filter: "$share/", code: .invalidShareGroup, offset: 7),
        .init(filter: "$share//a", code: .invalidShareGroup, offset: 7),
        .init(filter: "$share/g", code: .invalidShareGroup, offset: 7),
        .init(filter: "$share/g+/a", code: .invalidShareGroup, offset: 8),
        .init(filter: "$share/+/a", code: .invalidShareGroup, offset: 7),
        .init(filter: "$share/#", code: .invalidShareGroup, offset: 7),
        .init(filter: "$share/g#/a", code: .invalidShareGroup, offset: 8),
        .init(filter: "$share/g/", code: .empty, offset: 9),
        .init(filter: "$share/g/a#", code: .misplacedMultiLevelWildcard, offset: 10),
        .init(filter: "$share/g/+a", code: .misplacedSingleLevelWildcard, offset: 9),
    ]

    @Test("an invalid filter is refused with its code and offset", arguments: invalid)
    func invalidFilters(entry: Invalid) {
        #expect {
            try MQTTTopicFilter(entry.filter)
        } throws: { error in
            guard let error = error as? MQTTTopicError else { return false }
            return error.code == entry.code && error.offset == entry.offset && error.text == entry.filter
        }
    }

    @Test("filters are compared by their bytes, and a shared filter differs from the plain one")
    func equality() throws {
        #expect(try MQTTTopicFilter("caf\u{E9}/+") != MQTTTopicFilter("cafe\u{301}/+"))
        #expect(try MQTTTopicFilter("a/+") == MQTTTopicFilter("a/+"))
        #expect(try MQTTTopicFilter("$share/g/a/+") != MQTTTopicFilter("a/+"))
        #expect(try MQTTTopicFilter("$share/g/a/+") != MQTTTopicFilter("$share/h/a/+"))
        #expect(try Set([MQTTTopicFilter("caf\u{E9}"), MQTTTopicFilter("cafe\u{301}")]).count == 2)
    }

    @Test("the typed throw gives an MQTTTopicError without a cast")
    func typedThrow() {
        do {
            _ = try MQTTTopicFilter("sport+")
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .misplacedSingleLevelWildcard)
            #expect(error.offset == 5)
            #expect(error.text == "sport+")
        }
    }
}
