import NIOCore
import Testing

@testable import SecureMedia

@Suite("SCTP packet structure check")
struct SCTPPacketCheckTests {
    /// A common header from port 5000 to 5000 and the given chunk bytes.
    static func packet(_ chunks: [UInt8]) -> [UInt8] {
        [0x13, 0x88, 0x13, 0x88, 1, 2, 3, 4, 0, 0, 0, 0] + chunks
    }

    @Test("A packet with a DATA chunk and a padded SACK passes and lists its chunk types")
    func wellFormed() throws {
        let data: [UInt8] = [0, 3, 0, 17] + [UInt8](repeating: 7, count: 13) + [0, 0, 0]
        let sack: [UInt8] = [3, 0, 0, 16] + [UInt8](repeating: 0, count: 12)
        #expect(try SCTPPacketCheck.validate(Self.packet(data + sack), localPort: 5000, remotePort: 5000) == [0, 3])
    }

    @Test("The last chunk may omit its padding")
    func lastChunkUnpadded() throws {
        let data: [UInt8] = [0, 3, 0, 17] + [UInt8](repeating: 7, count: 13)
        #expect(try SCTPPacketCheck.validate(Self.packet(data), localPort: 5000, remotePort: 5000) == [0])
    }

    @Test(
        "Malformed packets fail with the field and offset that broke",
        arguments: [
            ([UInt8](repeating: 0, count: 11), SCTPError.Code.truncatedPacket, 0),
            (SCTPPacketCheckTests.packet([]), .noChunks, 12),
            (SCTPPacketCheckTests.packet([0, 0, 0]), .truncatedChunk, 12),
            (SCTPPacketCheckTests.packet([0, 0, 0, 3]), .badChunkLength, 14),
            (SCTPPacketCheckTests.packet([0, 0, 0, 0]), .badChunkLength, 14),
            (SCTPPacketCheckTests.packet([0, 0, 0, 200, 1, 2, 3, 4]), .badChunkLength, 14),
            (SCTPPacketCheckTests.packet([3, 0, 0, 4, 0, 0, 0xFF, 0xFF]), .badChunkLength, 18),
            ([0x13, 0x89, 0x13, 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 4], .wrongPort, 0),
            ([0x13, 0x88, 0x13, 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 4], .wrongPort, 2),
        ] as [([UInt8], SCTPError.Code, Int)])
    func malformed(bytes: [UInt8], code: SCTPError.Code, offset: Int) {
        #expect {
            try SCTPPacketCheck.validate(bytes, localPort: 5000, remotePort: 5000)
        } throws: { error in
            guard let error = error as? SCTPError else { return false }
            return error.code == code && error.offset == offset
        }
    }

    @Test("Random bytes never crash the check")
    func randomBytes() {
        var rng = SplitMix64(seed: 9)
        for _ in 0..<20_000 {
            let count = Int.random(in: 0..<64, using: &rng)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if count >= 4, Bool.random(using: &rng) { bytes.replaceSubrange(0..<4, with: [0x13, 0x88, 0x13, 0x88]) }
            _ = try? SCTPPacketCheck.validate(bytes, localPort: 5000, remotePort: 5000)
        }
    }
}

extension UsrsctpTests {
    @Suite("Bad input to a live association")
    struct BadInput {
        /// A pair with the negotiated input channel open on both sides.
        static func inputPair(
            client: SCTPAssociationConfiguration = .large, server: SCTPAssociationConfiguration = .large
        ) throws -> (SCTPPair, DataChannel, DataChannel) {
            let pair = try SCTPPair(client: client, server: server)
            let a = try pair.client.createDataChannel(label: "input", protocol: "pod-arcade-input-v1", negotiatedID: 0)
            let b = try pair.server.createDataChannel(label: "input", protocol: "pod-arcade-input-v1", negotiatedID: 0)
            try pair.establish()
            return (pair, a, b)
        }

        /// Sends `text` from `a` and checks `b` gets it: the association still works.
        static func stillWorks(_ pair: SCTPPair, from a: DataChannel, to iterator: inout AsyncStream<DataChannelMessage>.Iterator, text: String) async {
            let before = pair.server.counters.messagesReceived
            do { try a.send(text) } catch { Issue.record("send failed: \(error)") }
            #expect(pair.run(until: { pair.server.counters.messagesReceived == before + 1 }, limit: .seconds(20)))
            let received1 = await iterator.next()
            #expect(received1 == .string(text))
        }

