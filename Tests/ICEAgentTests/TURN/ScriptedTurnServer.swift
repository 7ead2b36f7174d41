import ICEAgent
import NIOCore
import STUNCore
import Testing

/// Builds the server's side of a TURN exchange for engine tests: challenges, signed answers.
struct ScriptedTurnServer {
    var realm = "pod.test"
    var nonce = "nonce-1"
    var username = "alice"
    var password = "secret"
    var relayed = TransportAddress("192.0.2.10:50000")!
    var mapped = TransportAddress("198.51.100.7:40000")!

    var key: StunKey { StunKey.longTerm(username: username, realm: realm, password: password) }

    /// Decodes what the client sent; fails the test if it is not STUN.
    func request(_ bytes: [UInt8]?, sourceLocation: SourceLocation = #_sourceLocation) throws -> StunMessage {
        let bytes = try #require(bytes, "the client sent nothing", sourceLocation: sourceLocation)
        return try StunMessage(decoding: bytes)
    }

    /// 401 with REALM and NONCE (RFC 8489 §9.2.3), optionally offering password algorithms.
    func challenge(_ request: StunMessage, algorithms: [PasswordAlgorithm]? = nil) -> [UInt8] {
        var attributes: [StunAttribute] = [.errorCode(.unauthenticated), .realm(realm), .nonce(nonce)]
        if let algorithms { attributes.append(.passwordAlgorithms(algorithms)) }
        return StunMessage(
            method: request.method, messageClass: .errorResponse, transactionID: request.transactionID,
            attributes: attributes
        ).encoded(fingerprint: true)
    }

    /// 438 with a new nonce (RFC 8489 §9.2.5).
    func staleNonce(_ request: StunMessage, newNonce: String) -> [UInt8] {
        StunMessage(
            method: request.method, messageClass: .errorResponse, transactionID: request.transactionID,
            attributes: [.errorCode(.staleNonce), .realm(realm), .nonce(newNonce)]
        ).encoded(fingerprint: true)
    }

    /// A success response signed with `signingKey` (the right key unless a test says otherwise).
    func success(_ request: StunMessage, _ attributes: [StunAttribute] = [], signingKey: StunKey? = nil, sign: Bool = true) -> [UInt8] {
        StunMessage(
            method: request.method, messageClass: .successResponse, transactionID: request.transactionID,
            attributes: attributes
        ).encoded(messageIntegrity: sign ? (signingKey ?? key) : nil, fingerprint: true)
    }

    /// An Allocate success: relayed, mapped, lifetime.
    func allocated(_ request: StunMessage, lifetime: UInt32 = 600) -> [UInt8] {
        success(request, [.xorRelayedAddress(relayed), .xorMappedAddress(mapped), .lifetime(seconds: lifetime)])
    }

    /// A signed error response.
    func error(_ request: StunMessage, code: Int, sign: Bool = true) -> [UInt8] {
        StunMessage(
            method: request.method, messageClass: .errorResponse, transactionID: request.transactionID,
            attributes: [.errorCode(StunErrorCode(code: code))]
        ).encoded(messageIntegrity: sign ? key : nil, fingerprint: true)
    }

    /// A Data indication from a peer (RFC 8656 §11.3).
    func dataIndication(from peer: TransportAddress, _ bytes: [UInt8]) -> [UInt8] {
        StunMessage(method: .data, messageClass: .indication, attributes: [.xorPeerAddress(peer), .data(bytes)]).encoded()
    }

    func configuration(mode: TurnClient.Mode = .datagram, lifetime: UInt32? = nil) -> TurnClient.Configuration {
        TurnClient.Configuration(username: username, password: password, mode: mode, requestedLifetime: lifetime)
    }
}

/// A fixed starting instant for simulated time.
let turnT0 = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

extension TurnClient {
    /// All pending events.
    mutating func drainEvents() -> [TurnEvent] {
        var out: [TurnEvent] = []
        while let event = pollEvent() { out.append(event) }
        return out
    }

    /// All pending transmissions.
    mutating func drainTransmits() -> [[UInt8]] {
        var out: [[UInt8]] = []
        while let bytes = pollTransmit() { out.append(bytes) }
        return out
    }
}

/// A client that went through 401 and is allocated at `turnT0`; events and transmits drained.
func allocatedTurnClient(
    _ server: ScriptedTurnServer, mode: TurnClient.Mode = .datagram, lifetime: UInt32 = 600,
    configure: (inout TurnClient.Configuration) -> Void = { _ in }
) throws -> TurnClient {
    var configuration = server.configuration(mode: mode)
    configure(&configuration)
    var client = TurnClient(configuration: configuration)
    client.allocate(now: turnT0)
    let first = try server.request(client.pollTransmit())
    client.handleReceive(server.challenge(first), now: turnT0)
    let second = try server.request(client.pollTransmit())
    client.handleReceive(server.allocated(second, lifetime: lifetime), now: turnT0)
    let events = client.drainEvents()
    try #require(events == [.allocated(relayed: server.relayed, mapped: server.mapped, lifetime: lifetime)])
    #expect(client.pollTransmit() == nil)
    return client
}
