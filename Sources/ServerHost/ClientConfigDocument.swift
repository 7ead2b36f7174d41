import Foundation

/// `GET /config.json` (config.md): how the web client should authenticate users. Never holds a
/// secret: only the method, and for OpenID Connect the issuer and the public client id.
public struct ClientConfigDocument: Sendable, Hashable, Encodable {
    public let authMethod: ServerConfiguration.AuthMethod
    public let oidcServer: String?
    public let oidcClientID: String?

    enum CodingKeys: String, CodingKey {
        case authMethod = "auth_method"
        case oidcServer = "oidc_server"
        case oidcClientID = "oidc_client_id"
    }

    /// The document for a configuration: the issuer and client id only when the method is `oidc`.
    public init(configuration: ServerConfiguration) {
        self.authMethod = configuration.authMethod
        if authMethod == .oidc {
            self.oidcServer = configuration.oidcServer?.absoluteString
            self.oidcClientID = configuration.oidcClientID
        } else {
            self.oidcServer = nil
            self.oidcClientID = nil
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(authMethod.rawValue, forKey: .authMethod)
        // Present as null rather than absent, so a client can read the three fields uniformly.
        try container.encode(oidcServer, forKey: .oidcServer)
        try container.encode(oidcClientID, forKey: .oidcClientID)
    }

    /// The JSON body, keys sorted so the bytes are stable.
    public func json() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding three optional strings cannot fail.
        return Array((try? encoder.encode(self)) ?? Data(#"{"auth_method":"none"}"#.utf8))
    }
}
