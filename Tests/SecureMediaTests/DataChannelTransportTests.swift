import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import SecureMedia

extension UsrsctpTests {
    @Suite("Data channels driven by DataChannelTransport on an event loop")
    struct TransportTests {
        /// Where a transport's packets go: the other transport, set once both exist.
        final class Peer: Sendable {
            let target = Mutex<DataChannelTransport?>(nil)
        }

        /// A client and a server transport on one event loop of their own, each one's packets
        /// delivered to the other on the loop. Not started.
        static func transportPair() throws -> (
            MultiThreadedEventLoopGroup, any EventLoop, client: DataChannelTransport, server: DataChannelTransport
        ) {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let loop = group.next()
            let toServer = Peer()
            let toClient = Peer()
            let client = DataChannelTransport(
                controller: try DataChannelController(role: .client, configuration: .large), eventLoop: loop,
                output: { packet in
                    let target = toServer.target.withLock { $0 }
                    loop.execute { target?.receive(packet) }
                }, onEvent: { _ in })
            let server = DataChannelTransport(
                controller: try DataChannelController(role: .server, configuration: .large), eventLoop: loop,
                output: { packet in
                    let target = toClient.target.withLock { $0 }
                    loop.execute { target?.receive(packet) }
                }, onEvent: { _ in })
            toServer.target.withLock { $0 = server }
            toClient.target.withLock { $0 = client }
            return (group, loop, client, server)
        }

        /// Starts both transports on `loop` and waits until `channel` (client side) is open.
        static func start(
            _ client: DataChannelTransport, _ server: DataChannelTransport, on loop: any EventLoop, opening channel: DataChannel
        ) async throws {
            try await loop.submit {
                try client.start()
                try server.start()
            }.get()
            var events = channel.events.makeAsyncIterator()
            #expect(await events.next() == .open)
        }

        @Test("Two transports on a real event loop open the input channel and exchange messages", .timeLimit(.minutes(1)))
        func eventLoopPair() async throws {
            let (group, loop, client, server) = try Self.transportPair()
            let a = try client.controller.createDataChannel(label: "input", protocol: "pod-arcade-input-v1", negotiatedID: 0)
            let b = try server.controller.createDataChannel(label: "input", protocol: "pod-arcade-input-v1", negotiatedID: 0)
            try await Self.start(client, server, on: loop, opening: a)
            var atB = b.messages.makeAsyncIterator()
            var atA = a.messages.makeAsyncIterator()
            for index in 0..<100 {
                try a.send("key \(index)")
                try b.send("rumble \(index)")
            }
            let receivedByB = await take(100, from: &atB)
            let receivedByA = await take(100, from: &atA)
            #expect(receivedByB == (0..<100).map { DataChannelMessage.string("key \($0)") })
            #expect(receivedByA == (0..<100).map { DataChannelMessage.string("rumble \($0)") })
            try await loop.submit {
                client.close()
                server.close()
            }.get()
            try await group.shutdownGracefully()
        }

        @Test("A message handler runs on the loop in order and its replies leave in the same pass", .timeLimit(.minutes(1)))
        func messageHandlerEcho() async throws {
            let (group, loop, client, server) = try Self.transportPair()
            let a = try client.controller.createDataChannel(label: "input", protocol: "pod-arcade-input-v1", negotiatedID: 0)
            let b = try server.controller.createDataChannel(label: "input", protocol: "pod-arcade-input-v1", negotiatedID: 0)
            let offLoop = Mutex(0)
            b.setMessageHandler { message in
                if !loop.inEventLoop { offLoop.withLock { $0 += 1 } }
                // Sending from inside the handler must not deadlock on the controller.
                try? b.send(message)
            }
            try await Self.start(client, server, on: loop, opening: a)
            var atA = a.messages.makeAsyncIterator()
            let sent = (0..<500).map { DataChannelMessage.string("move \($0)") } + [.binary(ByteBuffer(repeating: 7, count: 70_000))]
            for message in sent { try a.send(message) }
            let echoed = await take(sent.count, from: &atA)
            #expect(echoed == sent)
            #expect(offLoop.withLock { $0 } == 0)
            #expect(server.controller.counters.messagesReceived == sent.count)
            try await loop.submit {
                client.close()
                server.close()
            }.get()
            try await group.shutdownGracefully()
        }

        /// The address of a local in the caller's frame: how deep the stack is there.
        @inline(never)
        static func stackDepthMarker() -> Int {
            var marker = 0
            return withUnsafeMutablePointer(to: &marker) { Int(bitPattern: $0) }
        }

        @Test("Calling a message handler costs the same after thousands of messages", .timeLimit(.minutes(1)))
        func messageHandlerDoesNotGrow() async throws {
            // Reading a function value out of a generic container through `inout` (Mutex's
            // withLock) re-wraps it in reabstraction thunks; written back each time, the chain
            // grew by two frames per message and an echo walked thousands of them.
            let (group, loop, client, server) = try Self.transportPair()
            let a = try client.controller.createDataChannel(label: "input", negotiatedID: 0)
            let b = try server.controller.createDataChannel(label: "input", negotiatedID: 0)
            let depths = Mutex<[Int]>([])
            b.setMessageHandler { _ in
                let depth = Self.stackDepthMarker()
                depths.withLock { $0.append(depth) }
            }
            try await Self.start(client, server, on: loop, opening: a)
            let count = 4_000
            for index in 0..<count { try a.send("move \(index)") }
            let deadline = ContinuousClock.now + .seconds(30)
            while depths.withLock({ $0.count }) < count, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            let recorded = depths.withLock { $0 }
            try #require(recorded.count == count)
            // The handler runs from the same drain each time: its frame stays within a few KiB,
            // where the growing chain put it thousands of frames (hundreds of KiB) deeper.
            let spread = recorded.max()! - recorded.min()!
            #expect(spread < 16 * 1024, "the handler's stack depth moved by \(spread) bytes over \(count) messages")
            try await loop.submit {
                client.close()
                server.close()
            }.get()
            try await group.shutdownGracefully()
        }
    }
}
