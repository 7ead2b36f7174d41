/// The broker's subscription index: which subscriptions match a topic name, without looking
/// at filters that cannot match.
///
/// A trie keyed by topic level: a filter's levels are a path from the root, each node having
/// its literal children by level plus at most one `+` child and one `#` child. Matching a name
/// of n levels visits, at each level, the literal child, the `+` child and the `#` child only,
/// so its cost depends on the filters that share a path with the name, not on how many
/// subscriptions there are.
///
/// Nodes live in one array and refer to each other by index, and every walk is a loop: a
/// filter or name of 65,536 levels (65,535 slashes, the most MQTT allows) cannot overflow the
/// stack, neither while matching nor when the trie is dropped.
///
/// One value is kept per (filter, subscriber); subscribing again replaces it, as MQTT 5.0
/// §3.8.4 asks for an identical filter in the same session. Filters are compared by UTF-8
/// bytes, so `a/b` and `$share/g/a/b` are different subscriptions on the same path.
public struct SubscriptionTrie<Subscriber: Hashable & Sendable, Value: Sendable>: Sendable {
    /// One subscription that matched a topic name.
    public typealias Match = (subscriber: Subscriber, filter: MQTTTopicFilter, value: Value)

    /// `nodes[0]` is the root.
    private var nodes = [_Node()]
    /// Indices of `nodes` that are unused, for reuse.
    private var freeNodes: [Int] = []
    private var filtersBySubscriber: [Subscriber: Set<MQTTTopicFilter>] = [:]

    /// The number of (filter, subscriber) subscriptions.
    public private(set) var count = 0

    public init() {}

    /// Whether there are no subscriptions.
    public var isEmpty: Bool { count == 0 }

    /// The number of trie nodes in use, root included; for tests that check that removals
    /// free what they no longer need.
    public var _nodeCount: Int { nodes.count - freeNodes.count }

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
        var current = 0
        for level in filter.levels {
            let step = _Step(level)
            if let child = nodes[current].child(step) {
                current = child
            } else {
                let child = allocateNode()
                nodes[current].setChild(step.owned, child)
                current = child
            }
        }
        let key = _Key(subscriber: subscriber, filter: filter)
        let existed = nodes[current].subscriptions.updateValue(value, forKey: key) != nil
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
        guard removeFromTrie(filter, subscriber: subscriber) else { return false }
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
        for filter in filters { removeFromTrie(filter, subscriber: subscriber) }
        count -= filters.count
        return filters.count
    }

    /// The value stored for a subscription, or `nil` when there is none.
    public func value(for filter: MQTTTopicFilter, subscriber: Subscriber) -> Value? {
        var current = 0
        for level in filter.levels {
            guard let child = nodes[current].child(_Step(level)) else { return nil }
            current = child
        }
        return nodes[current].subscriptions[_Key(subscriber: subscriber, filter: filter)]
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
        let levels = topic.levels
        var result: [Match] = []
        // (node, index of the next level to match, whether wildcards may match it)
        var pending: [(node: Int, index: Int, wildcards: Bool)] = [(0, 0, !topic.isSystem)]
        while let (index, depth, wildcards) = pending.popLast() {
            if wildcards, let rest = nodes[index].multiLevel {
                // `#` matches the remaining levels, including none (the parent level, §4.7.1.2).
                appendSubscriptions(of: rest, to: &result)
            }
            guard depth < levels.count else {
                appendSubscriptions(of: index, to: &result)
                continue
            }
            if let child = nodes[index].children[_TopicLevel(levels[depth])] {
                pending.append((child, depth + 1, true))
            }
            if wildcards, let child = nodes[index].singleLevel {
                pending.append((child, depth + 1, true))
            }
        }
        return result
    }

    private func appendSubscriptions(of index: Int, to result: inout [Match]) {
        for (key, value) in nodes[index].subscriptions { result.append((key.subscriber, key.filter, value)) }
    }

    /// Removes the subscription from its node and frees the nodes it leaves empty.
    /// - Returns: whether it was there.
    @discardableResult
    private mutating func removeFromTrie(_ filter: MQTTTopicFilter, subscriber: Subscriber) -> Bool {
        var path: [(parent: Int, step: _Step)] = []
        path.reserveCapacity(filter.levels.count)
        var current = 0
        for level in filter.levels {
            let step = _Step(level)
            guard let child = nodes[current].child(step) else { return false }
            path.append((current, step))
            current = child
        }
        guard nodes[current].subscriptions.removeValue(forKey: _Key(subscriber: subscriber, filter: filter)) != nil else {
            return false
        }
        while let (parent, step) = path.popLast(), nodes[current].isEmpty {
            nodes[parent].setChild(step, nil)
            nodes[current] = _Node()  // drop the emptied dictionaries' storage
            freeNodes.append(current)
            current = parent
        }
        return true
    }

    private mutating func allocateNode() -> Int {
        if let index = freeNodes.popLast() { return index }
        nodes.append(_Node())
        return nodes.count - 1
    }
}

extension SubscriptionTrie {
    struct _Key: Hashable, Sendable {
        var subscriber: Subscriber
        var filter: MQTTTopicFilter
    }

    /// Which child a filter level leads to.
    enum _Step: Sendable {
        case literal(_TopicLevel)
        case singleLevel
        case multiLevel

        init(_ level: Substring) {
            if _isSingleLevelWildcard(level) {
                self = .singleLevel
            } else if _isMultiLevelWildcard(level) {
                self = .multiLevel
            } else {
                self = .literal(_TopicLevel(level))
            }
        }

        /// The same step with a key that owns its storage, for keeping in the trie.
        var owned: _Step {
            guard case .literal(let level) = self else { return self }
            return .literal(_TopicLevel(owning: level.text))
        }
    }

    struct _Node: Sendable {
        /// Literal children by level, as indices into `nodes`.
        var children: [_TopicLevel: Int] = [:]
        /// The `+` child.
        var singleLevel: Int?
        /// The `#` child.
        var multiLevel: Int?
        /// Subscriptions whose filter ends at this node.
        var subscriptions: [_Key: Value] = [:]

        var isEmpty: Bool { children.isEmpty && singleLevel == nil && multiLevel == nil && subscriptions.isEmpty }

        func child(_ step: _Step) -> Int? {
            switch step {
            case .literal(let level): children[level]
            case .singleLevel: singleLevel
            case .multiLevel: multiLevel
            }
        }

        mutating func setChild(_ step: _Step, _ child: Int?) {
            switch step {
            case .literal(let level): children[level] = child
            case .singleLevel: singleLevel = child
            case .multiLevel: multiLevel = child
            }
        }
    }
}
