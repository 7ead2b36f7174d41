/// Pre-shared key authentication (config.md: `AUTH_REQUIRED`, `DESKTOP_PSK`, `CLIENT_PSK`;
/// protocol.md: the password is the key).
///
/// - When authentication is not required, every identity is accepted, whatever it sends.
/// - When it is required, a desktop's password must be `DESKTOP_PSK` and a user's must be
///   `CLIENT_PSK`. An unset or empty key means none is configured, and that kind of client is
///   refused with ``PodArcadeAccessError/Code/notConfigured`` (0x87): with no key there is
///   nothing to check, so we fail closed. Deployments that authenticate users by OpenID
///   Connect route users to that authenticator instead.
/// - A missing password is ``PodArcadeAccessError/Code/missingPassword`` and a wrong one
///   ``PodArcadeAccessError/Code/wrongPassword``; both are 0x86 Bad User Name or Password.
/// - ``PodArcadeIdentity/server`` is in process and always accepted.
///
/// Keys are compared in time that depends only on the lengths, not on where the bytes differ.
public struct PSKAuthenticator: PodArcadeAuthenticator {
    private let authRequired: Bool
    private let desktopKey: [UInt8]?
    private let clientKey: [UInt8]?

    /// - Parameters:
    ///   - authRequired: `AUTH_REQUIRED`.
    ///   - desktopPSK: `DESKTOP_PSK`; `nil` or empty when unset.
    ///   - clientPSK: `CLIENT_PSK`; `nil` or empty when unset.
    public init(authRequired: Bool, desktopPSK: String?, clientPSK: String?) {
        self.authRequired = authRequired
        self.desktopKey = desktopPSK.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        self.clientKey = clientPSK.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
    }

    public func authenticate(identity: PodArcadeIdentity, username: String?, password: [UInt8]?) async -> PodArcadeAuthResult {
        check(identity: identity, password: password)
    }

    private func check(identity: PodArcadeIdentity, password: [UInt8]?) -> PodArcadeAuthResult {
        guard authRequired else { return .accepted }
        let key: [UInt8]?
        let variable: String
        switch identity {
        case .server: return .accepted
        case .desktop: (key, variable) = (desktopKey, "DESKTOP_PSK")
        case .user: (key, variable) = (clientKey, "CLIENT_PSK")
        }
        guard let key else {
            return .rejected(PodArcadeAccessError(
                .notConfigured, reason: "\(identity) refused: authentication is required and \(variable) is not set"))
        }
        guard let password else {
            return .rejected(PodArcadeAccessError(.missingPassword, reason: "\(identity) sent no password"))
        }
        guard Self.constantTimeEquals(password, key) else {
            return .rejected(PodArcadeAccessError(.wrongPassword, reason: "\(identity) sent a password that is not \(variable)"))
        }
        return .accepted
    }

    /// Compares two byte strings without an early exit: the time depends on the lengths only.
    private static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference: UInt8 = a.count == b.count ? 0 : 1
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
