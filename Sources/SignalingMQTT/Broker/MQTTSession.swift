import NIOCore

/// A message as the broker stores and forwards it.
///
/// A class with constant fields: one message fans out to many subscribers and waits in their
/// queues and in-flight tables, and each of those holds a reference, not a copy of the topic,
/// payload and properties.
final class MQTTMessage: Sendable {
    let topic: String
    let payload: ByteBuffer
    let qos: MQTTQoS
    let retain: Bool
    let properties: MQTTProperties
    /// When the message expires (MQTT 5.0 §3.3.2.3.3), if it does.
    let expiresAt: NIODeadline?

    init(topic: String, payload: ByteBuffer, qos: MQTTQoS, retain: Bool, properties: MQTTProperties, expiresAt: NIODeadline?) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
        self.expiresAt = expiresAt
    }
}

/// A message waiting in a session's queue, with the subscription details it is delivered under.
struct MQTTQueuedMessage: Sendable {
    var message: MQTTMessage
    var qos: MQTTQoS
    var retain: Bool
    var subscriptionIdentifiers: [Int]
}

/// An outgoing QoS 1/2 message awaiting acknowledgement (MQTT 5.0 §4.3.2, §4.3.3).
struct MQTTInflight: Sendable {
    enum Stage: Sendable { case awaitingAck, awaitingComp }
    var queued: MQTTQueuedMessage
    var stage: Stage
}

/// The options of one subscription, as stored in the trie.
struct MQTTStoredSubscription: Sendable, Hashable {
    var options: MQTTSubscriptionOptions
    var identifier: Int?
}

/// Session state that outlives connections (MQTT 5.0 §4.1).
///
/// A class, so that the broker mutates a session's queue and in-flight table in place: copying
/// a struct out of the sessions dictionary and back would copy those collections on every
/// message (copy-on-write while the dictionary still holds the old value).
///
/// Not generic over the policy's identity type: the broker is compiled once, unspecialized, for
/// the policy of another module, and a generic session type made every sessions-dictionary
/// access look up generic metadata at run time. The identity is stored as an existential and
/// read back with ``MQTTBroker/identity(of:)``.
final class MQTTSession: @unchecked Sendable {
    // @unchecked: sessions are owned by one MQTTBroker value, which its runtime confines to one
    // event loop; they are never shared between brokers.
    let clientID: String
    var identityValue: any Hashable & Sendable
    var version: MQTTProtocolVersion
    var connection: MQTTConnectionID?
    /// Seconds the session survives its connection; `UInt32.max` = forever (v3.1.1 clean session 0).
    var expiryInterval: UInt32
    var expiresAt: NIODeadline?
    var subscriptions: [String: MQTTStoredSubscription] = [:]
    var queue: [MQTTQueuedMessage] = []
    var queueHead = 0
    var inflight: [UInt16: MQTTInflight] = [:]
    /// Inbound QoS 2 packet ids between PUBREC and PUBREL (MQTT 5.0 §4.3.3).
    var inboundQoS2: Set<UInt16> = []
    var nextPacketID: UInt16 = 1
    /// The will, boxed: most sessions have none, and an inline `MQTTWill?` (topic, payload and
    /// a full property set) would make every session a few hundred bytes larger.
    /// Set when the broker drops the session, for holders of a reference (a connection, a
    /// message being routed) to notice.
    var isDiscarded = false
    /// The ``MQTTBroker/routeEpoch`` of the last message routed to this session, to merge
    /// overlapping subscriptions without a dictionary.
    var routeMark: UInt64 = 0
    var will: MQTTWill? {
        get { willBox?.will }
        set { willBox = newValue.map(MQTTWillBox.init) }
    }
    private var willBox: MQTTWillBox?
    var willAt: NIODeadline?

    init(clientID: String, identity: some Hashable & Sendable, version: MQTTProtocolVersion, expiryInterval: UInt32) {
        self.clientID = clientID
        self.identityValue = identity
        self.version = version
        self.expiryInterval = expiryInterval
    }

    var queuedCount: Int { queue.count - queueHead }

    func enqueue(_ message: MQTTQueuedMessage) { queue.append(message) }

    func dequeue() -> MQTTQueuedMessage? {
        guard queueHead < queue.count else { return nil }
        let message = queue[queueHead]
        queueHead += 1
        if queueHead > 64 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        return message
    }

    func allocatePacketID() -> UInt16? {
        guard inflight.count < Int(UInt16.max) - 1 else { return nil }
        while true {
            let id = nextPacketID
            nextPacketID = nextPacketID == UInt16.max ? 1 : nextPacketID + 1
            if inflight[id] == nil { return id }
        }
    }
}

/// Per-connection state (MQTT 5.0 §3.1, §4.13). A class for the same reason as
/// ``MQTTSession``: the broker touches it for every packet and must not copy it.
final class MQTTConnectionState: @unchecked Sendable {
    // @unchecked: owned by one MQTTBroker value, confined to its runtime's event loop.
    enum Phase: Sendable {
        case awaitingConnect(deadline: NIODeadline)
        /// Indirect: the CONNECT is large and only held while its credentials are checked;
        /// inline it would make every idle connection's state several hundred bytes larger.
        indirect case authenticating(MQTTConnect, deadline: NIODeadline)
        case connected(clientID: String)
        case closed
    }

    let id: MQTTConnectionID
    var phase: Phase
    var decoder: MQTTPacketDecoder
    /// Bytes of a packet that has not fully arrived yet.
    var pendingBytes = ByteBuffer()
    var version: MQTTProtocolVersion = .v3_1_1
    /// Close when nothing arrives for 1.5 × keep-alive (MQTT 5.0 §3.1.2.10).
    var keepAlive: TimeAmount?
    var lastReceived: NIODeadline
    var isWritable = true
    /// The session while connected (saves a lookup by client id for every acknowledgement).
    var session: MQTTSession?
    /// Bytes encoded for this connection and not yet handed to the transport: every packet of
    /// one processing round goes out in one write (see ``MQTTBroker/pollOutput()``).
    var outgoing = ByteBuffer()
    /// True while the connection is listed in the broker's connections with outgoing bytes.
    var hasOutgoing = false
    /// The client's own Receive Maximum and Maximum Packet Size (MQTT 5.0 §3.1.2.11).
    var clientReceiveMaximum = Int(UInt16.max)
    var clientMaximumPacketSize = Int.max
    var topicAliases: [UInt16: String] = [:]
    /// Inbound QoS 1/2 publishes not yet completed (towards our Receive Maximum).
    var inboundUnacked = 0
    /// Retained topics this connection set that are cleared when it goes away.
    var retainedToClear: Set<String> = []
    /// True once a DISCONNECT arrived (normal: no will).
    var disconnectedCleanly = false
    /// Where this connection's last plain QoS 0 message went (see
    /// ``MQTTBroker/forwardIfRouted(_:_:)``); nil for connections that never published one.
    var forward: MQTTForwardRoute?

    init(id: MQTTConnectionID, phase: Phase, decoder: MQTTPacketDecoder, lastReceived: NIODeadline) {
        self.id = id
        self.phase = phase
        self.decoder = decoder
        self.lastReceived = lastReceived
    }
}

/// A will held by reference; see ``MQTTSession/will``.
final class MQTTWillBox: Sendable {
    let will: MQTTWill
    init(_ will: MQTTWill) { self.will = will }
}
