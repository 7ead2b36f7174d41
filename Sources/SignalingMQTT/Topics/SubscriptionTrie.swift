/// The broker's subscription index: which subscriptions match a topic name, without looking
/// at filters that cannot match.
///
/// A trie keyed by topic level: a filter's levels are a path from the root, with `+` and `#`
/// stored as ordinary children (topic names cannot contain them, so they never collide with a
/// literal level). Matching a name of n levels visits, at each level, the literal child, the
/// `+` child and the `#` child only, so its cost depends on the filters that share a path with
/// the name, not on how many subscriptions there are.
///
/// One value is kept per (filter, subscriber); subscribing again replaces it, as MQTT 5.0
/// §3.8.4 asks for an identical filter in the same session. Filters are compared by UTF-8
/// bytes, so `a/b` and `$share/g/a/b` are different subscriptions on the same path.
public struct SubscriptionTrie<Subscriber: Hashable & Sendable, Value: Sendable>: Sendable {
    /// One subscription that matched a topic name.
    public typealias Match = (subscriber: Subscriber, filter: MQTTTopicFilter, value: Value)

    private var root = _Node()
    private var filtersBySubscriber: [Subscriber: Set<MQTTTopicFilter>] = [:]

    /// The number of (filter, subscriber) subscriptions.
    public private(set) var count = 0

    public init() {}

    /// Whether there are no subscriptions.
    public var isEmpty: Bool { count == 0 }

    /// Adds a subscription, or replaces the value of an existing one.
    ///
    /// - Parameters:
    ///   - filter: the topic filter; a shared subscription is stored under its
    ///     ``MQTTTopicFilter/topicFilter`` and kept apart from the non-shared one.
    ///   - subscriber: who subscribes, e.g. a client id.
    ///   - value: what the broker keeps with it (options, subscription identifier).
    /// - Returns: `true` when the subscriber already had this filter (its value was replaced),
    ///   as MQTT 5.0 Retain Handling 1 needs (§3.8.3.1).
    @discardableResult
    public mutating func insert(_ filter: MQTTTopicFilter, subscriber: Subscriber, value: Value) -> Bool {
        let key = _Key(subscriber: subscriber, filter: filter)
        let existed = root.insert(filter.levels[...], key: key, value: value)
        if !existed {
            count += 1
            filtersBySubscriber[subscriber, default: []].insert(filter)
        }
        return existed
    }

    /// Removes one subscription.
    ///
    /// - Returns: `true` when it existed.
    @discardableResult
    public mutating func remove(_ filter: MQTTTopicFilter, subscriber: Subscriber) -> Bool {
        guard root.remove(filter.levels[...], key: _Key(subscriber: subscriber, filter: filter)) else { return false }
        count -= 1
        filtersBySubscriber[subscriber]?.remove(filter)
        if filtersBySubscriber[subscriber]?.isEmpty == true { filtersBySubscriber[subscriber] = nil }
        return true
    }

    /// Removes every subscription of a subscriber (e.g. when its session ends).
    ///
    /// - Returns: how many subscriptions were removed.
    @discardableResult
    public mutating func removeAll(_ subscriber: Subscriber) -> Int {
        guard let filters = filtersBySubscriber.removeValue(forKey: subscriber) else { return 0 }
        for filter in filters {
            root.remove(filter.levels[...], key: _Key(subscriber: subscriber, filter: filter))
        }
        count -= filters.count
        return filters.count
    }

    /// The value stored for a subscription, or `nil` when there is none.
    public func value(for filter: MQTTTopicFilter, subscriber: Subscriber) -> Value? {
        root.node(at: filter.levels[...])?.subscriptions[_Key(subscriber: subscriber, filter: filter)]?.value
    }

    /// The filters a subscriber has, in no particular order.
    public func filters(of subscriber: Subscriber) -> Set<MQTTTopicFilter> {
        filtersBySubscriber[subscriber] ?? []
    }

    /// Every subscription whose filter matches a topic name, per
    /// ``MQTTTopicFilter/matches(_:)``: `#` also matches the parent level, `+` matches an
    /// empty level, and filters starting with a wildcard never match names starting with `$`
    /// (§4.7.2).
    ///
    /// A subscriber with several overlapping subscriptions appears once per filter; merging
    /// them into one delivery (MQTT 5.0 §3.3.4) is the caller's job. The order is unspecified.
    ///
    /// - Parameter topic: the topic name of a PUBLISH.
    /// - Returns: the matching subscriptions with their values.
    public func matches(_ topic: MQTTTopicName) -> [Match] {
        var result: [Match] = []
        root.collect(topic.levels, from: 0, wildcards: !topic.isSystem, into: &result)
        return result
    }
}

extension SubscriptionTrie {
    struct _Key: Hashable, Sendable {
        var subscriber: Subscriber
        var filter: MQTTTopicFilter
    }

    struct _Node: Sendable {
        /// Children by level, including the `+` and `#` children.
        var children: [_TopicLevel: _Node] = [:]
        /// Subscriptions whose filter ends at this node.
        var subscriptions: [_Key: (filter: MQTTTopicFilter, value: Value)] = [:]

        var isEmpty: Bool { children.isEmpty && subscriptions.isEmpty }

        /// - Returns: whether the key was already present.
        mutating func insert(_ levels: ArraySlice<Substring>, key: _Key, value: Value) -> Bool {
            guard let first = levels.first else {
                return subscriptions.updateValue((key.filter, value), forKey: key) != nil
            }
            return children[_TopicLevel(owning: first), default: _Node()].insert(levels.dropFirst(), key: key, value: value)
        }

        /// Removes a key and prunes the nodes it leaves empty.
        /// - Returns: whether the key was present.
        @discardableResult
        mutating func remove(_ levels: ArraySlice<Substring>, key: _Key) -> Bool {
            guard let first = levels.first else { return subscriptions.removeValue(forKey: key) != nil }
            let level = _TopicLevel(first)
            guard let removed = children[level]?.remove(levels.dropFirst(), key: key), removed else { return false }
            if children[level]?.isEmpty == true { children[level] = nil }
            return true
        }

        func node(at levels: ArraySlice<Substring>) -> _Node? {
            guard let first = levels.first else { return self }
            return children[_TopicLevel(first)]?.node(at: levels.dropFirst())
        }

        /// Collects the subscriptions matching `levels[index...]` below this node.
        /// - Parameter wildcards: whether `+` and `#` children may match here (false at the
        ///   root for a `$` name, §4.7.2).
        func collect(_ levels: [Substring], from index: Int, wildcards: Bool, into result: inout [Match]) {
            if wildcards, let rest = children[.multiLevelWildcard] {
                // `#` matches the remaining levels, including none (the parent level, §4.7.1.2).
                for (key, entry) in rest.subscriptions { result.append((key.subscriber, entry.filter, entry.value)) }
            }
            guard index < levels.count else {
                for (key, entry) in subscriptions { result.append((key.subscriber, entry.filter, entry.value)) }
                return
            }
            if let child = children[_TopicLevel(levels[index])] {
                child.collect(levels, from: index + 1, wildcards: true, into: &result)
            }
            if wildcards, let child = children[.singleLevelWildcard] {
                child.collect(levels, from: index + 1, wildcards: true, into: &result)
            }
        }
    }
}
