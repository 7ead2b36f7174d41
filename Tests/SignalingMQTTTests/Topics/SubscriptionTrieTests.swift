import SignalingMQTT
import Testing

@Suite("Subscription trie")
struct SubscriptionTrieTests {
    private func filter(_ text: String) -> MQTTTopicFilter { try! MQTTTopicFilter(text) }
    private func topic(_ text: String) -> MQTTTopicName { try! MQTTTopicName(text) }

    /// (subscriber, filter) pairs of a result, for comparisons that ignore order.
    private struct Pair: Hashable {
        var subscriber: Int
        var filter: MQTTTopicFilter
    }

    private func pairs(_ matches: [SubscriptionTrie<Int, Int>.Match]) -> Set<Pair> {
        Set(matches.map { Pair(subscriber: $0.subscriber, filter: $0.filter) })
    }

    @Test func subscribingAgainReplacesTheValueAndSaysItExisted() {
        var trie = SubscriptionTrie<Int, String>()
        #expect(trie.insert(filter("a/+"), subscriber: 1, value: "first") == false)
        #expect(trie.insert(filter("a/+"), subscriber: 1, value: "second") == true)
        #expect(trie.count == 1)
        #expect(trie.value(for: filter("a/+"), subscriber: 1) == "second")
        #expect(trie.matches(topic("a/b")).map(\.value) == ["second"])
    }

    @Test func overlappingSubscriptionsOfOneSubscriberAppearOncePerFilter() {
        var trie = SubscriptionTrie<Int, Int>()
        trie.insert(filter("a/b"), subscriber: 1, value: 0)
        trie.insert(filter("a/+"), subscriber: 1, value: 1)
        trie.insert(filter("a/#"), subscriber: 1, value: 2)
        trie.insert(filter("#"), subscriber: 1, value: 3)
        trie.insert(filter("a/b"), subscriber: 2, value: 4)
        let found = trie.matches(topic("a/b"))
        #expect(found.count == 5)
        #expect(Set(found.map(\.value)) == [0, 1, 2, 3, 4])
        #expect(found.filter { $0.subscriber == 1 }.count == 4)
    }

    @Test func removingOneSubscriptionLeavesTheOthers() {
        var trie = SubscriptionTrie<Int, Int>()
        trie.insert(filter("a/+"), subscriber: 1, value: 0)
        trie.insert(filter("a/+"), subscriber: 2, value: 0)
        trie.insert(filter("a/b/c"), subscriber: 1, value: 0)
        #expect(trie.remove(filter("a/+"), subscriber: 1) == true)
        #expect(trie.remove(filter("a/+"), subscriber: 1) == false)
        #expect(trie.remove(filter("a/#"), subscriber: 2) == false)
        #expect(trie.remove(filter("a/b"), subscriber: 1) == false)  // a prefix of a stored path
        #expect(trie.count == 2)
        #expect(pairs(trie.matches(topic("a/b"))) == [Pair(subscriber: 2, filter: filter("a/+"))])
        #expect(trie.filters(of: 1) == [filter("a/b/c")])
    }

    @Test func removingAllOfASubscriberLeavesOtherSubscribers() {
        var trie = SubscriptionTrie<Int, Int>()
        for text in ["a", "a/#", "+/b", "$share/g/a"] { trie.insert(filter(text), subscriber: 1, value: 0) }
        trie.insert(filter("a"), subscriber: 2, value: 0)
        #expect(trie.removeAll(1) == 4)
        #expect(trie.removeAll(1) == 0)
        #expect(trie.count == 1)
        #expect(trie.filters(of: 1).isEmpty)
        #expect(pairs(trie.matches(topic("a"))) == [Pair(subscriber: 2, filter: filter("a"))])
        trie.removeAll(2)
        #expect(trie.isEmpty)
        #expect(trie.matches(topic("a")).isEmpty)
    }

    @Test func aSharedAndAPlainSubscriptionToOneFilterAreSeparate() {
        var trie = SubscriptionTrie<Int, Int>()
        #expect(trie.insert(filter("a/+"), subscriber: 1, value: 0) == false)
        #expect(trie.insert(filter("$share/g/a/+"), subscriber: 1, value: 1) == false)
        #expect(trie.count == 2)
        let found = trie.matches(topic("a/b"))
        #expect(Set(found.map(\.filter.value)) == ["a/+", "$share/g/a/+"])
        #expect(found.first { $0.filter.shareGroup == "g" }?.value == 1)
    }

    @Test func wildcardsAtTheRootDoNotReachDollarTopics() {
        var trie = SubscriptionTrie<Int, Int>()
        trie.insert(filter("#"), subscriber: 1, value: 0)
        trie.insert(filter("+/monitor/Clients"), subscriber: 2, value: 0)
        trie.insert(filter("$SYS/#"), subscriber: 3, value: 0)
        trie.insert(filter("$SYS/monitor/+"), subscriber: 4, value: 0)
        #expect(Set(trie.matches(topic("$SYS/monitor/Clients")).map(\.subscriber)) == [3, 4])
        #expect(Set(trie.matches(topic("SYS/monitor/Clients")).map(\.subscriber)) == [1, 2])
    }

