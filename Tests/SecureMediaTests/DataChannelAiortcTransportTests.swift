import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import SecureMedia

/// aiortc's own SCTP and DCEP implementation (pure Python, a stack independent of usrsctp) as
/// the peer. aiortc's RTCSctpTransport only needs four things of its DTLS transport (`_role`,
/// `state`, `_send_data`, `_register_data_receiver`), so the script below gives it a stand-in
/// that carries the SCTP packets in plain UDP datagrams on loopback; our side is a
/// DataChannelTransport fed by a NIO datagram channel. DTLS itself is left out on both sides.
enum AiortcSCTPPeer {
    static let script = """
import asyncio, sys
from aiortc.rtcsctptransport import RTCSctpTransport, RTCSctpCapabilities
from aiortc.rtcdatachannel import RTCDataChannel, RTCDataChannelParameters

ROLE, SWIFT_PORT = sys.argv[1], int(sys.argv[2])

class FakeDtls:
    # What RTCSctpTransport needs of RTCDtlsTransport: SCTP packets go over plain UDP.
    def __init__(self, role):
        self._role = role
        self.state = "connected"
        self.receiver = None
        self.udp = None
    def _register_data_receiver(self, receiver):
        self.receiver = receiver
    def _unregister_data_receiver(self, receiver):
        self.receiver = None
    async def _send_data(self, data):
        self.udp.sendto(data, ("127.0.0.1", SWIFT_PORT))

class Datagrams(asyncio.DatagramProtocol):
    def __init__(self, queue):
        self.queue = queue
    def datagram_received(self, data, addr):
        self.queue.put_nowait(data)

async def main():
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()
    dtls = FakeDtls(ROLE)
    dtls.udp, _ = await loop.create_datagram_endpoint(lambda: Datagrams(queue), local_addr=("127.0.0.1", 0))
    sctp = RTCSctpTransport(dtls)

    def echo(channel):
        @channel.on("message")
        def on_message(message):
            channel.send(message)

    @sctp.on("datachannel")
    def on_datachannel(channel):
        print("remote-channel", channel.id, channel.label, channel.protocol, channel.ordered,
              channel.maxRetransmits, channel.maxPacketLifeTime, file=sys.stderr, flush=True)
        echo(channel)

    echo(RTCDataChannel(sctp, RTCDataChannelParameters(
        label="input", protocol="pod-arcade-input-v1", negotiated=True, id=0)))
    own = RTCDataChannel(sctp, RTCDataChannelParameters(label="from-aiortc", protocol="x"))

    @own.on("open")
    def on_open():
        own.send("hello from aiortc")

    async def pump():
        while True:
            data = await queue.get()
            if dtls.receiver is not None:
                await dtls.receiver._handle_data(data)

    pumping = asyncio.ensure_future(pump())
    print(dtls.udp.get_extra_info("sockname")[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # "go": the Swift side has started
    await sctp.start(RTCSctpCapabilities(maxMessageSize=262144), 5000)
    await loop.run_in_executor(None, sys.stdin.read)  # until the test closes stdin
    await sctp.stop()
    pumping.cancel()

asyncio.run(main())
"""

    static let available: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import aiortc.rtcsctptransport"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus == 0
        } catch {
            return false
        }
    }()
}

/// Feeds datagrams from the aiortc script to the transport (set once it exists).
private final class DatagramToTransport: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let transport = Mutex<DataChannelTransport?>(nil)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        transport.withLock { $0 }?.receive(envelope.data)
    }
}

extension UsrsctpTests {
    @Suite("Interop with aiortc's SCTP stack over UDP (no DTLS)", .enabled(if: AiortcSCTPPeer.available))
    struct AiortcInterop {
        @Test(
            "aiortc opens the negotiated input channel and in-band channels with us and echoes every size in order",
            .timeLimit(.minutes(1)), arguments: [SCTPAssociation.Role.client, .server])
        func echo(ourRole: SCTPAssociation.Role) async throws {
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("sctp-aiortc-\(UInt32.random(in: 0...UInt32.max))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let scriptURL = directory.appendingPathComponent("peer.py")
            try AiortcSCTPPeer.script.write(to: scriptURL, atomically: true, encoding: .utf8)

            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let inbound = DatagramToTransport()
            let udp = try await DatagramBootstrap(group: group)
                .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(inbound) } }
                .bind(host: "127.0.0.1", port: 0).get()
            let ourPort = try #require(udp.localAddress?.port)

