public import Foundation
public import JWTKit
public import Logging

/// The claims of an OpenID Connect id token that Pod Arcade checks (OpenID Connect Core 1.0
/// §2 and §3.1.3.7).
public struct OIDCIDTokenClaims: JWTPayload {
    public var iss: IssuerClaim
    public var sub: SubjectClaim
    public var aud: AudienceClaim
    public var exp: ExpirationClaim
    public var nbf: NotBeforeClaim?
    public var iat: IssuedAtClaim?

    public init(issuer: String, subject: String, audience: [String], expires: Date, notBefore: Date? = nil, issuedAt: Date? = nil) {
        self.iss = IssuerClaim(value: issuer)
        self.sub = SubjectClaim(value: subject)
        self.aud = AudienceClaim(value: audience)
        self.exp = ExpirationClaim(value: expires)
        self.nbf = notBefore.map { NotBeforeClaim(value: $0) }
        self.iat = issuedAt.map { IssuedAtClaim(value: $0) }
    }

    /// jwt-kit calls this after the signature checks out. The claims are checked afterwards by
    /// ``OIDCTokenVerifier/verify(token:now:)``, which is given the time rather than reading a
    /// clock, so this has nothing left to do.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Why an id token was refused. Match on ``code``; ``detail`` is for logs.
public struct OIDCTokenError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// Not three base64url parts, or the header or claims are not the expected JSON.
        case malformed
        /// `alg` is not RS256 or ES256 (RFC 7518 §3.1; `none` and HMAC are never accepted).
        case unsupportedAlgorithm
        /// No key of the issuer has this `kid`, even after fetching the key set again.
        case unknownKey
        /// The signature does not verify with the issuer's key.
        case badSignature
        /// `iss` is not the configured issuer.
        case wrongIssuer
        /// `aud` does not contain the client id.
        case wrongAudience
        /// `exp` has passed (allowing for the leeway).
        case expired
        /// `nbf` is still in the future (allowing for the leeway).
        case notYetValid
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code.rawValue): \(detail)" }
}

