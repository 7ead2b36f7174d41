/// Checks a connection's credentials once ``PodArcadeAccessPolicy`` has classified it
/// (config.md: `AUTH_REQUIRED`, `DESKTOP_PSK`, `CLIENT_PSK`; OpenID Connect will implement the
/// same protocol). Asynchronous, so an implementation may fetch keys; the sans-IO broker waits
/// for the answer.
public protocol PodArcadeAuthenticator: Sendable {
    /// - Parameters:
    ///   - identity: who the client says it is.
    ///   - username: the CONNECT user name, if any.
    ///   - password: the CONNECT password bytes, if any.
    /// - Returns: ``PodArcadeAuthResult/accepted`` or why not.
    func authenticate(identity: PodArcadeIdentity, username: String?, password: [UInt8]?) async -> PodArcadeAuthResult
}

/// The answer of a ``PodArcadeAuthenticator``.
public enum PodArcadeAuthResult: Hashable, Sendable {
    case accepted
    /// Refuse the CONNECT with the error's ``PodArcadeAccessError/reasonCodeRawValue``.
    case rejected(PodArcadeAccessError)
}
