import ICEAgent
import NIOCore
import STUNCore
import Testing

/// Random server behaviour, random calls and random time against the engine's invariants.
struct TurnClientPropertyTests {
    let server = ScriptedTurnServer()

    @Test(arguments: 0..<8 as Range<UInt64>)
    func randomInputCallsAndTimeKeepTheClientConsistent(seed: UInt64) throws {
        var generator = TurnTestRandom(seed: 0x5455_524E_0000 + seed)
        func random(_ bound: Int) -> Int { Int(generator.next() % UInt64(bound)) }
        let peers = [
            TransportAddress("203.0.113.5:6000")!, TransportAddress("203.0.113.5:6001")!,
            TransportAddress("203.0.113.9:7000")!, TransportAddress("198.51.100.1:1")!,
        ]
        let mode: TurnClient.Mode = seed % 2 == 0 ? .datagram : .stream
        var client = try allocatedTurnClient(server, lifetime: UInt32(60 + random(600))) { $0.mode = mode }
        var now = turnT0
        var requests: [StunMessage] = []
        var finished = false

        for _ in 0..<1500 {
            if finished {
                // Start over with a fresh allocation, so every seed spends most steps allocated.
                client = try allocatedTurnClient(server, lifetime: UInt32(60 + random(600))) { $0.mode = mode }
                requests = []
                finished = false
            }
            var timerRan = false
            switch random(10) {
            case 0, 1:
                now = now + .milliseconds(Int64(random(20_000)))
                client.handleTimeout(now: now)
                timerRan = true
            case 2, 8, 9:
                // Answer an outstanding request: success, 438, an error, or forged.
                guard !requests.isEmpty else { continue }
                let request = requests.remove(at: random(requests.count))
                let answer: [UInt8]
                switch random(12) {
                case 0: answer = server.staleNonce(request, newNonce: "n\(random(1000))")
                case 1: answer = server.error(request, code: [400, 403, 437, 438, 441, 486, 508][random(7)])
                case 2: answer = server.success(request, [.lifetime(seconds: UInt32(random(700)))], sign: random(2) == 0)
                default: answer = server.success(request, [.lifetime(seconds: 600), .xorRelayedAddress(server.relayed)])
                }
                client.handleReceive(answer, now: now)
            case 3:
                let peer = peers[random(peers.count)]
                let bytes = (0..<random(40)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                if random(2) == 0 {
                    client.handleReceive(server.dataIndication(from: peer, bytes), now: now)
                } else {
                    client.handleReceive(ChannelData(channel: 0x4000 + UInt16(random(3)), data: bytes).encoded(), now: now)
                }
            case 4:
                var bytes = server.dataIndication(from: peers[0], [1, 2, 3, 4])
                bytes[random(bytes.count)] = UInt8(truncatingIfNeeded: generator.next())
                client.handleReceive(Array(bytes.prefix(random(bytes.count + 1))), now: now)
            case 5:
                try? client.send(to: peers[random(peers.count)], bytes: [UInt8(random(256))], now: now)
            case 6:
                let peer = peers[random(peers.count)]
                if random(2) == 0 { try? client.createPermission(for: peer, now: now) } else { _ = try? client.bindChannel(to: peer, now: now) }
            default:
                if random(40) == 0 { client.close(now: now) }
            }

            // Everything sent is well-formed STUN or ChannelData (padded over streams).
            while let bytes = client.pollTransmit() {
                if ChannelData.looksLikeChannelData(firstByte: bytes[0]) {
                    let message = try ChannelData(decoding: bytes)
                    if client.configuration.mode == .stream { #expect(bytes.count % 4 == 0) }
                    #expect(ChannelData.validChannels.contains(message.channel))
                } else {
                    let message = try StunMessage(decoding: bytes)
                    if message.messageClass == .request {
                        #expect(message.isAuthentic(key: server.key))
                        if !requests.contains(where: { $0.transactionID == message.transactionID }) { requests.append(message) }
                    }
                }
            }
            // Data is only ever delivered from peers with a permission or a channel.
            while let event = client.pollEvent() {
                switch event {
                case .data(let peer, _):
                    #expect(client.hasPermission(for: peer.ip, now: now) || client.boundChannel(to: peer, now: now) != nil)
                case .failed, .closed:
                    #expect(!finished, "a second terminal event")
                    finished = true
                default:
                    break
                }
            }
            // After a timer ran, the next one is in the future (a past one would spin the event loop).
            if timerRan, let next = client.nextTimeout() {
                #expect(next > now, "timer at \(next) is not after \(now)")
            }
            // A finished client has nothing left to do.
            if case .failed = client.state { #expect(client.nextTimeout() == nil && client.pollTransmit() == nil) }
            if client.state == .closed { #expect(client.nextTimeout() == nil && client.pollTransmit() == nil) }
        }
    }
}
