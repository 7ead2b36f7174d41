/// The broker's retained messages, one per topic name (MQTT 5.0 §3.3.1.3), found by topic
/// filter without scanning topics that cannot match.
///
/// A trie keyed by topic level. A literal filter level follows one child; `+` visits the
/// children of one node; `#` collects a whole subtree (including the node itself, since `#`
/// matches the parent level). At the root, wildcards skip levels that start with `$`
/// (§4.7.2, [MQTT-4.7.2-1]). Topic names are compared by UTF-8 bytes (§4.7.3).
///
/// Clearing a retained message when a PUBLISH has an empty payload, and whether a shared
/// subscription gets retained messages, are the broker's decisions, not this store's.
public struct MQTTRetainedStore<Message: Sendable>: Sendable {
    private var root = _Node()

    /// The number of retained messages.
    public private(set) var count = 0

    public init() {}

    /// Whether no message is retained.
    public var isEmpty: Bool { count == 0 }

    /// Retains a message on a topic, replacing the one retained there before.
    ///
    /// - Returns: the message it replaced, if any.
    @discardableResult
    public mutating func set(_ topic: MQTTTopicName, _ message: Message) -> Message? {
        let old = root.set(topic.levels[...], entry: (topic, message))
        if old == nil { count += 1 }
        return old
    }

    /// Forgets the message retained on a topic.
    ///
    /// - Returns: the message that was retained, if any.
    @discardableResult
    public mutating func remove(_ topic: MQTTTopicName) -> Message? {
        let old = root.remove(topic.levels[...])
        if old != nil { count -= 1 }
        return old
    }

    /// The message retained on a topic, if any.
    public func message(for topic: MQTTTopicName) -> Message? {
        root.node(at: topic.levels[...])?.entry?.message
    }

    /// Every retained message whose topic the filter matches, per
    /// ``MQTTTopicFilter/matches(_:)`` (for a shared subscription, its
    /// ``MQTTTopicFilter/topicFilter``). The order is unspecified.
    ///
    /// - Parameter filter: the filter of a new subscription.
    /// - Returns: the topics and their messages.
    public func matching(_ filter: MQTTTopicFilter) -> [(topic: MQTTTopicName, message: Message)] {
        var result: [(topic: MQTTTopicName, message: Message)] = []
        root.collect(filter.levels, from: 0, into: &result)
        return result
    }
}

extension MQTTRetainedStore {
    struct _Node: Sendable {
        var children: [_TopicLevel: _Node] = [:]
        /// The message retained on the topic that ends at this node.
        var entry: (topic: MQTTTopicName, message: Message)?

        var isEmpty: Bool { children.isEmpty && entry == nil }

        mutating func set(_ levels: ArraySlice<Substring>, entry new: (topic: MQTTTopicName, message: Message)) -> Message? {
            guard let first = levels.first else {
                defer { entry = new }
                return entry?.message
            }
            return children[_TopicLevel(owning: first), default: _Node()].set(levels.dropFirst(), entry: new)
        }

        /// Removes the entry at `levels` and prunes the nodes it leaves empty.
        mutating func remove(_ levels: ArraySlice<Substring>) -> Message? {
            guard let first = levels.first else {
                defer { entry = nil }
                return entry?.message
            }
            let level = _TopicLevel(first)
            guard let removed = children[level]?.remove(levels.dropFirst()) else { return nil }
            if children[level]?.isEmpty == true { children[level] = nil }
            return removed
        }

        func node(at levels: ArraySlice<Substring>) -> _Node? {
            guard let first = levels.first else { return self }
            return children[_TopicLevel(first)]?.node(at: levels.dropFirst())
        }

        /// Collects the entries below this node that `filter[index...]` matches; `index == 0`
        /// means this is the root, where wildcards skip `$` levels (§4.7.2).
        func collect(_ filter: [Substring], from index: Int, into result: inout [(topic: MQTTTopicName, message: Message)]) {
            guard index < filter.count else {
                if let entry { result.append(entry) }
                return
            }
            let level = filter[index]
            if _isMultiLevelWildcard(level) {
                if let entry { result.append(entry) }  // `#` matches the parent level too (§4.7.1.2)
                for (key, child) in children where !(index == 0 && key.isSystem) {
                    child.collectAll(into: &result)
                }
            } else if _isSingleLevelWildcard(level) {
                for (key, child) in children where !(index == 0 && key.isSystem) {
                    child.collect(filter, from: index + 1, into: &result)
                }
            } else if let child = children[_TopicLevel(level)] {
                child.collect(filter, from: index + 1, into: &result)
            }
        }

        func collectAll(into result: inout [(topic: MQTTTopicName, message: Message)]) {
            if let entry { result.append(entry) }
            for child in children.values { child.collectAll(into: &result) }
        }
    }
}
