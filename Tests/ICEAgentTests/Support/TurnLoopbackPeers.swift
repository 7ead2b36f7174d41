import ICEAgent
import NIOCore
import NIOPosix
import STUNCore
import Synchronization

/// Things that arrived, for tests to wait on (polling every 10 ms, never longer than a timeout).
final class TurnTestCollector<Item: Sendable>: Sendable {
    private let items = Mutex<[Item]>([])

    func append(_ item: Item) { items.withLock { $0.append(item) } }

    var snapshot: [Item] { items.withLock { $0 } }

    /// Waits until `predicate` holds for everything collected so far.
    /// - Returns: false when `timeout` passed first.
    func wait(timeout: Duration = .seconds(5), until predicate: ([Item]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if predicate(snapshot) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return predicate(snapshot)
    }
}

/// A plain UDP socket on loopback: the peer on the far side of the relay.
final class LoopbackUDPPeer: Sendable {
    private final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let received: TurnTestCollector<(from: SocketAddress, bytes: [UInt8])>
        init(received: TurnTestCollector<(from: SocketAddress, bytes: [UInt8])>) { self.received = received }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            received.append((envelope.remoteAddress, Array(envelope.data.readableBytesView)))
        }
    }

    let channel: any Channel
    let address: TransportAddress
    let received: TurnTestCollector<(from: SocketAddress, bytes: [UInt8])>

    /// Binds a UDP socket on `host` (any address in 127.0.0.0/8 works on Linux loopback).
    init(host: String = "127.0.0.1") async throws {
        let received = TurnTestCollector<(from: SocketAddress, bytes: [UInt8])>()
        self.received = received
        channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Handler(received: received)) }
            }
            .bind(host: host, port: 0).get()
        address = TransportAddress(ip: IPAddress(host)!, port: UInt16(channel.localAddress!.port!))
    }

    func send(_ bytes: [UInt8], to destination: TransportAddress) async throws {
        let remote = try SocketAddress(ipAddress: destination.ip.description, port: Int(destination.port))
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: bytes)))
    }

    /// True once `bytes` arrived from `source`.
    func waitFor(_ bytes: [UInt8], from source: TransportAddress, timeout: Duration = .seconds(5)) async -> Bool {
        await received.wait(timeout: timeout) { items in
            items.contains { $0.bytes == bytes && $0.from.port == Int(source.port) && $0.from.ipAddress == source.ip.description }
        }
    }

    func close() async {
        try? await channel.close()
    }
}

/// A UDP "server" that answers every datagram with `answer(datagram)` (or not at all when nil).
final class FakeUDPTurnServer: Sendable {
    private final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let answer: @Sendable ([UInt8]) -> [UInt8]?
        init(answer: @escaping @Sendable ([UInt8]) -> [UInt8]?) { self.answer = answer }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            guard let reply = answer(Array(envelope.data.readableBytesView)) else { return }
            context.writeAndFlush(
                wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: reply))),
                promise: nil)
        }
    }

    let channel: any Channel
    var port: Int { channel.localAddress!.port! }

    init(answer: @escaping @Sendable ([UInt8]) -> [UInt8]?) async throws {
        channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Handler(answer: answer)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func close() async {
        try? await channel.close()
    }
}

/// A TCP "server" that answers whatever it reads with fixed bytes.
final class FakeTCPTurnServer: Sendable {
    private final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let reply: [UInt8]
        init(reply: [UInt8]) { self.reply = reply }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: reply)), promise: nil)
        }
    }

    let channel: any Channel
    var port: Int { channel.localAddress!.port! }

    init(reply: [UInt8]) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Handler(reply: reply)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func close() async {
        try? await channel.close()
    }
}
