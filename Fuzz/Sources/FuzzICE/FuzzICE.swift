// libFuzzer target for ICEAgent's parsers and receive paths: the input is one datagram (or one
// SDP candidate line). Every property is checked with `check` (a `precondition` whose message
// survives -O), so a violation is a crash that libFuzzer reports and saves with its input.
//
//  1. `IceCandidate(sdp:)` never crashes; what it accepts serializes to a line that parses to an
//     equal candidate, and serializing that again gives the same text.
//  2. `UDPMuxRouter.route` never crashes, counts every datagram exactly once, and never gives an
//     address to a session (only `confirm` does).
//  3. `IceAgent.handleReceive` never crashes and never accepts (`.handled`) a request or response
//     that carries no MESSAGE-INTEGRITY made with the agent's password: random bytes cannot.
//     Binding indications are keep-alives without integrity (RFC 8445 §11) and may be handled.
//  4. `TurnClient.handleReceive` during an allocation never crashes, whatever answers its
//     Allocate (the input is given the request's transaction id). An unauthenticated success
//     to the first, unauthenticated Allocate is accepted, as from a server without auth: the
//     96-bit random transaction id is what keeps strangers from answering.

import ICEAgent
import NIOCore
import STUNCore

@inline(__always)
private func check(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() { fatalError(message(), file: file, line: line) }
}

private let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
private let peer = TransportAddress("192.0.2.7:5000")!
private let local = try! IceCredentials(usernameFragment: "abcd", password: "0123456789abcdefghijkl")
private let remote = try! IceCredentials(usernameFragment: "wxyz", password: "lkjihgfedcba9876543210")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))

    // 1. The candidate grammar.
    let text = String(decoding: bytes, as: UTF8.self)
    if let candidate = try? IceCandidate(sdp: text) {
        let line = candidate.sdpValue
        guard let again = try? IceCandidate(sdp: line) else {
            check(false, "serialized candidate does not parse: \(line)")
            return 0
        }
        check(again == candidate, "round trip changed the candidate: \(line)")
        check(again.sdpValue == line, "serializing twice differs: \(line)")
    }

    // 2. The shared-port router.
    var router = UDPMuxRouter()
    router.register(ufrag: "abcd", for: .init(1))
    _ = router.route(bytes, from: peer)
    check(router.statistics.total == 1, "a datagram counted \(router.statistics.total) times")
    check(router.session(for: peer) == nil, "routing gave an address to a session")

    // 3. The agent (controlled, with the peer's credentials and a candidate).
    var agent = IceAgent(configuration: .init(role: .controlled), localCredentials: local, now: t0, randomSeed: 1)
    agent.addLocalCandidate(IceCandidate(address: TransportAddress("192.0.2.1:4000")!, type: .host), base: IceBaseID(0))
    agent.setRemoteCredentials(remote)
    agent.addRemoteCandidate(IceCandidate(address: peer, type: .host), now: t0)
    let outcome = agent.handleReceive(bytes, from: peer, on: IceBaseID(0), now: t0)
    let isIndication = bytes.count >= 2 && bytes[0] & 0x01 == 0 && bytes[1] & 0x10 != 0  // class bits C1 C0 = 01
    check(outcome != .handled || isIndication, "an unauthenticated request or response was accepted")
    while agent.pollTransmit() != nil {}
    while agent.pollEvent() != nil {}

    // 4. The TURN client while its Allocate is outstanding.
    var turn = TurnClient(configuration: .init(username: "u", password: "p"))
    turn.allocate(now: t0)
    var answer = bytes
    if let request = turn.pollTransmit(), request.count >= 20, answer.count >= 20 {
        // Let the input answer the outstanding Allocate: its transaction id is random.
        answer.replaceSubrange(8..<20, with: request[8..<20])
    }
    while turn.pollTransmit() != nil {}
    turn.handleReceive(answer, now: t0)
    while let event = turn.pollEvent() {
        if case .allocated(let relayed, _, _) = event {
            check(turn.relayedAddress == relayed, "allocated event and state disagree")
        }
    }
    while turn.pollTransmit() != nil {}
    return 0
}
