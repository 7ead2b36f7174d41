/// Who a connection is (protocol.md, "Identity and authentication"), decided by
/// ``PodArcadeAccessPolicy/identity(clientID:username:)`` from the CONNECT packet and then
/// checked by a ``PodArcadeAuthenticator``.
public enum PodArcadeIdentity: Hashable, Sendable, CustomStringConvertible {
    /// A desktop: client id `desktop:...`, username its desktop id.
    case desktop(DesktopID)
    /// A browser: client id `user:...`. The string is the username when one was given (with
    /// OIDC, `user:<token subject>`), otherwise the client id.
    case user(String)
    /// The server itself, publishing in process (`server/ice-servers`); never a network client.
    case server

    /// `desktop`, `user` or `server`, e.g. for statistics.
    public var kind: String {
        switch self {
        case .desktop: "desktop"
        case .user: "user"
        case .server: "server"
        }
    }

    public var description: String {
        switch self {
        case .desktop(let id): "desktop \(id)"
        case .user(let name): "user \(name)"
        case .server: "server"
        }
    }
}
