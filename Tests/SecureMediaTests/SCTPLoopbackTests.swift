import NIOCore
import Synchronization
import Testing

@testable import SecureMedia

/// Every test that drives real usrsctp runs inside this suite, one at a time: usrsctp's timer
/// clock is process-wide, and serial tests keep one simulated time line.
@Suite("usrsctp associations", .serialized)
struct UsrsctpTests {}

/// Simulated time shared by all usrsctp tests (usrsctp's timer wheel is process-wide). It
/// starts a day ahead of the real monotonic clock, so that a test driving a transport with the
/// real clock never moves usrsctp's clock backwards under the simulated tests (the process-wide
/// clock ignores deadlines earlier than the latest one).
enum SCTPTestClock {
    private static let current = Mutex(NIODeadline.now() + .hours(24))

    static var now: NIODeadline { current.withLock { $0 } }

    @discardableResult
    static func advance(_ amount: TimeAmount) -> NIODeadline {
        current.withLock { value in
            value = value + amount
            return value
        }
    }
}


/// Two controllers wired back to back: the DTLS client's packets go to the DTLS server and back,
/// through an optional lossy, reordering "network", in simulated time.
final class SCTPPair {
    let client: DataChannelController
    let server: DataChannelController
    var clientEvents: [DataChannelControllerEvent] = []
    var serverEvents: [DataChannelControllerEvent] = []
    var lossRate = 0.0
    var reorder = false
    var rng: SplitMix64
    var packetsLost = 0
    var packetsMoved = 0
    /// Simulated time per round.
    var tick = TimeAmount.milliseconds(1)

    init(
        client clientConfiguration: SCTPAssociationConfiguration = .large,
        server serverConfiguration: SCTPAssociationConfiguration = .large, seed: UInt64 = 1
    ) throws {
        client = try DataChannelController(role: .client, configuration: clientConfiguration)
        server = try DataChannelController(role: .server, configuration: serverConfiguration)
        rng = SplitMix64(seed: seed)
    }

    func start() throws {
        try client.start(now: SCTPTestClock.now)
        try server.start(now: SCTPTestClock.now)
    }

    private func drain(_ controller: DataChannelController) -> [ByteBuffer] {
        var packets: [ByteBuffer] = []
        while let packet = controller.pollTransmit() { packets.append(packet) }
        return packets
    }

    private func network(_ packets: [ByteBuffer]) -> [ByteBuffer] {
        var out: [ByteBuffer] = []
        for packet in packets {
            if lossRate > 0, Double.random(in: 0..<1, using: &rng) < lossRate {
                packetsLost += 1
                continue
            }
            out.append(packet)
        }
        if reorder, out.count > 1 {
            for index in 1..<out.count where Double.random(in: 0..<1, using: &rng) < 0.1 {
                out.swapAt(index, index - 1)
            }
        }
        return out
    }

    /// One round: packets both ways, events drained, ``tick`` of simulated time, due timers.
    @discardableResult
    func step() -> Int {
        let toServer = network(drain(client))
        let toClient = network(drain(server))
        for packet in toServer { server.receive(packet) }
        for packet in toClient { client.receive(packet) }
        drainEvents()
        let now = SCTPTestClock.advance(tick)
        for controller in [client, server] {
            if let deadline = controller.nextTimeout(), deadline <= now { controller.handleTimeout(now: now) }
        }
        drainEvents()
        packetsMoved += toServer.count + toClient.count
        return toServer.count + toClient.count
    }

    func drainEvents() {
        while let event = client.pollEvent() { clientEvents.append(event) }
        while let event = server.pollEvent() { serverEvents.append(event) }
    }

    /// Steps until `condition` holds or `limit` of simulated time passed; returns whether it held.
    @discardableResult
    func run(until condition: () -> Bool, limit: TimeAmount = .seconds(120)) -> Bool {
        let end = SCTPTestClock.now + limit
        while SCTPTestClock.now < end {
            if condition() { return true }
            step()
        }
        return condition()
    }

    func establish() throws {
        try start()
        let up = run(until: { self.client.association.isEstablished && self.server.association.isEstablished })
        #expect(up, "association did not come up")
    }
}

