import ICEAgent
import NIOCore
import STUNCore
import Testing

@Suite struct HostAddressSelectionTests {
    private let all: [IPAddress] = [
        IPAddress("127.0.0.1")!, IPAddress("::1")!, IPAddress("192.0.2.4")!, IPAddress("fe80::1")!,
        IPAddress("169.254.1.1")!, IPAddress("2001:db8::4")!, IPAddress("192.0.2.4")!, IPAddress("fd00::9")!,
    ]

    @Test func loopbackAndLinkLocalAreLeftOutByDefault() {
        #expect(HostAddressSelection().usable(all) == [IPAddress("192.0.2.4")!, IPAddress("2001:db8::4")!, IPAddress("fd00::9")!])
    }

    @Test func loopbackIsOfferedWhenAsked() {
        let usable = HostAddressSelection(includeLoopback: true, includeIPv6: false).usable(all)
        #expect(usable == [IPAddress("127.0.0.1")!, IPAddress("192.0.2.4")!])
    }

    @Test func webrtcIPsAcceptsSeveralAddressesOfBothFamilies() throws {
        let parsed = try HostAddressSelection.parseAdvertisedAddresses(" 203.0.113.5, 192.168.1.20 ,[2001:db8::5],2001:db8::6")
        #expect(parsed == [IPAddress("203.0.113.5")!, IPAddress("192.168.1.20")!, IPAddress("2001:db8::5")!, IPAddress("2001:db8::6")!])
        #expect(try HostAddressSelection.parseAdvertisedAddresses("") == [])
        #expect(try HostAddressSelection.parseAdvertisedAddresses("  ") == [])
    }

    @Test(arguments: [("203.0.113.5,,1.2.3.4", 1), ("router.example", 0), ("1.2.3.4,300.1.1.1", 1), ("0.0.0.0", 0), ("fe80::1%eth0", 0)])
    func webrtcIPsNamesTheBadEntry(text: String, entry: Int) {
        #expect(throws: HostAddressSelectionError.self) { try HostAddressSelection.parseAdvertisedAddresses(text) }
        do {
            _ = try HostAddressSelection.parseAdvertisedAddresses(text)
        } catch {
            #expect(error.entry == entry)
        }
    }

    @Test func thisMachineHasAtLeastALoopbackAddress() throws {
        let addresses = try NetworkInterfaces.addresses()
        #expect(addresses.contains(IPAddress("127.0.0.1")!))
    }
}

@Suite struct ServerReflexiveGathererTests {
    private let server = TransportAddress("192.0.2.1:3478")!
    private let other = TransportAddress("192.0.2.2:3478")!
    private let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    private func answer(_ transmit: ServerReflexiveGatherer<Int>.Transmit, mapped: TransportAddress) throws -> StunMessage {
        let request = try StunMessage(decoding: transmit.bytes)
        #expect(request.method == .binding && request.messageClass == .request && request.hasFingerprint)
        return StunMessage(method: .binding, messageClass: .successResponse, transactionID: request.transactionID,
                           attributes: [.xorMappedAddress(mapped)])
    }

    @Test func eachBaseAndServerGetsItsOwnQueryAndAnswersTrickleOut() throws {
        var gatherer = ServerReflexiveGatherer<Int>()
        var rng = SystemRandomNumberGenerator()
        gatherer.start(base: 1, server: server, now: t0, using: &rng)
        gatherer.start(base: 2, server: server, now: t0, using: &rng)
        gatherer.start(base: 1, server: other, now: t0, using: &rng)
        var sent: [ServerReflexiveGatherer<Int>.Transmit] = []
        while let transmit = gatherer.pollTransmit() { sent.append(transmit) }
        #expect(sent.count == 3)
        let first = try #require(sent.first { $0.base == 2 })
        let mapped = TransportAddress("203.0.113.9:61000")!
        let r1 = gatherer.handleResponse(try answer(first, mapped: mapped), from: server, on: 2); #expect(r1)
        let r2 = gatherer.pollEvent(); #expect(r2 == .mapped(base: 2, server: server, mapped: mapped))
        let r3 = gatherer.pollEvent(); #expect(r3 == nil)
        #expect(!gatherer.isIdle)
    }

    @Test func anAnswerFromTheWrongAddressOrBaseIsNotTaken() throws {
        var gatherer = ServerReflexiveGatherer<Int>()
        var rng = SystemRandomNumberGenerator()
        gatherer.start(base: 1, server: server, now: t0, using: &rng)
        let polled = gatherer.pollTransmit()
        let transmit = try #require(polled)
        let reply = try answer(transmit, mapped: TransportAddress("203.0.113.9:1")!)
        let r4 = gatherer.handleResponse(reply, from: other, on: 1); #expect(!r4)
        let r5 = gatherer.handleResponse(reply, from: server, on: 7); #expect(!r5)
        let r6 = gatherer.pollEvent(); #expect(r6 == nil)
        let r7 = gatherer.handleResponse(reply, from: server, on: 1); #expect(r7)
        #expect(gatherer.isIdle)
    }

    @Test func aSilentServerIsRetriedThenReportedWithinThreeSeconds() throws {
        var gatherer = ServerReflexiveGatherer<Int>()
        var rng = SystemRandomNumberGenerator()
        gatherer.start(base: 1, server: server, now: t0, using: &rng)
        var sends = 0
        var now = t0
        var failedAt: NIODeadline?
        while let next = gatherer.nextTimeout() {
            while gatherer.pollTransmit() != nil { sends += 1 }
            now = next
            gatherer.handleTimeout(now: now)
            if case .failed(1, server, "no answer")? = gatherer.pollEvent() { failedAt = now }
        }
        #expect(sends == 4)
        let failed = try #require(failedAt)
        #expect(failed - t0 == .milliseconds(3_000))
    }

    @Test func anErrorAnswerEndsTheQueryWithItsCode() throws {
        var gatherer = ServerReflexiveGatherer<Int>()
        var rng = SystemRandomNumberGenerator()
        gatherer.start(base: 1, server: server, now: t0, using: &rng)
        let polled = gatherer.pollTransmit()
        let transmit = try #require(polled)
        let request = try StunMessage(decoding: transmit.bytes)
        let error = StunMessage(method: .binding, messageClass: .errorResponse, transactionID: request.transactionID,
                                attributes: [.errorCode(.badRequest)])
        let r8 = gatherer.handleResponse(error, from: server, on: 1); #expect(r8)
        guard case .failed(1, _, let reason)? = gatherer.pollEvent() else { Issue.record("no failure event"); return }
        #expect(reason.contains("400"))
    }
}
