import Crypto
import Foundation
import JWTKit
import SignalingMQTT
import Synchronization
import Testing

@testable import ServerHost

/// An issuer made up by the test: P-256 keys, a JWKS document, and tokens it signs.
private struct TestIssuer {
    let url = "https://issuer.test/realms/pod"
    var keys: [(kid: String, key: P256.Signing.PrivateKey)]

    init(kids: [String]) {
        keys = kids.map { ($0, P256.Signing.PrivateKey()) }
    }

    var jwksJSON: String {
        let entries = keys.map { entry -> String in
            let point = entry.key.publicKey.x963Representation  // 0x04 || x || y (SEC 1 §2.3.3)
            let x = Self.base64URL(point[1..<33]), y = Self.base64URL(point[33..<65])
            return #"{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"\#(entry.kid)","x":"\#(x)","y":"\#(y)"}"#
        }
        return #"{"keys":[\#(entries.joined(separator: ","))]}"#
    }

    func token(
        kid: String, subject: String = "alice", audience: [String] = ["pod-arcade"], issuer: String? = nil,
        expires: Date, notBefore: Date? = nil, signingKey: P256.Signing.PrivateKey? = nil
    ) async throws -> String {
        guard let key = signingKey ?? keys.first(where: { $0.kid == kid })?.key else { throw UnknownTestKey() }
        let collection = JWTKeyCollection()
        let signer = try ES256PrivateKey(pem: key.pemRepresentation)
        await collection.add(ecdsa: signer, kid: JWKIdentifier(string: kid))
        let claims = OIDCIDTokenClaims(
            issuer: issuer ?? url, subject: subject, audience: audience, expires: expires, notBefore: notBefore)
        return try await collection.sign(claims, kid: JWKIdentifier(string: kid))
    }

