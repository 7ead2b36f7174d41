/// The broker's retained messages, one per topic name (MQTT 5.0 §3.3.1.3), found by topic
/// filter without scanning topics that cannot match.
///
/// A trie keyed by topic level. A literal filter level follows one child; `+` visits the
/// children of one node; `#` collects a whole subtree (including the node itself, since `#`
/// matches the parent level). At the root, wildcards skip levels that start with `$`
/// (§4.7.2, [MQTT-4.7.2-1]). Topic names are compared by UTF-8 bytes (§4.7.3).
///
/// Nodes live in one array and refer to each other by index, and every walk is a loop, so a
/// topic of 65,536 levels (65,535 slashes, the most MQTT allows) cannot overflow the stack.
///
/// Clearing a retained message when a PUBLISH has an empty payload, and whether a shared
/// subscription gets retained messages, are the broker's decisions, not this store's.
public struct MQTTRetainedStore<Message: Sendable>: Sendable {
    /// `nodes[0]` is the root; it never has an entry (topic names are not empty).
    private var nodes = [_Node()]
    private var freeNodes: [Int] = []

    /// The number of retained messages.
    public private(set) var count = 0

    public init() {}

    /// Whether no message is retained.
    public var isEmpty: Bool { count == 0 }

    /// The number of trie nodes in use, root included; for tests that check that removals
    /// free what they no longer need.
    public var _nodeCount: Int { nodes.count - freeNodes.count }

    /// Retains a message on a topic, replacing the one retained there before.
    ///
    /// - Returns: the message it replaced, if any.
    @discardableResult
    public mutating func set(_ topic: MQTTTopicName, _ message: Message) -> Message? {
        var current = 0
        for level in topic.levels {
            if let child = nodes[current].children[_TopicLevel(level)] {
                current = child
            } else {
                let child = allocateNode()
                nodes[current].children[_TopicLevel(owning: level)] = child
                current = child
            }
        }
        let old = nodes[current].entry?.message
        nodes[current].entry = (topic, message)
        if old == nil { count += 1 }
        return old
    }

    /// Forgets the message retained on a topic.
    ///
    /// - Returns: the message that was retained, if any.
    @discardableResult
    public mutating func remove(_ topic: MQTTTopicName) -> Message? {
        var path: [(parent: Int, level: _TopicLevel)] = []
        path.reserveCapacity(topic.levels.count)
        var current = 0
        for level in topic.levels {
            let key = _TopicLevel(level)
            guard let child = nodes[current].children[key] else { return nil }
            path.append((current, key))
            current = child
        }
        guard let old = nodes[current].entry?.message else { return nil }
        nodes[current].entry = nil
        count -= 1
        while let (parent, level) = path.popLast(), nodes[current].isEmpty {
            nodes[parent].children[level] = nil
            nodes[current] = _Node()  // drop the emptied dictionaries' storage
            freeNodes.append(current)
            current = parent
        }
        return old
    }

    /// The message retained on a topic, if any.
    public func message(for topic: MQTTTopicName) -> Message? {
        var current = 0
        for level in topic.levels {
            guard let child = nodes[current].children[_TopicLevel(level)] else { return nil }
            current = child
        }
        return nodes[current].entry?.message
    }

    /// Every retained message whose topic the filter matches, per
    /// ``MQTTTopicFilter/matches(_:)`` (for a shared subscription, its
    /// ``MQTTTopicFilter/topicFilter``). The order is unspecified.
    ///
    /// - Parameter filter: the filter of a new subscription.
    /// - Returns: the topics and their messages.
    public func matching(_ filter: MQTTTopicFilter) -> [(topic: MQTTTopicName, message: Message)] {
        let levels = filter.levels
        var result: [(topic: MQTTTopicName, message: Message)] = []
        // (node, index of the next filter level); a node at depth 0 is the root, where
        // wildcards skip `$` levels (§4.7.2).
        var pending: [(node: Int, depth: Int)] = [(0, 0)]
        var subtrees: [Int] = []
        while let (index, depth) = pending.popLast() {
            guard depth < levels.count else {
                if let entry = nodes[index].entry { result.append(entry) }
                continue
            }
            let level = levels[depth]
            if _isMultiLevelWildcard(level) {
                if let entry = nodes[index].entry { result.append(entry) }  // `#` matches the parent level too (§4.7.1.2)
                for (key, child) in nodes[index].children where !(depth == 0 && key.isSystem) { subtrees.append(child) }
            } else if _isSingleLevelWildcard(level) {
                for (key, child) in nodes[index].children where !(depth == 0 && key.isSystem) { pending.append((child, depth + 1)) }
            } else if let child = nodes[index].children[_TopicLevel(level)] {
                pending.append((child, depth + 1))
            }
        }
        while let index = subtrees.popLast() {
            if let entry = nodes[index].entry { result.append(entry) }
            subtrees.append(contentsOf: nodes[index].children.values)
        }
        return result
    }

    private mutating func allocateNode() -> Int {
        if let index = freeNodes.popLast() { return index }
        nodes.append(_Node())
        return nodes.count - 1
    }
}

extension MQTTRetainedStore {
    struct _Node: Sendable {
        /// Children by level, as indices into `nodes`.
        var children: [_TopicLevel: Int] = [:]
        /// The message retained on the topic that ends at this node.
        var entry: (topic: MQTTTopicName, message: Message)?

        var isEmpty: Bool { children.isEmpty && entry == nil }
    }
}