    @Test func levelsAreComparedByTheirBytes() {
        var trie = SubscriptionTrie<Int, Int>()
        trie.insert(filter("cafe\u{301}"), subscriber: 1, value: 0)
        #expect(trie.matches(topic("caf\u{E9}")).isEmpty)
        #expect(trie.matches(topic("cafe\u{301}")).count == 1)
        trie.insert(filter("caf\u{E9}"), subscriber: 1, value: 0)
        #expect(trie.count == 2)
        let removed = trie.remove(filter("caf\u{E9}"), subscriber: 1)
        #expect(removed)
        #expect(trie.matches(topic("cafe\u{301}")).count == 1)
    }

    @Test func aResubscriptionAfterRemovalIsNew() {
        var trie = SubscriptionTrie<String, Int>()
        trie.insert(filter("desktops/+/status"), subscriber: "user:a", value: 1)
        trie.remove(filter("desktops/+/status"), subscriber: "user:a")
        #expect(trie.insert(filter("desktops/+/status"), subscriber: "user:a", value: 2) == false)
        #expect(trie.matches(topic("desktops/pa/status")).map(\.value) == [2])
    }

    @Test func removingEverySubscriptionFreesEveryNode() {
        var random = TopicCorpus.Random(seed: 7)
        var trie = SubscriptionTrie<Int, Int>()
        for round in 0..<3 {
            let filters = (0..<500).map { _ in TopicCorpus.filter(using: &random) }
            for (index, filter) in filters.enumerated() { trie.insert(filter, subscriber: index % 20, value: round) }
            #expect(trie._nodeCount > 100)
            for (index, filter) in filters.enumerated().reversed() where index % 2 == 0 { trie.remove(filter, subscriber: index % 20) }
            for subscriber in 0..<20 { trie.removeAll(subscriber) }
            #expect(trie.isEmpty)
            #expect(trie._nodeCount == 1)
        }
    }

    @Test func theDeepestFilterAllowedDoesNotOverflowTheStack() throws {
        // 65,535 bytes: 32,768 levels; 65,535 slashes: 65,536 empty levels, the most there can be.
        let deep = String(repeating: "a/", count: 32_767) + "a"
        var trie = SubscriptionTrie<Int, Int>()
        trie.insert(try MQTTTopicFilter(deep), subscriber: 1, value: 1)
        trie.insert(try MQTTTopicFilter(String(repeating: "+/", count: 32_767) + "#"), subscriber: 2, value: 2)
        trie.insert(try MQTTTopicFilter(String(repeating: "/", count: 65_534) + "#"), subscriber: 3, value: 3)
        #expect(Set(trie.matches(try MQTTTopicName(deep)).map(\.subscriber)) == [1, 2])
        #expect(Set(trie.matches(try MQTTTopicName(String(repeating: "/", count: 65_535))).map(\.subscriber)) == [2, 3])
        let removed = trie.remove(try MQTTTopicFilter(deep), subscriber: 1)
        #expect(removed)
        #expect(trie.matches(try MQTTTopicName(deep)).map(\.subscriber) == [2])
        #expect(trie.count == 2)
        // Dropping `trie` here must not recurse either.
    }

    /// Property: for 2,000 random filters and 2,000 random topics, the trie returns exactly
    /// the subscriptions whose filter ``MQTTTopicFilter/matches(_:)`` the topic, before and
    /// after removals.
    @Test(arguments: [0xC0FFEE] as [UInt64])
    func agreesWithBruteForceOnARandomCorpus(seed: UInt64) {
        var random = TopicCorpus.Random(seed: seed)
        let filters = (0..<2_000).map { _ in TopicCorpus.filter(using: &random) }
        let topics = (0..<2_000).map { _ in TopicCorpus.topic(using: &random) }

        var trie = SubscriptionTrie<Int, Int>()
        var model: [Pair: Int] = [:]
        for (index, filter) in filters.enumerated() {
            let subscriber = Int.random(in: 0..<400, using: &random)
            let existed = trie.insert(filter, subscriber: subscriber, value: index)
            #expect(existed == (model[Pair(subscriber: subscriber, filter: filter)] != nil))
            model[Pair(subscriber: subscriber, filter: filter)] = index
        }
        #expect(trie.count == model.count)

        func check(_ topics: ArraySlice<MQTTTopicName>) -> Int {
            var total = 0
            for topic in topics {
                let found = trie.matches(topic)
                var expected: [Pair: Int] = [:]
                for (pair, value) in model where pair.filter.matches(topic) { expected[pair] = value }
                var actual: [Pair: Int] = [:]
                for match in found { actual[Pair(subscriber: match.subscriber, filter: match.filter)] = match.value }
                #expect(found.count == actual.count, "a subscription appeared twice for \(topic)")
                #expect(actual == expected, "topic \(topic)")
                total += found.count
            }
            return total
        }
        let matched = check(topics[...])
        #expect(matched > 100_000, "the corpus should produce many matches, got \(matched)")

        // Remove a third of the subscriptions one by one and every subscription of 50 subscribers.
        for pair in model.keys.shuffled(using: &random).prefix(model.count / 3) {
            let removed = trie.remove(pair.filter, subscriber: pair.subscriber)
            #expect(removed)
            model[pair] = nil
        }
        for subscriber in 0..<50 {
            let removed = trie.removeAll(subscriber)
            let before = model.count
            model = model.filter { $0.key.subscriber != subscriber }
            #expect(removed == before - model.count)
        }
        #expect(trie.count == model.count)
        _ = check(topics.prefix(500))
    }
}