        @Test("Random bytes, truncated chunks and lying chunk lengths are dropped and counted; the association keeps working")
        func malformedPackets() async throws {
            let (pair, a, b) = try Self.inputPair()
            var atB = b.messages.makeAsyncIterator()
            var rng = SplitMix64(seed: 77)
            var refused = 0
            for round in 0..<2_000 {
                let count = Int.random(in: 0..<300, using: &rng)
                var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if count >= 16, round % 2 == 0 {
                    // Right ports, so the chunk walk is what decides.
                    bytes.replaceSubrange(0..<4, with: [0x13, 0x88, 0x13, 0x88])
                }
                if (try? SCTPPacketCheck.validate(bytes, localPort: 5000, remotePort: 5000)) == nil { refused += 1 }
                pair.server.receive(ByteBuffer(bytes: bytes))
                if round % 100 == 0 { pair.step() }
            }
            // Structurally valid packets with garbage inside (wrong tag, wrong CRC32c) pass our
            // check and are refused by usrsctp.
            for _ in 0..<200 {
                let body = (0..<40).map { _ in UInt8.random(in: 0...255, using: &rng) }
                pair.server.receive(ByteBuffer(bytes: SCTPPacketCheckTests.packet([0, 3, 0, 44] + body)))
            }
            pair.drainEvents()
            #expect(refused > 1_500)
            #expect(pair.server.association.counters.malformedPacketsDropped == refused)
            let dropped = pair.serverEvents.filter { if case .dropped(.malformedPacket) = $0 { true } else { false } }
            #expect(dropped.count == refused)
            #expect(pair.server.association.isEstablished)
            await Self.stillWorks(pair, from: a, to: &atB, text: "after the noise")
        }

        @Test("Every truncation of a real packet is either refused by the check or harmless")
        func truncatedRealPackets() async throws {
            let (pair, a, b) = try Self.inputPair()
            var atB = b.messages.makeAsyncIterator()
            try a.send(pattern(3000, seed: 1))
            var captured: [ByteBuffer] = []
            while let packet = pair.client.pollTransmit() { captured.append(packet) }
            #expect(!captured.isEmpty)
            for packet in captured {
                let bytes = Array(packet.readableBytesView)
                for length in 0..<bytes.count { pair.server.receive(ByteBuffer(bytes: bytes[0..<length])) }
            }
            for packet in captured { pair.server.receive(packet) }
            #expect(pair.run(until: { pair.server.counters.messagesReceived == 1 }))
            let received2 = await atB.next()
            #expect(received2 == .binary(pattern(3000, seed: 1)))
            #expect(pair.server.association.counters.malformedPacketsDropped > 0)
            await Self.stillWorks(pair, from: a, to: &atB, text: "ok")
        }

        @Test("A DATA_CHANNEL_OPEN with lying lengths is dropped, counted and its stream reset")
        func lyingDCEP() async throws {
            let (pair, _, b) = try Self.inputPair()
            var atB = b.messages.makeAsyncIterator()
            // Label length 200 with 4 label bytes present, on the client's stream 2.
            let lying: [UInt8] = [0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0x00, 200, 0x00, 0x00] + Array("chat".utf8)
            try pair.client.association.send(ByteBuffer(bytes: lying), streamID: 2, ppid: DataChannelPPID.dcep)
            // A protocol length running past the end, on stream 4.
            let lyingProtocol: [UInt8] = [0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0x00, 0x01, 0xFF, 0xFF] + Array("x".utf8)
            try pair.client.association.send(ByteBuffer(bytes: lyingProtocol), streamID: 4, ppid: DataChannelPPID.dcep)
            #expect(pair.run(until: { pair.server.counters.malformedDCEP == 2 }))
            #expect(pair.server.channel(id: 2) == nil)
            #expect(pair.server.channel(id: 4) == nil)
            let codes = pair.serverEvents.compactMap { event -> DCEPDecodingError.Code? in
                if case .dropped(.malformedDCEP(_, let error)) = event { return error.code }
                return nil
            }
            #expect(codes == [.truncated, .truncated])
            // A proper OPEN on the same stream works once the server's reset has gone through.
            pair.run(until: { false }, limit: .milliseconds(300))
            let chat = try pair.client.createDataChannel(label: "chat")
            #expect(chat.id == 2)
            #expect(pair.run(until: { pair.server.channel(id: 2)?.label == "chat" }))
            let a = try #require(pair.client.channel(id: 0))
            await Self.stillWorks(pair, from: a, to: &atB, text: "still open")
        }

        @Test("An OPEN on a stream id of the receiver's own parity is refused")
        func wrongParityOpen() throws {
            let (pair, _, _) = try Self.inputPair()
            let open = DCEPMessage.open(DCEPOpenMessage(label: "sneaky")).encoded
            // The client (even ids) opens on odd stream 3, which belongs to the server.
            try pair.client.association.send(open, streamID: 3, ppid: DataChannelPPID.dcep)
            #expect(pair.run(until: { pair.server.counters.rejectedOpens == 1 }))
            #expect(pair.server.channel(id: 3) == nil)
            #expect(pair.serverEvents.contains { if case .dropped(.rejectedOpen(3)) = $0 { true } else { false } })
        }

