import AsyncHTTPClient
public import Foundation
public import NIOCore

/// Fetches an OpenID Connect issuer's discovery document and key set over HTTP(S)
/// (OpenID Connect Discovery 1.0 §4; RFC 7517 §5).
public struct OIDCIssuerTransport: Sendable {
    /// What the discovery document says that Pod Arcade needs.
    public struct Discovery: Sendable, Hashable, Decodable {
        public let issuer: String
        public let jwksURI: String

        enum CodingKeys: String, CodingKey {
            case issuer
            case jwksURI = "jwks_uri"
        }
    }

    /// Why the issuer could not be used.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public let issuer: URL
    /// Per request; the issuer answers in well under a second when it is up.
    public let timeout: TimeAmount
    static let maximumBodySize = 1 << 20

    public init(issuer: URL, timeout: TimeAmount = .seconds(5)) {
        self.issuer = issuer
        self.timeout = timeout
    }

    /// `<issuer>/.well-known/openid-configuration` (Discovery §4: the issuer with any trailing
    /// slash removed, then the well-known path).
    public var discoveryURL: String {
        var base = issuer.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/.well-known/openid-configuration"
    }

    /// Fetches and checks the discovery document: its `issuer` must be the configured one
    /// (Discovery §4.3).
    public func discover() async throws -> Discovery {
        let body = try await get(discoveryURL)
        let discovery: Discovery
        do {
            discovery = try JSONDecoder().decode(Discovery.self, from: Data(body))
        } catch {
            throw Failure(description: "\(discoveryURL) is not a discovery document with issuer and jwks_uri")
        }
        guard OIDCTokenVerifier.sameIssuer(discovery.issuer, issuer.absoluteString) else {
            throw Failure(description: "the discovery document names issuer \(discovery.issuer), not \(issuer.absoluteString)")
        }
        return discovery
    }

    /// Fetches the key set document as text.
    public func keySet(_ discovery: Discovery) async throws -> String {
        String(decoding: try await get(discovery.jwksURI), as: UTF8.self)
    }

    private func get(_ url: String) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: timeout)
        } catch {
            throw Failure(description: "cannot fetch \(url): \(error)")
        }
        guard response.status == .ok else {
            throw Failure(description: "\(url) answered HTTP \(response.status.code)")
        }
        let body = try await response.body.collect(upTo: Self.maximumBodySize)
        return Array(buffer: body)
    }
}