            let stderrURL = directory.appendingPathComponent("stderr.txt")
            let process = try TestChildProcess(
                ["python3", scriptURL.path, ourRole == .client ? "server" : "client", "\(ourPort)"],
                errorOutput: .file(stderrURL.path), lifetime: .seconds(90))
            defer { process.killGroup() }
            let line = await process.readLine(timeout: .seconds(30)) ?? ""
            guard let peerPort = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                let log = String(decoding: (try? Data(contentsOf: stderrURL)) ?? Data(), as: UTF8.self)
                Issue.record("the aiortc script did not start: \(log)")
                return
            }
            let peerAddress = try SocketAddress(ipAddress: "127.0.0.1", port: peerPort)

            let controller = try DataChannelController(role: ourRole, configuration: .large)
            let (events, eventSink) = AsyncStream.makeStream(of: DataChannelControllerEvent.self)
            let transport = DataChannelTransport(
                controller: controller, eventLoop: udp.eventLoop,
                output: { packet in udp.writeAndFlush(AddressedEnvelope(remoteAddress: peerAddress, data: packet), promise: nil) },
                onEvent: { eventSink.yield($0) })
            inbound.transport.withLock { $0 = transport }
            let input = try controller.createDataChannel(label: "input", protocol: "pod-arcade-input-v1", negotiatedID: 0)
            let chat = try controller.createDataChannel(label: "chat", protocol: "text")
            #expect(chat.id == (ourRole == .client ? 2 : 1))
            try await udp.eventLoop.submit { try transport.start() }.get()
            process.write("go\n")

            var inputEvents = input.events.makeAsyncIterator()
            let opened = await inputEvents.next()
            #expect(opened == .open)

            // aiortc's own in-band channel arrives open and greets us.
            var remoteChannel: DataChannel?
            for await event in events {
                if case .channelOpened(let channel) = event {
                    remoteChannel = channel
                    break
                }
            }
            let fromAiortc = try #require(remoteChannel)
            #expect(fromAiortc.label == "from-aiortc")
            #expect(fromAiortc.protocol == "x")
            #expect(fromAiortc.id % 2 == (ourRole == .client ? 1 : 0), "aiortc follows the parity of its DTLS role")
            var greetings = fromAiortc.messages.makeAsyncIterator()
            let greeting = await greetings.next()
            #expect(greeting == .string("hello from aiortc"))

            let sizes = [1, 18, 28, 16384, 65536, 262_144]
            var atInput = input.messages.makeAsyncIterator()
            var atChat = chat.messages.makeAsyncIterator()
            var sent: [DataChannelMessage] = sizes.enumerated().map { .binary(pattern($1, seed: $0)) }
            sent += [.string(""), .binary(ByteBuffer()), .string("ünïcode ✓"), .binary(pattern(262_144, seed: 9)), .string("after")]
            for message in sent {
                try input.send(message)
                try chat.send(message)
            }
            let echoedOnInput = await take(sent.count, from: &atInput)
            let echoedOnChat = await take(sent.count, from: &atChat)
            #expect(echoedOnInput == sent)
            #expect(echoedOnChat == sent)

            // 2,000 small input events, echoed in order.
            let burst = (0..<2_000).map { DataChannelMessage.string("event \($0)") }
            for message in burst {
                while input.bufferedAmount > 256 * 1024 { await input.waitForBufferedAmountLow() }
                try input.send(message)
            }
            let echoedBurst = await take(burst.count, from: &atInput)
            #expect(echoedBurst == burst)

            // Closing our in-band channel resets its stream; aiortc resets its own in turn.
            var chatEvents = chat.events.makeAsyncIterator()
            chat.close()
            var closed: DataChannelEvent?
            while let event = await chatEvents.next() {
                if case .closed = event {
                    closed = event
                    break
                }
            }
            #expect(closed == .closed(.local))
            #expect(input.readyState == .open)
            #expect(controller.association.counters.malformedPacketsDropped == 0)

            try await udp.eventLoop.submit { transport.close() }.get()
            try await udp.close()
            try await group.shutdownGracefully()
            await process.stop(grace: .seconds(5))
        }
    }
}
