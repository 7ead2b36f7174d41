import Foundation

/// One entry of an ICE server list, the `RTCIceServer` shape used by `ICE_SERVERS` and the
/// `server/ice-servers` topic (protocol.md): `urls` (a string or an array), `username`,
/// `credential`, `credentialType` (only `password`).
public struct IceServer: Hashable, Sendable {
    /// The URLs as given, for republishing unchanged.
    public var urlStrings: [String]
    /// The parsed URLs, in the same order.
    public var urls: [IceServerURL]
    public var username: String?
    public var credential: String?

    public init(urls: [IceServerURL], urlStrings: [String]? = nil, username: String? = nil, credential: String? = nil) {
        self.urls = urls
        self.urlStrings = urlStrings ?? urls.map(\.description)
        self.username = username
        self.credential = credential
    }

    /// Parses a JSON array of ICE servers.
    /// - Throws: ``IceServerListError`` naming the entry and what is wrong with it, or where the
    ///   JSON itself is malformed.
    public static func parseList(json: String) throws(IceServerListError) -> [IceServer] {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
        } catch {
            throw IceServerListError(entry: nil, problem: "not valid JSON: \(jsonProblem(error, in: json))")
        }
        guard let array = object as? [Any] else {
            throw IceServerListError(entry: nil, problem: "expected a JSON array of ICE servers, like [{\"urls\":[\"stun:host:3478\"]}]")
        }
        var servers: [IceServer] = []
        for (index, element) in array.enumerated() {
            servers.append(try parseEntry(element, index: index))
        }
        return servers
    }

    private static func parseEntry(_ element: Any, index: Int) throws(IceServerListError) -> IceServer {
        func fail(_ problem: String) -> IceServerListError { IceServerListError(entry: index, problem: problem) }
        guard let entry = element as? [String: Any] else { throw fail("expected an object with \"urls\"") }
        let known: Set<String> = ["urls", "url", "username", "credential", "credentialType"]
        if let unknown = entry.keys.sorted().first(where: { !known.contains($0) }) {
            throw fail("unknown field \"\(unknown)\" (expected urls, username, credential, credentialType)")
        }
        let rawURLs: [String]
        switch entry["urls"] ?? entry["url"] {
        case let single as String: rawURLs = [single]
        case let list as [Any]:
            var strings: [String] = []
            for item in list {
                guard let string = item as? String else { throw fail("\"urls\" must contain only strings") }
                strings.append(string)
            }
            rawURLs = strings
        case nil: throw fail("missing \"urls\"")
        default: throw fail("\"urls\" must be a string or an array of strings")
        }
        guard !rawURLs.isEmpty else { throw fail("\"urls\" is empty") }
        var urls: [IceServerURL] = []
        for raw in rawURLs {
            do {
                urls.append(try IceServerURL(parsing: raw))
            } catch {
                throw fail("bad URL \(error)")
            }
        }
        func optionalString(_ key: String) throws(IceServerListError) -> String? {
            guard let value = entry[key] else { return nil }
            guard let string = value as? String else { throw fail("\"\(key)\" must be a string") }
            return string
        }
        let username = try optionalString("username")
        let credential = try optionalString("credential")
        if let type = try optionalString("credentialType"), type != "password" {
            throw fail("credentialType \"\(type)\" is not supported (only \"password\")")
        }
        // W3C WebRTC §4.2.1 (setConfiguration): TURN URLs need a username and a credential.
        if urls.contains(where: { $0.scheme.isTURN }) && (username == nil || credential == nil) {
            throw fail("TURN URLs need \"username\" and \"credential\"")
        }
        return IceServer(urls: urls, urlStrings: rawURLs, username: username, credential: credential)
    }

    /// The entry as JSON (`urls` always an array).
    public var jsonObject: [String: Any] {
        var object: [String: Any] = ["urls": urlStrings]
        if let username { object["username"] = username }
        if let credential {
            object["credential"] = credential
            object["credentialType"] = "password"
        }
        return object
    }

    /// Serialises a list to the protocol's JSON array.
    public static func json(for servers: [IceServer]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: servers.map(\.jsonObject), options: [.sortedKeys])) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    private static func jsonProblem(_ error: any Error, in json: String) -> String {
        let nsError = error as NSError
        if let detail = nsError.userInfo["NSDebugDescription"] as? String { return detail }
        return nsError.localizedDescription
    }
}

/// What is wrong with an ICE server list.
public struct IceServerListError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The zero-based index of the failing entry, nil when the JSON as a whole is wrong.
    public let entry: Int?
    public let problem: String

    public var description: String {
        if let entry { return "entry \(entry): \(problem)" }
        return problem
    }
}