        @Test("Unknown PPIDs and data without a channel are dropped and counted; the channel stays open")
        func unknownPPID() async throws {
            let (pair, a, b) = try Self.inputPair()
            var atB = b.messages.makeAsyncIterator()
            try pair.client.association.send(ByteBuffer(bytes: [1, 2, 3]), streamID: 0, ppid: 99)
            try pair.client.association.send(ByteBuffer(bytes: [1]), streamID: 0, ppid: 0)
            try pair.client.association.send(ByteBuffer(bytes: [4]), streamID: 8, ppid: DataChannelPPID.binary)
            #expect(pair.run(until: {
                pair.server.counters.unknownPPIDs == 2 && pair.server.counters.messagesWithoutChannel == 1
            }))
            #expect(pair.serverEvents.contains { if case .dropped(.unknownPPID(0, 99)) = $0 { true } else { false } })
            #expect(pair.serverEvents.contains { if case .dropped(.noChannel(8)) = $0 { true } else { false } })
            #expect(b.readyState == .open)
            await Self.stillWorks(pair, from: a, to: &atB, text: "fine")
        }

        @Test("Pieces with the deprecated PPIDs 52 and 54 are joined with the final 51 or 53 piece")
        func deprecatedPartialPPIDs() async throws {
            let (pair, _, b) = try Self.inputPair()
            var atB = b.messages.makeAsyncIterator()
            let association = pair.client.association
            try association.send(ByteBuffer(string: "hel"), streamID: 0, ppid: DataChannelPPID.stringPartial)
            try association.send(ByteBuffer(string: "lo "), streamID: 0, ppid: DataChannelPPID.stringPartial)
            try association.send(ByteBuffer(string: "world"), streamID: 0, ppid: DataChannelPPID.string)
            try association.send(ByteBuffer(bytes: [1, 2]), streamID: 0, ppid: DataChannelPPID.binaryPartial)
            try association.send(ByteBuffer(bytes: [3]), streamID: 0, ppid: DataChannelPPID.binary)
            #expect(pair.run(until: { pair.server.counters.messagesReceived == 2 }))
            let joined = await take(2, from: &atB)
            #expect(joined == [.string("hello world"), .binary(ByteBuffer(bytes: [1, 2, 3]))])
        }

        @Test("A message over our max-message-size closes its channel with a reason and a counter")
        func oversizedIncoming() async throws {
            var small = SCTPAssociationConfiguration.large
            small.localMaxMessageSize = 1000
            // The client ignores the server's limit (a lying or buggy peer).
            let (pair, a, b) = try Self.inputPair(client: .large, server: small)
            let chat = try pair.client.createDataChannel(label: "chat")
            #expect(pair.run(until: { pair.server.channel(id: chat.id) != nil }))
            let remoteChat = try #require(pair.server.channel(id: chat.id))
            try chat.send(pattern(5000, seed: 3))
            #expect(pair.run(until: { remoteChat.readyState == .closed && chat.readyState == .closed }))
            #expect(remoteChat.closeReason == .oversizedMessage(size: 5000))
            #expect(chat.closeReason == .remote)
            #expect(pair.server.counters.oversizedMessages == 1)
            #expect(pair.server.association.counters.oversizedMessagesDropped == 1)
            var atB = b.messages.makeAsyncIterator()
            await Self.stillWorks(pair, from: a, to: &atB, text: "input unaffected")
        }

        @Test("An oversized message arriving in pieces closes its channel at once; later messages are not held behind it")
        func oversizedInPieces() async throws {
            var small = SCTPAssociationConfiguration.large
            small.localMaxMessageSize = 1000
            small.receiveBufferSize = 65_536
            let (pair, _, b) = try Self.inputPair(client: .large, server: small)
            let chat = try pair.client.createDataChannel(label: "chat")
            #expect(pair.run(until: { pair.server.channel(id: chat.id) != nil }))
            let remoteChat = try #require(pair.server.channel(id: chat.id))
            try chat.send(pattern(200_000, seed: 4))
            try chat.send("behind it")
            #expect(pair.run(until: { remoteChat.readyState == .closed && chat.readyState == .closed }))
            guard case .oversizedMessage(let size) = remoteChat.closeReason else {
                Issue.record("closed for \(String(describing: remoteChat.closeReason))")
                return
            }
            #expect(size > 1000 && size < 200_000, "reported when the pieces crossed the limit")
            #expect(pair.server.association.counters.oversizedMessagesDropped == 1)
            let a = try #require(pair.client.channel(id: 0))
            var atB = b.messages.makeAsyncIterator()
            await Self.stillWorks(pair, from: a, to: &atB, text: "input unaffected")
        }

        @Test("Sending more than the peer's max-message-size is refused before it reaches SCTP")
        func oversizedOutgoing() throws {
            var configuration = SCTPAssociationConfiguration.large
            configuration.remoteMaxMessageSize = 65_536
            let (pair, _, _) = try Self.inputPair(client: configuration)
            let a = try #require(pair.client.channel(id: 0))
            #expect {
                try a.send(pattern(65_537, seed: 0))
            } throws: { error in
                (error as? DataChannelError)?.code == .messageTooLarge
            }
            try a.send(pattern(65_536, seed: 0))
            #expect(pair.run(until: { pair.server.counters.messagesReceived == 1 }))
        }
    }
}
