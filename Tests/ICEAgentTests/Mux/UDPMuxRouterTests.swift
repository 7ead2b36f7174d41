import ICEAgent
import STUNCore
import Testing

/// A Binding request as a browser sends it: USERNAME `<our ufrag>:<their ufrag>`, integrity
/// with `password`, FINGERPRINT.
private func check(to localUfrag: String, from remoteUfrag: String = "peer", password: String = "p") -> [UInt8] {
    var rng = SystemRandomNumberGenerator()
    let message = StunMessage(
        method: .binding, messageClass: .request, transactionID: .random(using: &rng),
        attributes: [.username("\(localUfrag):\(remoteUfrag)"), .priority(1_853_824_767), .iceControlling(tieBreaker: 7)])
    return message.encoded(messageIntegrity: StunKey(bytes: Array(password.utf8)), fingerprint: true)
}

private func response() -> [UInt8] {
    var rng = SystemRandomNumberGenerator()
    return StunMessage(method: .binding, messageClass: .successResponse, transactionID: .random(using: &rng), attributes: [])
        .encoded(messageIntegrity: nil, fingerprint: true)
}

private let alice = TransportAddress("192.0.2.10:40000")!
private let bob = TransportAddress("198.51.100.7:50000")!
private let dtlsClientHello: [UInt8] = [22, 0xFE, 0xFD] + [UInt8](repeating: 0, count: 40)
private let srtp: [UInt8] = [0x80, 96] + [UInt8](repeating: 1, count: 30)

@Suite struct UDPMuxRouterTests {
    @Test func bindingRequestsAreRoutedByTheLocalUfragInTheirUsername() {
        var router = UDPMuxRouter()
        let r1 = router.register(ufrag: "aaaa", for: .init(1)); #expect(r1)
        let r2 = router.register(ufrag: "bbbb", for: .init(2)); #expect(r2)
        let r3 = router.route(check(to: "aaaa"), from: alice); #expect(r3 == .session(.init(1)))
        let r4 = router.route(check(to: "bbbb"), from: alice); #expect(r4 == .session(.init(2)))
        #expect(router.statistics.routedByUfrag == 2)
    }

