import NIOCore

/// Where a connection's last plain QoS 0 message went, so that the next one to the same topic is
/// forwarded as the bytes it arrived in (see ``MQTTBroker/forwardIfRouted(_:_:)``).
struct MQTTForwardRoute {
    /// The topic name's UTF-8 bytes, as on the wire.
    var topic: ByteBuffer
    /// ``MQTTBroker/forwardEpoch`` when the route was recorded: any later change to
    /// subscriptions, sessions or connections makes it stale.
    var epoch: UInt64
    /// The subscribers' connections, each once (overlapping subscriptions merged), all of the
    /// publisher's protocol version.
    var targets: [MQTTForwardTarget]
}

struct MQTTForwardTarget {
    var session: MQTTSession
    var connection: MQTTConnectionState
}

extension MQTTBroker {
    /// Forwards the PUBLISH at the front of `buffer` without decoding it, if it is a plain QoS 0
    /// message to the topic this connection last published to and nothing that decides where
    /// it goes has changed since; returns false (and leaves `buffer` alone) otherwise, for the
    /// full path to handle it.
    ///
    /// A desktop or browser publishes again and again to the same few topics; the full path
    /// builds a String topic, validates it, checks the policy, matches the subscription trie and
    /// encodes a copy per protocol version each time, and on an idle machine, with cold caches,
    /// that made a message wait about 20 µs for its first write, three times longer than the
    /// socket calls around it. Here the route recorded by the full path is checked against the
    /// live state the full path would look at and the bytes are shared, not copied.
    ///
    /// It is exactly what the full path would do, because:
    /// - the first byte is 0x30: PUBLISH, QoS 0, DUP 0, RETAIN 0 (MQTT 5.0 §3.3.1), so there is
    ///   no packet identifier, nothing to retain or acknowledge;
    /// - the topic is byte for byte one that was validated and allowed by the policy, which
    ///   decides from the identity and the topic only (MQTT 5.0 §4.7.3: topics compare as bytes);
    /// - for 5.0 the property length is 0: no topic alias, expiry, subscription identifiers or
    ///   other properties (§3.3.2.3), so the copy each subscriber gets, QoS 0 with RETAIN 0
    ///   (§3.3.1.3: retain-as-published keeps RETAIN 0), is these same bytes when the subscriber
    ///   speaks the publisher's version (the route records only such subscribers);
    /// - every subscriber can take it now: its connection is still the session's, writable,
    ///   nothing waits in the session's queue (order), and the packet fits the client's
    ///   Maximum Packet Size (§3.1.2.11.4); otherwise the full path decides what to queue, drop
    ///   or skip.
    mutating func forwardIfRouted(_ connection: MQTTConnectionState, _ buffer: inout ByteBuffer) -> Bool {
        guard let route = connection.forward, route.epoch == forwardEpoch else { return false }
        let start = buffer.readerIndex
        guard buffer.getInteger(at: start, as: UInt8.self) == 0x30,
            case .value(let remaining, let lengthBytes) = MQTTVariableByteInteger.peek(in: buffer, at: start + 1)
        else { return false }
        let total = 1 + lengthBytes + remaining
        let topicLength = route.topic.readableBytes
        let topicStart = start + 1 + lengthBytes + 2
        let hasProperties = connection.version == .v5
        guard total <= connection.decoder.maximumPacketSize, total <= buffer.readableBytes,
            remaining >= 2 + topicLength + (hasProperties ? 1 : 0),
            buffer.getInteger(at: topicStart - 2, as: UInt16.self) == UInt16(topicLength),
            !hasProperties || buffer.getInteger(at: topicStart + topicLength, as: UInt8.self) == 0
        else { return false }
        let sameTopic = buffer.withUnsafeReadableBytes { bytes in
            route.topic.withUnsafeReadableBytes { topic in
                topic.elementsEqual(UnsafeRawBufferPointer(rebasing: bytes[(topicStart - start)..<(topicStart - start + topicLength)]))
            }
        }
        guard sameTopic else { return false }
        for target in route.targets {
            let session = target.session
            let subscriber = target.connection
            guard !session.isDiscarded, session.connection == subscriber.id, subscriber.isWritable,
                session.queuedCount == 0, total <= subscriber.clientMaximumPacketSize
            else { return false }
        }
        let packet = buffer.getSlice(at: start, length: total)!
        buffer.moveReaderIndex(forwardBy: total)
        statistics.messagesReceived += 1
        forwardedMessages += 1
        // Share the received bytes only when the packet is all of them: a slice of a larger
        // read would keep the whole read alive while it waits in a slow subscriber's queue.
        let share = start == 0 && total == buffer.writerIndex
        for target in route.targets {
            let subscriber = target.connection
            if share && subscriber.outgoing.readableBytes == 0 {
                // A later packet for this connection copies them (copy on write).
                subscriber.outgoing = packet
            } else {
                subscriber.outgoing.writeImmutableBuffer(packet)
            }
            noteOutgoing(subscriber)
        }
        statistics.messagesDelivered += route.targets.count
        return true
    }

    /// After the full path delivered a plain QoS 0 PUBLISH (no retain flag, no properties) to
    /// every one of `targets`, records the route for ``forwardIfRouted(_:_:)`` when each
    /// subscriber is connected with the publisher's version and has no subscription identifier;
    /// otherwise clears it.
    mutating func recordForwardRoute(
        _ connection: MQTTConnectionState, topic: String,
        targets: [(session: MQTTSession, qos: MQTTQoS, retainAsPublished: Bool, identifiers: [Int])]
    ) {
        var recorded: [MQTTForwardTarget] = []
        recorded.reserveCapacity(targets.count)
        for target in targets {
            guard target.identifiers.isEmpty, let id = target.session.connection, let subscriber = connections[id],
                case .connected = subscriber.phase, subscriber.version == connection.version
            else {
                connection.forward = nil
                return
            }
            recorded.append(MQTTForwardTarget(session: target.session, connection: subscriber))
        }
        var bytes = ByteBuffer()
        bytes.writeString(topic)
        connection.forward = MQTTForwardRoute(topic: bytes, epoch: forwardEpoch, targets: recorded)
    }

    /// Something that decides where messages go changed (a subscription, a session, a
    /// connection, its writability): recorded routes are stale.
    @inline(__always)
    mutating func invalidateForwardRoutes() {
        forwardEpoch &+= 1
    }
}