/// Verifies OpenID Connect id tokens against the issuer's JSON Web Key Set.
///
/// Keys are cached. A token whose `kid` is not in the cache makes the verifier fetch the set
/// again (the issuer rotated its keys), at most once per `refetchInterval`; when that fetch
/// fails the cached keys stay in use and the failure is logged.
public actor OIDCTokenVerifier {
    /// Fetches the issuer's current JWKS document (the JSON text of `jwks_uri`).
    public typealias KeySetFetcher = @Sendable () async throws -> String

    public let issuer: String
    public let clientID: String
    /// Allowed clock difference for `exp` and `nbf`.
    public let leeway: TimeInterval
    /// Least time between two fetches caused by unknown `kid`s.
    public let refetchInterval: TimeInterval

    private let fetchKeySet: KeySetFetcher
    private let logger: Logger
    private var keys = JWTKeyCollection()
    private var knownKeyIDs: Set<String> = []
    private var lastFetch: Date?
    /// How many times the key set was fetched (for tests and logs).
    public private(set) var fetchCount = 0

    public init(
        issuer: String, clientID: String, leeway: TimeInterval = 60, refetchInterval: TimeInterval = 30,
        logger: Logger = Logger(label: "pod-arcade.oidc"), fetchKeySet: @escaping KeySetFetcher
    ) {
        self.issuer = issuer
        self.clientID = clientID
        self.leeway = leeway
        self.refetchInterval = refetchInterval
        self.logger = logger
        self.fetchKeySet = fetchKeySet
    }

    /// Fetches the key set; at start-up a failure here means the issuer is unusable.
    /// - Throws: the fetcher's error, or jwt-kit's when the set holds no usable key.
    public func loadKeys(now: Date) async throws {
        let json = try await fetchKeySet()
        try await install(json: json, now: now)
    }

    private func install(json: String, now: Date) async throws {
        let set = try JSONDecoder().decode(JWKS.self, from: Data(json.utf8))
        let collection = JWTKeyCollection()
        var ids: Set<String> = []
        for key in set.keys {
            guard let id = key.keyIdentifier?.string else { continue }
            do {
                try await collection.add(jwk: key)
                ids.insert(id)
            } catch {
                logger.debug("OIDC key skipped", metadata: ["kid": "\(id)", "error": "\(error)"])
            }
        }
        guard !ids.isEmpty else {
            throw OIDCTokenError(.unknownKey, "the issuer's key set has no usable key with a kid")
        }
        keys = collection
        knownKeyIDs = ids
        lastFetch = now
        fetchCount += 1
        logger.debug("OIDC keys loaded", metadata: ["kids": "\(ids.sorted())"])
    }

    /// Checks a token's signature and claims.
    /// - Parameters:
    ///   - token: the compact JWS (RFC 7515 §7.1).
    ///   - now: the current time, for `exp`, `nbf` and the refetch rate limit.
    /// - Returns: the verified claims.
    public func verify(token: String, now: Date) async throws(OIDCTokenError) -> OIDCIDTokenClaims {
        let header = try Self.header(of: token)
        guard header.alg == "RS256" || header.alg == "ES256" else {
            throw OIDCTokenError(.unsupportedAlgorithm, "alg \(header.alg ?? "missing") is not RS256 or ES256")
        }
        guard let kid = header.kid ?? (knownKeyIDs.count == 1 ? knownKeyIDs.first : nil) else {
            throw OIDCTokenError(.unknownKey, "the token names no kid and the issuer has several keys")
        }
        if !knownKeyIDs.contains(kid) {
            await refetch(now: now, reason: kid)
            guard knownKeyIDs.contains(kid) else {
                throw OIDCTokenError(.unknownKey, "no key with kid \(kid)")
            }
        }
        let claims: OIDCIDTokenClaims
        do {
            claims = try await keys.verify(token, as: OIDCIDTokenClaims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw OIDCTokenError(.badSignature, "signature does not verify with key \(kid)")
        } catch {
            throw OIDCTokenError(.malformed, "\(error)")
        }
        try check(claims, now: now)
        return claims
    }

    /// The claim checks of OpenID Connect Core 1.0 §3.1.3.7 items 2, 3, 9 (and `nbf`, RFC 7519 §4.1.5).
    func check(_ claims: OIDCIDTokenClaims, now: Date) throws(OIDCTokenError) {
        guard Self.sameIssuer(claims.iss.value, issuer) else {
            throw OIDCTokenError(.wrongIssuer, "iss \(claims.iss.value) is not \(issuer)")
        }
        guard claims.aud.value.contains(clientID) else {
            throw OIDCTokenError(.wrongAudience, "aud \(claims.aud.value) does not contain \(clientID)")
        }
        guard now.timeIntervalSince(claims.exp.value) <= leeway else {
            throw OIDCTokenError(.expired, "expired at \(claims.exp.value)")
        }
        if let notBefore = claims.nbf?.value, notBefore.timeIntervalSince(now) > leeway {
            throw OIDCTokenError(.notYetValid, "not valid before \(notBefore)")
        }
    }

    private func refetch(now: Date, reason kid: String) async {
        if let lastFetch, now.timeIntervalSince(lastFetch) < refetchInterval { return }
        // Rate-limit failed attempts too.
        lastFetch = now
        do {
            let json = try await fetchKeySet()
            try await install(json: json, now: now)
            logger.info("OIDC keys fetched again for an unknown kid", metadata: ["kid": "\(kid)"])
        } catch {
            logger.warning(
                "OIDC issuer unreachable or its key set unusable; still using the cached keys",
                metadata: ["issuer": "\(issuer)", "error": "\(error)"])
        }
    }

    /// Issuers compare as strings (OpenID Connect Core 1.0 §3.1.3.7 item 2), but a trailing
    /// slash in the configured URL is forgiven.
    static func sameIssuer(_ a: String, _ b: String) -> Bool {
        func trimmed(_ s: String) -> Substring { s.hasSuffix("/") ? s.dropLast() : Substring(s) }
        return trimmed(a) == trimmed(b)
    }

    struct Header: Decodable {
        var alg: String?
        var kid: String?
    }

    /// The JOSE header of a compact JWS, decoded without verifying anything.
    static func header(of token: String) throws(OIDCTokenError) -> Header {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = base64URLDecode(parts[0]) else {
            throw OIDCTokenError(.malformed, "not a compact JWS (three base64url parts)")
        }
        do {
            return try JSONDecoder().decode(Header.self, from: data)
        } catch {
            throw OIDCTokenError(.malformed, "the header is not JSON with alg and kid strings")
        }
    }

    static func base64URLDecode(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64.append("=") }
        return Data(base64Encoded: base64)
    }
}
