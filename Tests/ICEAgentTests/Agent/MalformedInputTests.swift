import ICEAgent
import NIOCore
import STUNCore
import Testing

/// Seeded random and mutated input: nothing crashes, hangs or is accepted when corrupted.
@Suite("Malformed input")
struct MalformedInputTests {
    @Test func everySingleBitFlipOfAValidCheckIsRefused() {
        var agent = AgentUnitTests.agent()
        let valid = PeerMessages.check(to: AgentUnitTests.credentials)
        for bit in 0..<(valid.count * 8) {
            var corrupted = valid
            corrupted[bit / 8] ^= UInt8(1 << (bit % 8))
            let outcome = agent.handleReceive(corrupted, from: AgentUnitTests.remoteAddresses[0], on: IceBaseID(0), now: simAt(0))
            #expect(outcome != .handled, "bit \(bit)")
        }
        #expect(agent.statistics.checksReceived == 0)
        #expect(agent.drainTransmits().isEmpty)
        #expect(agent.statistics.fingerprintFailures + agent.statistics.malformedDrops > 0)
    }

    @Test func randomDatagramsNeverCrashTheAgent() {
        var random = SimSeededGenerator(seed: 1234)
        var agent = AgentUnitTests.agent(role: .controlling)
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        agent.addRemoteCandidate(AgentUnitTests.remote(0), now: simAt(0))
        for round in 0..<3_000 {
            var bytes = (0..<Int(random.next() % 120)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if round % 2 == 0, bytes.count >= 20 {
                // Make it look like STUN so the decoder gets further.
                bytes[0] &= 0x01
                bytes[2] = 0
                bytes[3] = UInt8((bytes.count - 20) & ~3)
                bytes[4] = 0x21; bytes[5] = 0x12; bytes[6] = 0xA4; bytes[7] = 0x42
                bytes = Array(bytes.prefix(20 + Int(bytes[3])))
            }
            _ = agent.handleReceive(bytes, from: AgentUnitTests.remoteAddresses[0], on: IceBaseID(0), now: simAt(Int64(round)))
            agent.handleTimeout(now: simAt(Int64(round)))
            _ = agent.drainTransmits()
        }
        #expect(agent.selectedPair == nil)
        #expect(agent.statistics.responsesReceived == 0)
    }

    @Test func randomCandidateLinesNeverCrashTheParser() {
        var random = SimSeededGenerator(seed: 99)
        let pieces = ["candidate:", "a=", "1", " ", "udp", "tcp", "typ", "host", "srflx", "raddr", "rport", "0", "65535",
                      "4294967295", "192.0.2.1", "::1", "x.local", "tcptype", "so", "generation", "\r\n", ":", "-", ""]
        var parsed = 0
        for _ in 0..<5_000 {
            let line = (0..<Int(random.next() % 16)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
            if let candidate = try? IceCandidate(sdp: line) {
                parsed += 1
                #expect((try? IceCandidate(sdp: candidate.sdpValue)) == candidate)
            }
        }
        #expect(parsed < 5_000)
    }

    @Test func aFloodOfChecksFromNewAddressesIsBounded() {
        var agent = AgentUnitTests.agent()
        agent.setRemoteCredentials(PeerMessages.peerCredentials)
        for index in 0..<1_000 {
            let source = TransportAddress(ip: .v4(0xCB00_7100 | UInt32(index % 250)), port: UInt16(10_000 + index))
            agent.handleReceive(
                PeerMessages.check(to: AgentUnitTests.credentials, transactionID: .init(high: UInt64(index), low: 7)),
                from: source, on: IceBaseID(0), now: simAt(Int64(index)))
            _ = agent.drainTransmits()
        }
        // Every check is answered, but only the first 64 sources become candidates.
        #expect(agent.statistics.responsesSent == 1_000)
        var transactionsDue = 0
        var now: Int64 = 1_000
        while let next = agent.nextTimeout(), transactionsDue < 10_000 {
            now = max(now, simMillisecondsRoundingUp(next))
            agent.handleTimeout(now: simAt(now))
            transactionsDue += agent.drainTransmits().count
        }
        #expect(transactionsDue <= 64 * 7)
        #expect(agent.connectionState == .failed)
    }
}
