import SignalingMQTT
import Testing

@Suite("Topic filter matching (§4.7.1, §4.7.2)")
struct TopicMatchingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var filter: String
        var topic: String
        var matches: Bool
        var testDescription: String { "\"\(filter)\" \(matches ? "matches" : "does not match") \"\(topic)\"" }
    }

    /// The examples of MQTT 3.1.1 and 5.0 §4.7.1.2, §4.7.1.3 and §4.7.2, then edge cases.
    static let table: [Case] = [
        // §4.7.1.2 multi-level wildcard
        .init(filter: "sport/tennis/player1/#", topic: "sport/tennis/player1", matches: true),
        .init(filter: "sport/tennis/player1/#", topic: "sport/tennis/player1/ranking", matches: true),
        .init(filter: "sport/tennis/player1/#", topic: "sport/tennis/player1/score/wimbledon", matches: true),
        .init(filter: "sport/tennis/player1/#", topic: "sport/tennis/player2", matches: false),
        .init(filter: "sport/#", topic: "sport", matches: true),
        .init(filter: "sport/#", topic: "sport/", matches: true),
        .init(filter: "sport/tennis/#", topic: "sport/tennisplayer1", matches: false),
        .init(filter: "sport/tennis/#", topic: "sport/tennis", matches: true),
        .init(filter: "#", topic: "sport", matches: true),
        .init(filter: "#", topic: "sport/tennis/player1", matches: true),
        .init(filter: "#", topic: "/", matches: true),
        .init(filter: "/#", topic: "/", matches: true),
        .init(filter: "/#", topic: "/finance", matches: true),
        .init(filter: "/#", topic: "finance", matches: false),
        // §4.7.1.3 single-level wildcard
        .init(filter: "sport/tennis/+", topic: "sport/tennis/player1", matches: true),
        .init(filter: "sport/tennis/+", topic: "sport/tennis/player2", matches: true),
        .init(filter: "sport/tennis/+", topic: "sport/tennis/player1/ranking", matches: false),
        .init(filter: "sport/+", topic: "sport", matches: false),
        .init(filter: "sport/+", topic: "sport/", matches: true),
        .init(filter: "+", topic: "sport", matches: true),
        .init(filter: "+", topic: "sport/", matches: false),
        .init(filter: "+", topic: "/finance", matches: false),
        .init(filter: "+/+", topic: "/finance", matches: true),
        .init(filter: "/+", topic: "/finance", matches: true),
        .init(filter: "+/tennis/#", topic: "sport/tennis/player1", matches: true),
        .init(filter: "+/tennis/#", topic: "sport/tennis", matches: true),
        .init(filter: "sport/+/player1", topic: "sport/tennis/player1", matches: true),
        .init(filter: "sport/+/player1", topic: "sport//player1", matches: true),
        .init(filter: "+/#", topic: "sport", matches: true),
        .init(filter: "+/+", topic: "sport", matches: false),
        // §4.7.2 topics beginning with $
        .init(filter: "#", topic: "$SYS/monitor/Clients", matches: false),
        .init(filter: "+/monitor/Clients", topic: "$SYS/monitor/Clients", matches: false),
        .init(filter: "$SYS/#", topic: "$SYS/monitor/Clients", matches: true),
        .init(filter: "$SYS/monitor/+", topic: "$SYS/monitor/Clients", matches: true),
        .init(filter: "+", topic: "$SYS", matches: false),
        .init(filter: "$SYS", topic: "$SYS", matches: true),
        .init(filter: "+/$SYS", topic: "a/$SYS", matches: true),
        .init(filter: "a/#", topic: "a/$SYS", matches: true),
        .init(filter: "$share/g/#", topic: "$SYS/monitor/Clients", matches: false),
        // shared subscriptions match with their topic filter (MQTT 5.0 §4.8.2)
        .init(filter: "$share/g/sport/+", topic: "sport/tennis", matches: true),
        .init(filter: "$share/g/sport/+", topic: "$share/g/sport/tennis", matches: false),
        // literal levels: exact bytes, case sensitive, no normalization (§4.7.3)
        .init(filter: "sport", topic: "sport", matches: true),
        .init(filter: "sport", topic: "Sport", matches: false),
        .init(filter: "sport", topic: "sport/", matches: false),
        .init(filter: "sport/", topic: "sport", matches: false),
        .init(filter: "a//b", topic: "a//b", matches: true),
        .init(filter: "a/+/b", topic: "a//b", matches: true),
        .init(filter: "caf\u{E9}", topic: "cafe\u{301}", matches: false),
        .init(filter: "cafe\u{301}/+", topic: "cafe\u{301}/x", matches: true),
        .init(filter: "\u{212A}", topic: "K", matches: false),
        .init(filter: "desktops/+/status", topic: "desktops/pa-desktop/status", matches: true),
        .init(filter: "desktops/+/status", topic: "desktops/pa-desktop/sessions/s/status", matches: false),
    ]

    @Test("a filter matches exactly the topics of the specification's examples", arguments: table)
    func matching(entry: Case) throws {
        let filter = try MQTTTopicFilter(entry.filter)
        let topic = try MQTTTopicName(entry.topic)
        #expect(filter.matches(topic) == entry.matches)
    }

    @Test("the subscription trie agrees with the table", arguments: table)
    func trieAgrees(entry: Case) throws {
        var trie = SubscriptionTrie<Int, Int>()
        trie.insert(try MQTTTopicFilter(entry.filter), subscriber: 1, value: 7)
        let found = trie.matches(try MQTTTopicName(entry.topic))
        #expect(found.count == (entry.matches ? 1 : 0))
    }

    @Test("the retained store agrees with the table", arguments: table)
    func retainedStoreAgrees(entry: Case) throws {
        var store = MQTTRetainedStore<Int>()
        store.set(try MQTTTopicName(entry.topic), 7)
        let found = store.matching(try MQTTTopicFilter(entry.filter))
        #expect(found.count == (entry.matches ? 1 : 0))
    }
}