extension SCTPAssociationConfiguration {
    /// Both sides accept 256 KiB messages (as Chromium announces).
    static var large: SCTPAssociationConfiguration {
        var configuration = SCTPAssociationConfiguration()
        configuration.localMaxMessageSize = 262_144
        configuration.remoteMaxMessageSize = 262_144
        return configuration
    }
}

/// Reads `count` messages that the controller's counters say have arrived (they are buffered,
/// so this never waits on the network).
func take(_ count: Int, from iterator: inout AsyncStream<DataChannelMessage>.Iterator) async -> [DataChannelMessage] {
    var messages: [DataChannelMessage] = []
    for _ in 0..<count {
        guard let message = await iterator.next() else { break }
        messages.append(message)
    }
    return messages
}

func pattern(_ size: Int, seed: Int) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.reserveCapacity(size)
    for index in 0..<size { buffer.writeInteger(UInt8(truncatingIfNeeded: index &* 31 &+ seed)) }
    return buffer
}

extension UsrsctpTests {
    @Suite("Two associations back to back")
    struct Loopback {
        @Test("Both DTLS roles send INIT and one association comes up with the offered streams")
        func associationComesUp() throws {
            let pair = try SCTPPair()
            try pair.establish()
            #expect(pair.client.association.streamCounts.outbound == 1024)
            #expect(pair.server.association.streamCounts.inbound == 1024)
            #expect(pair.clientEvents.contains { if case .associationEstablished = $0 { true } else { false } })
            #expect(pair.serverEvents.contains { if case .associationEstablished = $0 { true } else { false } })
        }

