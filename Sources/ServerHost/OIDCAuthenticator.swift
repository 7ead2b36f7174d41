public import Foundation
public import SignalingMQTT

/// Authentication when users log in with OpenID Connect (config.md: `OIDC_SERVER`,
/// `OIDC_CLIENT_ID`; protocol.md: the password is an id token and the username
/// `user:<token subject>`). Desktops still present `DESKTOP_PSK`, checked by ``PSKAuthenticator``.
public struct OIDCAuthenticator: PodArcadeAuthenticator {
    private let verifier: OIDCTokenVerifier
    private let desktops: PSKAuthenticator
    private let clock: @Sendable () -> Date

    /// - Parameters:
    ///   - verifier: checks id tokens against the issuer's keys.
    ///   - desktopPSK: `DESKTOP_PSK`.
    ///   - clock: the current time, for token expiry.
    public init(verifier: OIDCTokenVerifier, desktopPSK: String?, clock: @escaping @Sendable () -> Date) {
        self.verifier = verifier
        self.desktops = PSKAuthenticator(authRequired: true, desktopPSK: desktopPSK, clientPSK: nil)
        self.clock = clock
    }

    public func authenticate(identity: PodArcadeIdentity, username: String?, password: [UInt8]?) async -> PodArcadeAuthResult {
        switch identity {
        case .server: return .accepted
        case .desktop: return await desktops.authenticate(identity: identity, username: username, password: password)
        case .user: break
        }
        guard let password, !password.isEmpty else {
            return .rejected(PodArcadeAccessError(.missingPassword, reason: "\(identity) sent no id token"))
        }
        guard let token = String(validating: password, as: UTF8.self) else {
            return .rejected(PodArcadeAccessError(.invalidToken, reason: "\(identity) sent a password that is not UTF-8"))
        }
        let claims: OIDCIDTokenClaims
        do {
            claims = try await verifier.verify(token: token, now: clock())
        } catch {
            return .rejected(PodArcadeAccessError(.invalidToken, reason: "\(identity) sent an id token that was refused: \(error)"))
        }
        let expected = "user:\(claims.sub.value)"
        guard username == expected else {
            return .rejected(PodArcadeAccessError(
                .invalidToken, reason: "username \(username ?? "(none)") is not \(expected), the token's subject"))
        }
        return .accepted
    }
}
