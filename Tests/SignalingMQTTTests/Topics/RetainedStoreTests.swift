import SignalingMQTT
import Testing

@Suite("Retained message store")
struct RetainedStoreTests {
    private func filter(_ text: String) -> MQTTTopicFilter { try! MQTTTopicFilter(text) }
    private func topic(_ text: String) -> MQTTTopicName { try! MQTTTopicName(text) }

    private func topics(_ store: MQTTRetainedStore<Int>, matching text: String) -> Set<String> {
        Set(store.matching(filter(text)).map(\.topic.value))
    }

    @Test func settingATopicAgainReplacesItsMessage() {
        var store = MQTTRetainedStore<String>()
        #expect(store.set(topic("a/b"), "first") == nil)
        #expect(store.set(topic("a/b"), "second") == "first")
        #expect(store.count == 1)
        #expect(store.message(for: topic("a/b")) == "second")
        #expect(store.message(for: topic("a")) == nil)
    }

    @Test func removingATopicReturnsItsMessageAndKeepsItsNeighbours() {
        var store = MQTTRetainedStore<Int>()
        store.set(topic("a"), 1)
        store.set(topic("a/b"), 2)
        store.set(topic("a/b/c"), 3)
        #expect(store.remove(topic("a/b")) == 2)
        #expect(store.remove(topic("a/b")) == nil)
        #expect(store.remove(topic("a/x")) == nil)
        #expect(store.count == 2)
        #expect(topics(store, matching: "a/#") == ["a", "a/b/c"])
        store.remove(topic("a"))
        store.remove(topic("a/b/c"))
        #expect(store.isEmpty)
        #expect(store.matching(filter("#")).isEmpty)
    }

    @Test func multiLevelWildcardIncludesTheParentLevel() {
        var store = MQTTRetainedStore<Int>()
        for (index, name) in ["sport", "sport/tennis", "sport/tennis/player1", "sports", "/sport"].enumerated() {
            store.set(topic(name), index)
        }
        #expect(topics(store, matching: "sport/#") == ["sport", "sport/tennis", "sport/tennis/player1"])
        #expect(topics(store, matching: "sport/+") == ["sport/tennis"])
        #expect(topics(store, matching: "+") == ["sport", "sports"])
        #expect(topics(store, matching: "+/+") == ["sport/tennis", "/sport"])
        #expect(topics(store, matching: "sport") == ["sport"])
    }

    @Test func wildcardsAtTheRootSkipDollarTopics() {
        var store = MQTTRetainedStore<Int>()
        store.set(topic("$SYS/monitor/Clients"), 1)
        store.set(topic("$SYS"), 2)
        store.set(topic("server/ice-servers"), 3)
        store.set(topic("a/$SYS"), 4)
        #expect(topics(store, matching: "#") == ["server/ice-servers", "a/$SYS"])
        #expect(topics(store, matching: "+") == [])
        #expect(topics(store, matching: "+/monitor/Clients") == [])
        #expect(topics(store, matching: "+/+") == ["server/ice-servers", "a/$SYS"])
        #expect(topics(store, matching: "$SYS/#") == ["$SYS/monitor/Clients", "$SYS"])
        #expect(topics(store, matching: "$share/g/#") == ["server/ice-servers", "a/$SYS"])
    }

    @Test func topicsAreComparedByTheirBytes() {
        var store = MQTTRetainedStore<Int>()
        store.set(topic("caf\u{E9}"), 1)
        store.set(topic("cafe\u{301}"), 2)
        #expect(store.count == 2)
        #expect(store.message(for: topic("caf\u{E9}")) == 1)
        #expect(store.matching(filter("cafe\u{301}")).map(\.message) == [2])
    }

    @Test func removingEveryTopicFreesEveryNode() {
        var random = TopicCorpus.Random(seed: 8)
        var store = MQTTRetainedStore<Int>()
        for round in 0..<3 {
            let names = (0..<500).map { _ in TopicCorpus.topic(using: &random) }
            for name in names { store.set(name, round) }
            #expect(store._nodeCount > 100)
            for name in names.shuffled(using: &random) { store.remove(name) }
            #expect(store.isEmpty)
            #expect(store._nodeCount == 1)
        }
    }

    @Test func theDeepestTopicAllowedDoesNotOverflowTheStack() throws {
        // 65,535 bytes: 32,768 levels, and 65,536 empty levels, the most a topic can have.
        let deep = try MQTTTopicName(String(repeating: "a/", count: 32_767) + "a")
        let empty = try MQTTTopicName(String(repeating: "/", count: 65_535))
        var store = MQTTRetainedStore<Int>()
        store.set(deep, 1)
        store.set(empty, 2)
        #expect(store.matching(filter("#")).count == 2)
        #expect(store.matching(filter(deep.value)).map(\.message) == [1])
        #expect(store.matching(filter(String(repeating: "+/", count: 32_767) + "+")).map(\.message) == [1])
        #expect(store.matching(filter(String(repeating: "/", count: 65_534) + "#")).map(\.message) == [2])
        #expect(store.remove(deep) == 1)
        #expect(store.count == 1)
    }

    /// Property: for 2,000 random retained topics and 2,000 random filters, the store returns
    /// exactly the topics the filter ``MQTTTopicFilter/matches(_:)``, before and after removals.
    @Test(arguments: [0xBADC0DE] as [UInt64])
    func agreesWithBruteForceOnARandomCorpus(seed: UInt64) {
        var random = TopicCorpus.Random(seed: seed)
        let names = (0..<2_000).map { _ in TopicCorpus.topic(using: &random) }
        let filters = (0..<2_000).map { _ in TopicCorpus.filter(using: &random) }

        var store = MQTTRetainedStore<Int>()
        var model: [MQTTTopicName: Int] = [:]
        for (index, name) in names.enumerated() {
            #expect(store.set(name, index) == model[name])
            model[name] = index
        }
        #expect(store.count == model.count)

        func check(_ filters: ArraySlice<MQTTTopicFilter>) -> Int {
            var total = 0
            for filter in filters {
                let found = store.matching(filter)
                var actual: [MQTTTopicName: Int] = [:]
                for (name, message) in found { actual[name] = message }
                let expected = model.filter { filter.matches($0.key) }
                #expect(found.count == actual.count, "a topic appeared twice for \(filter)")
                #expect(actual == expected, "filter \(filter)")
                total += found.count
            }
            return total
        }
        let matched = check(filters[...])
        #expect(matched > 100_000, "the corpus should produce many matches, got \(matched)")

        for name in model.keys.shuffled(using: &random).prefix(model.count / 2) {
            #expect(store.remove(name) == model[name])
            model[name] = nil
        }
        #expect(store.count == model.count)
        _ = check(filters.prefix(500))
    }
}