    static func base64URL(_ bytes: Data) -> String {
        bytes.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

private struct UnknownTestKey: Error {}

/// A key set the test can change between fetches, counting fetches.
private final class KeySetSource: Sendable {
    let document: Mutex<String>
    let reachable = Mutex(true)
    init(_ json: String) { document = Mutex(json) }

    func fetch() throws -> String {
        guard reachable.withLock({ $0 }) else { throw OIDCIssuerTransport.Failure(description: "issuer down") }
        return document.withLock { $0 }
    }
}

@Suite struct OIDCTokenVerifierTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    private func verifier(_ source: KeySetSource, issuer: String = "https://issuer.test/realms/pod") async throws -> OIDCTokenVerifier {
        let verifier = OIDCTokenVerifier(
            issuer: issuer, clientID: "pod-arcade", leeway: 30, refetchInterval: 10, fetchKeySet: { try source.fetch() })
        try await verifier.loadKeys(now: start)
        return verifier
    }

    private func code(_ verifier: OIDCTokenVerifier, _ token: String, now: Date) async -> OIDCTokenError.Code? {
        do {
            _ = try await verifier.verify(token: token, now: now)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func aValidTokenIsAcceptedAndItsSubjectReturned() async throws {
        let issuer = TestIssuer(kids: ["k1"])
        let verifier = try await verifier(KeySetSource(issuer.jwksJSON))
        let token = try await issuer.token(kid: "k1", expires: start + 300)
        let claims = try await verifier.verify(token: token, now: start)
        #expect(claims.sub.value == "alice")
    }

    @Test func anExpiredTokenIsRefusedButTheLeewayIsHonoured() async throws {
        let issuer = TestIssuer(kids: ["k1"])
        let verifier = try await verifier(KeySetSource(issuer.jwksJSON))
        let token = try await issuer.token(kid: "k1", expires: start)
        #expect(await code(verifier, token, now: start + 20) == nil)
        #expect(await code(verifier, token, now: start + 31) == .expired)
    }

    @Test func aTokenNotYetValidIsRefused() async throws {
        let issuer = TestIssuer(kids: ["k1"])
        let verifier = try await verifier(KeySetSource(issuer.jwksJSON))
        let token = try await issuer.token(kid: "k1", expires: start + 600, notBefore: start + 120)
        #expect(await code(verifier, token, now: start) == .notYetValid)
        #expect(await code(verifier, token, now: start + 100) == nil)
    }

    @Test func aTokenSignedByAnotherKeyWithTheSameKidIsRefused() async throws {
        let issuer = TestIssuer(kids: ["k1"])
        let verifier = try await verifier(KeySetSource(issuer.jwksJSON))
        let token = try await issuer.token(kid: "k1", expires: start + 300, signingKey: P256.Signing.PrivateKey())
        #expect(await code(verifier, token, now: start) == .badSignature)
    }

    @Test func aTokenForAnotherAudienceIsRefused() async throws {
        let issuer = TestIssuer(kids: ["k1"])
        let verifier = try await verifier(KeySetSource(issuer.jwksJSON))
        let token = try await issuer.token(kid: "k1", audience: ["someone-else"], expires: start + 300)
        #expect(await code(verifier, token, now: start) == .wrongAudience)
        let both = try await issuer.token(kid: "k1", audience: ["someone-else", "pod-arcade"], expires: start + 300)
        #expect(await code(verifier, both, now: start) == nil)
    }

    @Test func aTokenFromAnotherIssuerIsRefused() async throws {
        let issuer = TestIssuer(kids: ["k1"])
        let verifier = try await verifier(KeySetSource(issuer.jwksJSON))
        let token = try await issuer.token(kid: "k1", issuer: "https://evil.test", expires: start + 300)
        #expect(await code(verifier, token, now: start) == .wrongIssuer)
    }

    @Test func anUnknownKidFetchesTheKeysAgainAndAcceptsARotatedKey() async throws {
        let old = TestIssuer(kids: ["k1"])
        let source = KeySetSource(old.jwksJSON)
        let verifier = try await verifier(source)
        let rotated = TestIssuer(kids: ["k2"])
        source.document.withLock { $0 = rotated.jwksJSON }
        let token = try await rotated.token(kid: "k2", expires: start + 600)
        #expect(await code(verifier, token, now: start + 60) == nil)
        #expect(await verifier.fetchCount == 2)
    }

    @Test func unknownKidsAreFetchedAtMostOncePerInterval() async throws {
        let issuer = TestIssuer(kids: ["k1"])
        let source = KeySetSource(issuer.jwksJSON)
        let verifier = try await verifier(source)
        let stranger = TestIssuer(kids: ["k9"])
        let token = try await stranger.token(kid: "k9", expires: start + 600)
        #expect(await code(verifier, token, now: start + 20) == .unknownKey)
        #expect(await code(verifier, token, now: start + 25) == .unknownKey)
        #expect(await verifier.fetchCount == 2)
        #expect(await code(verifier, token, now: start + 31) == .unknownKey)
        #expect(await verifier.fetchCount == 3)
    }

    @Test func anUnreachableIssuerLeavesTheCachedKeysInUse() async throws {
        let issuer = TestIssuer(kids: ["k1"])
        let source = KeySetSource(issuer.jwksJSON)
        let verifier = try await verifier(source)
        source.reachable.withLock { $0 = false }
        let stranger = TestIssuer(kids: ["k9"])
        #expect(await code(verifier, try await stranger.token(kid: "k9", expires: start + 600), now: start + 60) == .unknownKey)
        #expect(await code(verifier, try await issuer.token(kid: "k1", expires: start + 600), now: start + 61) == nil)
    }

    @Test(arguments: ["", "a.b", "not.a.jwt", "eyJhbGciOiJub25lIn0.e30.", "x.y.z.w"])
    func malformedOrUnsignedTokensAreRefused(token: String) async throws {
        let issuer = TestIssuer(kids: ["k1"])
        let verifier = try await verifier(KeySetSource(issuer.jwksJSON))
        let result = await code(verifier, token, now: start)
        #expect(result == .malformed || result == .unsupportedAlgorithm)
    }

    @Test func theAuthenticatorWantsTheUsernameUserColonSubject() async throws {
        let issuer = TestIssuer(kids: ["k1"])
        let verifier = try await verifier(KeySetSource(issuer.jwksJSON))
        let now = start
        let authenticator = OIDCAuthenticator(verifier: verifier, desktopPSK: "desk", clock: { now })
        let token = Array(try await issuer.token(kid: "k1", subject: "alice", expires: start + 300).utf8)
        let user = PodArcadeIdentity.user("user:alice")
        #expect(await authenticator.authenticate(identity: user, username: "user:alice", password: token) == .accepted)
        guard case .rejected(let wrongName) = await authenticator.authenticate(identity: user, username: "user:bob", password: token)
        else { Issue.record("user:bob was accepted with alice's token"); return }
        #expect(wrongName.code == .invalidToken)
        #expect(wrongName.reasonCodeRawValue == 0x86)
        guard case .rejected(let missing) = await authenticator.authenticate(identity: user, username: "user:alice", password: nil)
        else { Issue.record("no password was accepted"); return }
        #expect(missing.code == .missingPassword)
        let desktop = PodArcadeIdentity.desktop(try DesktopID("d1"))
        #expect(await authenticator.authenticate(identity: desktop, username: "d1", password: Array("desk".utf8)) == .accepted)
        #expect(await authenticator.authenticate(identity: desktop, username: "d1", password: token) != .accepted)
    }
}

@Suite struct RefusalCodeTests {
    @Test("credential errors become return code 5 for MQTT 3.1.1 clients and stay 0x86 for MQTT 5", arguments: [
        (PodArcadeAccessError.Code.wrongPassword, MQTTProtocolVersion.v3_1_1, UInt8(0x87)),
        (.missingPassword, .v3_1_1, 0x87), (.invalidToken, .v3_1_1, 0x87), (.notConfigured, .v3_1_1, 0x87),
        (.clientIdentifierNotValid, .v3_1_1, 0x85),
        (.wrongPassword, .v5, 0x86), (.invalidToken, .v5, 0x86), (.notConfigured, .v5, 0x87), (.clientIdentifierNotValid, .v5, 0x85),
    ] as [(PodArcadeAccessError.Code, MQTTProtocolVersion, UInt8)])
    func refusalCodes(code: PodArcadeAccessError.Code, version: MQTTProtocolVersion, expected: UInt8) {
        let policy = PodArcadeBrokerPolicy()
        #expect(policy.refusalCode(for: PodArcadeAccessError(code, reason: "test"), version: version).rawValue == expected)
    }
}