    @Test func unknownUfragsAreDroppedAndCounted() {
        var router = UDPMuxRouter()
        router.register(ufrag: "aaaa", for: .init(1))
        for _ in 0..<100 { let r5 = router.route(check(to: "zzzz"), from: bob); #expect(r5 == .drop(.unknownUfrag)) }
        #expect(router.statistics.droppedUnknownUfrag == 100)
        #expect(router.session(for: bob) == nil)
    }

    @Test func nonStunFromAnUnconfirmedAddressIsDropped() {
        var router = UDPMuxRouter()
        router.register(ufrag: "aaaa", for: .init(1))
        // A check arrived, but until the agent authenticated it the address is not the session's.
        let r6 = router.route(check(to: "aaaa"), from: alice); #expect(r6 == .session(.init(1)))
        let r7 = router.route(dtlsClientHello, from: alice); #expect(r7 == .drop(.unknownAddress))
        let r8 = router.route(response(), from: alice); #expect(r8 == .drop(.unknownAddress))
        router.confirm(alice, for: .init(1))
        let r9 = router.route(dtlsClientHello, from: alice); #expect(r9 == .session(.init(1)))
        let r10 = router.route(srtp, from: alice); #expect(r10 == .session(.init(1)))
        let r11 = router.route(response(), from: alice); #expect(r11 == .session(.init(1)))
        let r12 = router.route(srtp, from: bob); #expect(r12 == .drop(.unknownAddress))
    }

    @Test func aForgedCheckWithAnotherSessionsUfragDoesNotMoveItsAddress() {
        var router = UDPMuxRouter()
        router.register(ufrag: "aaaa", for: .init(1))
        router.register(ufrag: "bbbb", for: .init(2))
        router.confirm(alice, for: .init(1))
        // The forged check reaches session 2's agent (which will reject it), but routing of
        // alice's media is unchanged because session 2 never confirms alice.
        let r13 = router.route(check(to: "bbbb", password: "wrong"), from: alice); #expect(r13 == .session(.init(2)))
        let r14 = router.route(srtp, from: alice); #expect(r14 == .session(.init(1)))
    }

    @Test func anAddressConfirmedByAnotherSessionMovesToIt() {
        var router = UDPMuxRouter()
        router.register(ufrag: "aaaa", for: .init(1))
        router.register(ufrag: "bbbb", for: .init(2))
        router.confirm(alice, for: .init(1))
        router.confirm(alice, for: .init(2))
        let r15 = router.route(srtp, from: alice); #expect(r15 == .session(.init(2)))
        router.unregister(.init(1))
        let r16 = router.route(srtp, from: alice); #expect(r16 == .session(.init(2)))
    }

    @Test func aServerResponseIsRoutedOnceByItsTransactionID() throws {
        var router = UDPMuxRouter()
        router.register(ufrag: "aaaa", for: .init(1))
        router.register(ufrag: "bbbb", for: .init(2))
        let stunServer = TransportAddress("192.0.2.99:3478")!
        var rng = SystemRandomNumberGenerator()
        let id = TransactionID.random(using: &rng)
        let answer = StunMessage(method: .binding, messageClass: .successResponse, transactionID: id,
                                 attributes: [.xorMappedAddress(alice)]).encoded(messageIntegrity: nil, fingerprint: true)
        router.expectResponse(to: id, for: .init(2))
        let first = router.route(answer, from: stunServer)
        #expect(first == .session(.init(2)))
        let again = router.route(answer, from: stunServer)
        #expect(again == .drop(.unknownAddress))
        #expect(router.statistics.routedByTransaction == 1)
    }

    @Test func aUfragCannotBeRegisteredTwice() {
        var router = UDPMuxRouter()
        let r17 = router.register(ufrag: "aaaa", for: .init(1)); #expect(r17)
        let r18 = router.register(ufrag: "aaaa", for: .init(2)); #expect(!r18)
        let r19 = router.register(ufrag: "aaaa", for: .init(1)); #expect(r19)
    }

    @Test func unregisteringASessionForgetsItsUfragsAndAddresses() {
        var router = UDPMuxRouter()
        router.register(ufrag: "aaaa", for: .init(1))
        router.register(ufrag: "cccc", for: .init(1))  // after an ICE restart
        router.confirm(alice, for: .init(1))
        router.unregister(.init(1))
        #expect(router.sessionCount == 0)
        let r20 = router.route(check(to: "aaaa"), from: alice); #expect(r20 == .drop(.unknownUfrag))
        let r21 = router.route(check(to: "cccc"), from: alice); #expect(r21 == .drop(.unknownUfrag))
        let r22 = router.route(srtp, from: alice); #expect(r22 == .drop(.unknownAddress))
    }

    @Test func theOldUfragStopsRoutingAfterARestart() {
        var router = UDPMuxRouter()
        router.register(ufrag: "aaaa", for: .init(1))
        router.register(ufrag: "dddd", for: .init(1))
        router.unregister(ufrag: "aaaa")
        let r23 = router.route(check(to: "aaaa"), from: alice); #expect(r23 == .drop(.unknownUfrag))
        let r24 = router.route(check(to: "dddd"), from: alice); #expect(r24 == .session(.init(1)))
    }

    @Test(arguments: [
        [UInt8](),
        [0x00],
        [0x00, 0x01, 0x00, 0x04] + [0x21, 0x12, 0xA4, 0x42] + [UInt8](repeating: 0, count: 12),  // length past end
        [0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42] + [UInt8](repeating: 0, count: 12) + [0x00, 0x06, 0x00, 0x40, 0x61, 0x61, 0x61, 0x3A],  // USERNAME length lies
        [0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42] + [UInt8](repeating: 0, count: 12) + [0x00, 0x06, 0x00, 0x04, 0x61, 0x61, 0x61, 0x61],  // no colon
        [0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42] + [UInt8](repeating: 0, count: 12) + [0x00, 0x06, 0x00, 0x04, 0x3A, 0x61, 0x61, 0x61],  // empty ufrag
        [0x03, 0x01, 0x00, 0x00, 0x00, 0x00],
    ])
    func malformedStunIsDroppedAndCounted(bytes: [UInt8]) {
        var router = UDPMuxRouter()
        router.register(ufrag: "aaa", for: .init(1))
        router.confirm(alice, for: .init(1))
        let r25 = router.route(bytes, from: alice); #expect(r25 == .drop(.malformed))
        #expect(router.statistics.droppedMalformed == 1)
    }

    @Test func theFirstByteDecidesStunOrNotAtEveryBoundary() {
        // RFC 7983 §7: 0..3 STUN; 4 and above is never parsed as STUN here.
        for first in UInt8(0)...255 {
            let bytes = [first] + [UInt8](repeating: 0, count: 40)
            let result = StunUsernamePeek.localUfrag(bytes)
            if first <= 3 { #expect(result != .notStun, "byte \(first)") } else { #expect(result == .notStun, "byte \(first)") }
        }
    }

    @Test func randomBytesNeverCrashTheRouter() {
        var router = UDPMuxRouter()
        router.register(ufrag: "aaaa", for: .init(1))
        var rng = SimSeededGenerator(seed: 42)
        for _ in 0..<20_000 {
            let count = Int(rng.next() % 80)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if count > 8, rng.next() % 2 == 0 {  // make many of them look like Binding requests
                bytes[0] = 0; bytes[1] = 1; bytes[4] = 0x21; bytes[5] = 0x12; bytes[6] = 0xA4; bytes[7] = 0x42
            }
            _ = router.route(bytes, from: bob)
        }
        #expect(router.statistics.total == 20_000)
        #expect(router.session(for: bob) == nil)
    }
}