        @Test("The negotiated input channel and an in-band channel carry 1, 18, 28, 16384 and 262144 bytes both ways intact and in order")
        func messageSizesBothWays() async throws {
            let pair = try SCTPPair()
            let clientInput = try pair.client.createDataChannel(label: "input", protocol: "pod-arcade-input-v1", negotiatedID: 0)
            let serverInput = try pair.server.createDataChannel(label: "input", protocol: "pod-arcade-input-v1", negotiatedID: 0)
            let chat = try pair.client.createDataChannel(label: "chat", protocol: "text")
            try pair.establish()
            #expect(clientInput.readyState == .open)
            #expect(serverInput.readyState == .open)
            #expect(chat.id == 2, "the DTLS client takes even ids; 0 is the input channel")
            #expect(pair.run(until: { pair.server.channel(id: 2) != nil }))
            let remoteChat = try #require(pair.server.channel(id: 2))
            #expect(remoteChat.label == "chat")
            #expect(remoteChat.protocol == "text")
            #expect(remoteChat.negotiated == false)
            #expect(remoteChat.readyState == .open)

            // The trailing small message follows the largest one closely on the same stream.
            let sizes = [1, 18, 28, 16384, 262_144, 1]
            var clientInputMessages = clientInput.messages.makeAsyncIterator()
            var serverInputMessages = serverInput.messages.makeAsyncIterator()
            var chatMessages = chat.messages.makeAsyncIterator()
            var remoteChatMessages = remoteChat.messages.makeAsyncIterator()
            for (index, size) in sizes.enumerated() {
                try clientInput.send(pattern(size, seed: index))
                try serverInput.send(pattern(size, seed: index + 100))
                try chat.send(pattern(size, seed: index + 200))
                try remoteChat.send(pattern(size, seed: index + 300))
            }
            let expected = sizes.count * 2
            #expect(pair.run(until: {
                pair.client.counters.messagesReceived == expected && pair.server.counters.messagesReceived == expected
            }))
            let atServer = await take(sizes.count, from: &serverInputMessages)
            let atClient = await take(sizes.count, from: &clientInputMessages)
            let chatAtServer = await take(sizes.count, from: &remoteChatMessages)
            let chatAtClient = await take(sizes.count, from: &chatMessages)
            #expect(atServer == sizes.enumerated().map { DataChannelMessage.binary(pattern($1, seed: $0)) })
            #expect(atClient == sizes.enumerated().map { DataChannelMessage.binary(pattern($1, seed: $0 + 100)) })
            #expect(chatAtServer == sizes.enumerated().map { DataChannelMessage.binary(pattern($1, seed: $0 + 200)) })
            #expect(chatAtClient == sizes.enumerated().map { DataChannelMessage.binary(pattern($1, seed: $0 + 300)) })
        }

        @Test("Messages above half the receive buffer arrive in pieces and later messages keep their order")
        func partialDeliveryKeepsOrder() async throws {
            var sender = SCTPAssociationConfiguration()
            sender.remoteMaxMessageSize = 0
            var receiver = SCTPAssociationConfiguration()
            receiver.localMaxMessageSize = 0
            receiver.receiveBufferSize = 65_536
            let pair = try SCTPPair(client: sender, server: receiver)
            let a = try pair.client.createDataChannel(label: "input", negotiatedID: 0)
            let b = try pair.server.createDataChannel(label: "input", negotiatedID: 0)
            try pair.establish()
            // Loss and reordering make later messages complete before the pieces of a large one.
            pair.lossRate = 0.05
            pair.reorder = true
            var atB = b.messages.makeAsyncIterator()
            var sent: [DataChannelMessage] = []
            for round in 0..<10 {
                sent += [.binary(pattern(100_000 + round, seed: round)), .string("after \(round)"), .string("and \(round)")]
            }
            for message in sent { try a.send(message) }
            #expect(pair.run(until: { pair.server.counters.messagesReceived == sent.count }))
            let received = await take(sent.count, from: &atB)
            #expect(received == sent)
        }

        @Test("Strings, the empty string and the empty binary message arrive as sent")
        func emptyAndStringMessages() async throws {
            let pair = try SCTPPair()
            let a = try pair.client.createDataChannel(label: "input", negotiatedID: 0)
            let b = try pair.server.createDataChannel(label: "input", negotiatedID: 0)
            try pair.establish()
            var atB = b.messages.makeAsyncIterator()
            var atA = a.messages.makeAsyncIterator()
            let sent: [DataChannelMessage] = [.string(""), .binary(ByteBuffer()), .string("héllo ✓"), .binary(ByteBuffer(bytes: [0]))]
            for message in sent {
                try a.send(message)
                try b.send(message)
            }
            #expect(pair.run(until: { pair.server.counters.messagesReceived == 4 && pair.client.counters.messagesReceived == 4 }))
            let received1 = await take(4, from: &atB)
            #expect(received1 == sent)
            let received2 = await take(4, from: &atA)
            #expect(received2 == sent)
        }

        @Test("10,000 messages each way arrive without loss and in order", arguments: [0.0, 0.05])
        func tenThousandMessages(lossRate: Double) async throws {
            let pair = try SCTPPair(seed: 42)
            let a = try pair.client.createDataChannel(label: "input", negotiatedID: 0)
            let b = try pair.server.createDataChannel(label: "input", negotiatedID: 0)
            try pair.establish()
            pair.lossRate = lossRate
            pair.reorder = lossRate > 0
            var atB = b.messages.makeAsyncIterator()
            var atA = a.messages.makeAsyncIterator()
            let count = 10_000
            for index in 0..<count {
                var bytes = ByteBuffer()
                bytes.writeInteger(UInt32(index))
                bytes.writeRepeatingByte(0xAB, count: 24)
                try a.send(bytes)
                try b.send(.string("m\(index)"))
            }
            let arrived = pair.run(until: {
                pair.server.counters.messagesReceived == count && pair.client.counters.messagesReceived == count
            }, limit: .seconds(600))
            #expect(arrived, "server got \(pair.server.counters.messagesReceived), client \(pair.client.counters.messagesReceived)")
            let receivedByB = await take(pair.server.counters.messagesReceived, from: &atB)
            let receivedByA = await take(pair.client.counters.messagesReceived, from: &atA)
            let indices = receivedByB.compactMap { message -> UInt32? in
                guard case .binary(var bytes) = message else { return nil }
                return bytes.readInteger(as: UInt32.self)
            }
            #expect(indices == (0..<UInt32(count)).map { $0 })
            #expect(receivedByA == (0..<count).map { DataChannelMessage.string("m\($0)") })
            if lossRate > 0 { #expect(pair.packetsLost > 0) }
        }

        @Test("Unordered and partially reliable channels open on the peer with their parameters")
        func partialReliabilityParameters() async throws {
            let pair = try SCTPPair()
            try pair.establish()
            let rexmit = try pair.server.createDataChannel(
                label: "state", protocol: "p1", reliability: .init(ordered: false, limit: .maxRetransmits(3)), priority: 512)
            let timed = try pair.server.createDataChannel(
                label: "video-hints", reliability: .init(ordered: false, limit: .maxPacketLifeTime(milliseconds: 150)))
            let orderedTimed = try pair.server.createDataChannel(
                label: "t2", reliability: .init(ordered: true, limit: .maxPacketLifeTime(milliseconds: 1000)))
            #expect([rexmit.id, timed.id, orderedTimed.id] == [1, 3, 5], "the DTLS server takes odd ids")
            #expect(pair.run(until: { pair.client.channels.count == 3 }))
            let remote = pair.client.channels
            #expect(remote.map(\.id) == [1, 3, 5])
            #expect(remote[0].ordered == false)
            #expect(remote[0].maxRetransmits == 3)
            #expect(remote[0].maxPacketLifeTime == nil)
            #expect(remote[0].priority == 512)
            #expect(remote[0].protocol == "p1")
            #expect(remote[1].ordered == false)
            #expect(remote[1].maxPacketLifeTime == 150)
            #expect(remote[2].ordered == true)
            #expect(remote[2].maxPacketLifeTime == 1000)
            let opened = pair.clientEvents.compactMap { event -> UInt16? in
                if case .channelOpened(let channel) = event { return channel.id }
                return nil
            }
            #expect(opened == [1, 3, 5])
            // Data flows on the unordered channel once the ACK is back.
            var messages = remote[0].messages.makeAsyncIterator()
            try rexmit.send("x")
            #expect(pair.run(until: { pair.client.counters.messagesReceived == 1 }))
            let received3 = await messages.next()
            #expect(received3 == .string("x"))
        }

        @Test("Closing a channel resets its stream and the peer sees it closed; other channels go on")
        func closeResetsStream() async throws {
            let pair = try SCTPPair()
            let input = try pair.client.createDataChannel(label: "input", negotiatedID: 0)
            let peerInput = try pair.server.createDataChannel(label: "input", negotiatedID: 0)
            let chat = try pair.client.createDataChannel(label: "chat")
            try pair.establish()
            #expect(pair.run(until: { pair.server.channel(id: chat.id) != nil }))
            let remoteChat = try #require(pair.server.channel(id: chat.id))
            try chat.send("last words")
            chat.close()
            #expect(chat.readyState == .closing)
            #expect(pair.run(until: { chat.readyState == .closed && remoteChat.readyState == .closed }))
            #expect(chat.closeReason == .local)
            #expect(remoteChat.closeReason == .remote)
            var remoteMessages = remoteChat.messages.makeAsyncIterator()
            let received4 = await remoteMessages.next()
            #expect(received4 == .string("last words"))
            let received5 = await remoteMessages.next()
            #expect(received5 == nil, "the message stream finishes on close")
            #expect(pair.serverEvents.contains { if case .channelClosed(chat.id, .remote) = $0 { true } else { false } })
            #expect(throws: DataChannelError.self) { try chat.send("too late") }
            // The input channel is unaffected, and the id can be used again.
            var atPeer = peerInput.messages.makeAsyncIterator()
            try input.send("still here")
            #expect(pair.run(until: { pair.server.counters.messagesReceived == 2 }))
            let received6 = await atPeer.next()
            #expect(received6 == .string("still here"))
            let again = try pair.client.createDataChannel(label: "chat2")
            #expect(again.id == chat.id)
            #expect(pair.run(until: { pair.server.channel(id: again.id)?.label == "chat2" }))
        }

        @Test("Closing the association closes every channel on both sides")
        func associationClose() throws {
            let pair = try SCTPPair()
            let a = try pair.client.createDataChannel(label: "input", negotiatedID: 0)
            let b = try pair.server.createDataChannel(label: "input", negotiatedID: 0)
            try pair.establish()
            pair.client.close()
            #expect(a.readyState == .closed)
            #expect(pair.run(until: { b.readyState == .closed }))
            #expect(b.closeReason == .associationClosed)
            #expect(pair.serverEvents.contains { if case .associationClosed(.lost) = $0 { true } else { false } })
            #expect(pair.server.association.isClosed)
        }

        @Test("Back-pressure: bufferedAmount rises past the threshold, then the low-water event fires")
        func backPressure() async throws {
            let pair = try SCTPPair()
            let a = try pair.client.createDataChannel(label: "bulk", negotiatedID: 0)
            _ = try pair.server.createDataChannel(label: "bulk", negotiatedID: 0)
            try pair.establish()
            a.bufferedAmountLowThreshold = 64 * 1024
            var events = a.events.makeAsyncIterator()
            let received7 = await events.next()
            #expect(received7 == .open)
            let chunk = pattern(16384, seed: 7)
            for _ in 0..<200 { try a.send(chunk) }
            let peak = a.bufferedAmount
            #expect(peak > 64 * 1024, "200 × 16 KiB exceed the 1 MiB send buffer")
            #expect(peak <= 200 * 16384)
            #expect(pair.run(until: { a.bufferedAmount == 0 && pair.server.counters.messagesReceived == 200 }))
            let received8 = await events.next()
            #expect(received8 == .bufferedAmountLow)
            await a.waitForBufferedAmountLow()
        }

        @Test("A peer that vanishes mid-stream fails the association with an event; another association goes on")
        func vanishedPeer() async throws {
            let pair = try SCTPPair()
            let other = try SCTPPair(seed: 2)
            let a = try pair.client.createDataChannel(label: "input", negotiatedID: 0)
            _ = try pair.server.createDataChannel(label: "input", negotiatedID: 0)
            let c = try other.client.createDataChannel(label: "input", negotiatedID: 0)
            let d = try other.server.createDataChannel(label: "input", negotiatedID: 0)
            try pair.establish()
            try other.establish()
            // The server stops answering: every packet either way is lost from now on.
            pair.lossRate = 1.0
            try a.send("into the void")
            var atD = d.messages.makeAsyncIterator()
            var sentToD = 0
            let failed = pair.run(until: {
                if sentToD < 1000, c.readyState == .open {
                    try? c.send("tick \(sentToD)")
                    sentToD += 1
                }
                other.step()
                return pair.client.association.isClosed
            }, limit: .seconds(120))
            #expect(failed, "Association.Max.Retrans exhausted within two simulated minutes")
            #expect(pair.clientEvents.contains { if case .associationClosed(.lost) = $0 { true } else { false } })
            #expect(a.readyState == .closed)
            #expect(a.closeReason == .associationClosed)
            #expect(!other.client.association.isClosed && !other.server.association.isClosed)
            #expect(other.run(until: { other.server.counters.messagesReceived == sentToD }))
            let ticks = await take(sentToD, from: &atD)
            #expect(ticks == (0..<sentToD).map { DataChannelMessage.string("tick \($0)") })
        }

        @Test("A peer silent for four seconds (six timeouts) gets the queued messages once it answers again, not after a heartbeat 30 s later")
        func quietPeerRecovers() async throws {
            let pair = try SCTPPair()
            let a = try pair.client.createDataChannel(label: "input", negotiatedID: 0)
            let b = try pair.server.createDataChannel(label: "input", negotiatedID: 0)
            try pair.establish()
            var atB = b.messages.makeAsyncIterator()
            // Every packet is lost for four simulated seconds: with RTO.Min 50 ms the T3 timer
            // expires six times (50 ms doubling), more than usrsctp's default Path.Max.Retrans
            // of 5, which would leave the only path inactive (RFC 4960 §8.2).
            pair.lossRate = 1.0
            let count = 1000
            for index in 0..<count { try a.send("event \(index)") }
            pair.run(until: { false }, limit: .seconds(4))
            #expect(!pair.client.association.isClosed)
            pair.lossRate = 0
            let delivered = pair.run(until: { pair.server.counters.messagesReceived == count }, limit: .seconds(5))
            #expect(delivered, "\(pair.server.counters.messagesReceived) of \(count) arrived within 5 s; status \(String(describing: pair.client.association.transportStatus))")
            #expect(pair.client.association.transportStatus?.pathActive == true)
            let received = await take(pair.server.counters.messagesReceived, from: &atB)
            #expect(received == (0..<received.count).map { DataChannelMessage.string("event \($0)") })
        }

        @Test("The peer-channel handler sees every message of an in-band channel, including those sent right behind its open")
        func peerChannelHandlerEchoes() async throws {
            let pair = try SCTPPair()
            let seen = Mutex<[String]>([])
            pair.server.setPeerChannelMessageHandler { channel, message in
                if case .string(let text) = message { seen.withLock { $0.append("\(channel.label):\(text)") } }
                try? channel.send(message)
            }
            try pair.establish()
            let chat = try pair.client.createDataChannel(label: "chat")
            // Queued before the open is even sent: they leave in the same packets as the open.
            for index in 0..<5 { try chat.send("m\(index)") }
            var atClient = chat.messages.makeAsyncIterator()
            #expect(pair.run(until: { pair.client.counters.messagesReceived == 5 }, limit: .seconds(10)))
            let echoed = await take(5, from: &atClient)
            #expect(echoed == (0..<5).map { DataChannelMessage.string("m\($0)") })
            #expect(seen.withLock { $0 } == (0..<5).map { "chat:m\($0)" })
        }

        @Test("waitForBufferedAmountLow returns when its task is cancelled")
        func cancelledWait() async throws {
            let pair = try SCTPPair()
            let a = try pair.client.createDataChannel(label: "bulk", negotiatedID: 0)
            _ = try pair.server.createDataChannel(label: "bulk", negotiatedID: 0)
            try pair.establish()
            let chunk = pattern(16384, seed: 1)
            for _ in 0..<200 { try a.send(chunk) }
            #expect(a.bufferedAmount > 0)
            let waiter = Task { await a.waitForBufferedAmountLow() }
            waiter.cancel()
            await waiter.value
            #expect(a.bufferedAmount > 0, "it returned because of the cancellation, not the buffer")
        }

        @Test("Fifty associations in one process exchange messages independently")
        func fiftyAssociations() async throws {
            var pairs: [SCTPPair] = []
            var channels: [(DataChannel, DataChannel)] = []
            for index in 0..<50 {
                let pair = try SCTPPair(seed: UInt64(index))
                // Fifty pairs share one clock: 20 µs each keeps a round of all pairs at 1 ms.
                pair.tick = .microseconds(20)
                let a = try pair.client.createDataChannel(label: "input", negotiatedID: 0)
                let b = try pair.server.createDataChannel(label: "input", negotiatedID: 0)
                try pair.start()
                pairs.append(pair)
                channels.append((a, b))
            }
            let end = SCTPTestClock.now + .seconds(60)
            func allUp() -> Bool { pairs.allSatisfy { $0.client.association.isEstablished && $0.server.association.isEstablished } }
            while !allUp(), SCTPTestClock.now < end { for pair in pairs { pair.step() } }
            #expect(allUp())
            for (index, (a, b)) in channels.enumerated() {
                for n in 0..<20 {
                    try a.send("a\(index)-\(n)")
                    try b.send("b\(index)-\(n)")
                }
            }
            func allDelivered() -> Bool {
                pairs.allSatisfy { $0.client.counters.messagesReceived == 20 && $0.server.counters.messagesReceived == 20 }
            }
            while !allDelivered(), SCTPTestClock.now < end { for pair in pairs { pair.step() } }
            #expect(allDelivered())
            for (index, (a, b)) in channels.enumerated() {
                var atB = b.messages.makeAsyncIterator()
                var atA = a.messages.makeAsyncIterator()
                let received9 = await take(20, from: &atB)
                #expect(received9 == (0..<20).map { DataChannelMessage.string("a\(index)-\($0)") })
                let received10 = await take(20, from: &atA)
                #expect(received10 == (0..<20).map { DataChannelMessage.string("b\(index)-\($0)") })
            }
            // Closing one leaves the others running.
            pairs[0].client.close()
            try channels[1].0.send("after")
            while pairs[1].server.counters.messagesReceived < 21, SCTPTestClock.now < end {
                for pair in pairs { pair.step() }
            }
            #expect(pairs[1].server.counters.messagesReceived == 21)
            #expect(pairs[0].server.association.isClosed)
            #expect(!pairs[1].server.association.isClosed)
        }
    }
}
