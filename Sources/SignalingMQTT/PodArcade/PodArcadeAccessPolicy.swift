/// Who a connection is and what it may publish and subscribe to (protocol.md, "Identity and
/// authentication"). Pure functions of the identity and the topic; credentials are checked by
/// a ``PodArcadeAuthenticator``.
///
/// The broker carries Pod Arcade signaling only. Clients may publish and subscribe within the
/// two trees of protocol.md, `server/...` and `desktops/...`; anything else (`foo/bar`,
/// `$SYS/...`, a filter starting with a wildcard such as `#` or `+/status`) is refused.
/// ``PodArcadeIdentity/server`` may do everything.
public struct PodArcadeAccessPolicy: Sendable {
    public init() {}

    /// Classifies a CONNECT by its client id.
    ///
    /// - A client id `desktop:<anything non-empty>` is a desktop; its username must be a
    ///   valid ``DesktopID`` and becomes its identity. The rest of the client id is not
    ///   compared with the username.
    /// - A client id `user:<anything non-empty>` is a user, identified by the username when
    ///   one is given and not empty (with OIDC, `user:<token subject>`), else by the client id.
    /// - Anything else, including an empty client id (MQTT's "assign me one"), is refused.
    ///
    /// Prefixes are compared byte for byte and are case sensitive.
    ///
    /// - Parameters:
    ///   - clientID: the CONNECT client identifier.
    ///   - username: the CONNECT user name, if any.
    /// - Returns: the identity, or ``PodArcadeAccessError/Code/clientIdentifierNotValid``
    ///   (0x85) for an unknown client id, ``PodArcadeAccessError/Code/invalidDesktopUsername``
    ///   (0x86) for a desktop whose username is missing or not a desktop id.
    public func identity(clientID: String, username: String?) -> Result<PodArcadeIdentity, PodArcadeAccessError> {
        let id = clientID.utf8
        if id.starts(with: Self.desktopPrefix.utf8), id.count > Self.desktopPrefix.utf8.count {
            guard let username else {
                return .failure(PodArcadeAccessError(.invalidDesktopUsername, reason: "desktop \(clientID) sent no username (its desktop id)"))
            }
            do {
                return .success(.desktop(try DesktopID(username)))
            } catch {
                return .failure(PodArcadeAccessError(.invalidDesktopUsername, reason: "desktop \(clientID): \(error)"))
            }
        }
        if id.starts(with: Self.userPrefix.utf8), id.count > Self.userPrefix.utf8.count {
            if let username, !username.isEmpty { return .success(.user(username)) }
            return .success(.user(clientID))
        }
        return .failure(PodArcadeAccessError(
            .clientIdentifierNotValid, reason: "client id \"\(clientID)\" begins with neither \(Self.desktopPrefix) nor \(Self.userPrefix)"))
    }

    /// Whether an identity may publish on a topic (and use it as its will topic).
    ///
    /// - The server may publish anything.
    /// - A desktop may publish only below `desktops/<its id>/` (at least three levels),
    ///   including topics this file does not know, such as the original desktop's
    ///   `desktops/<id>/metrics`.
    /// - A user may publish only the browser's topics of protocol.md: a session's `status`,
    ///   `webrtc-offer`, `offer-ice-candidate` and `stats/<stat>`, of any desktop and session
    ///   (with valid ids). So never a desktop's `status` or `ice-servers`, a `webrtc-answer`,
    ///   an `answer-ice-candidate`, `server/...`, or an unknown topic.
    ///
    /// Sessions are not tied to the connection that created them: protocol.md lets any user
    /// publish to any session id.
    public func mayPublish(_ identity: PodArcadeIdentity, topic: MQTTTopicName) -> Bool {
        switch identity {
        case .server:
            return true
        case .desktop(let id):
            let levels = topic.levels
            return levels.count >= 3 && _utf8Equal(levels[0], "desktops") && _utf8Equal(levels[1], id.value)
        case .user:
            guard let known = PodArcadeTopic(topic) else { return false }
            return known.publisher == .browser
        }
    }

    /// Whether an identity may subscribe to a filter. A shared subscription is judged by its
    /// ``MQTTTopicFilter/topicFilter``.
    ///
    /// - The server may subscribe to anything.
    /// - Everyone may subscribe within `server/...` (`server/ice-servers`, `server/#`).
    /// - A user may subscribe anywhere within `desktops/...`: `desktops/+/status` to list
    ///   desktops, a session's `webrtc-answer`, `desktops/#`.
    /// - A desktop may subscribe within `desktops/<its id>/...` only; its id must be written
    ///   out, so `desktops/+/...` and `desktops/#` are refused.
    /// - The first level must be written out as `server` or `desktops`, so `#`, `+/...` and
    ///   `$SYS/...` are refused.
    public func maySubscribe(_ identity: PodArcadeIdentity, filter: MQTTTopicFilter) -> Bool {
        let levels = filter.levels
        switch identity {
        case .server:
            return true
        case .desktop(let id):
            if _utf8Equal(levels[0], "server") { return true }
            return levels.count >= 2 && _utf8Equal(levels[0], "desktops") && _utf8Equal(levels[1], id.value)
        case .user:
            return _utf8Equal(levels[0], "server") || _utf8Equal(levels[0], "desktops")
        }
    }

    static let desktopPrefix = "desktop:"
    static let userPrefix = "user:"
}
