/// The MQTT topics of protocol.md ("Topics"), built and parsed by type.
///
/// Parsing accepts exactly the topics of the table, with a valid ``DesktopID`` and
/// ``SessionID`` and a non-empty statistic name; anything else is `nil`. Building does not
/// validate: the ids in a value you construct are used as given.
///
/// | case | topic | publisher | retained |
/// |---|---|---|---|
/// | ``serverIceServers`` | `server/ice-servers` | server | yes |
/// | ``desktopStatus(desktop:)`` | `desktops/{d}/status` | desktop | yes |
/// | ``desktopIceServers(desktop:)`` | `desktops/{d}/ice-servers` | desktop | yes |
/// | ``sessionStatus(desktop:session:)`` | `desktops/{d}/sessions/{s}/status` | browser | yes |
/// | ``webrtcOffer(desktop:session:)`` | `.../sessions/{s}/webrtc-offer` | browser | no |
/// | ``webrtcAnswer(desktop:session:)`` | `.../sessions/{s}/webrtc-answer` | desktop | no |
/// | ``offerIceCandidate(desktop:session:)`` | `.../sessions/{s}/offer-ice-candidate` | browser | no |
/// | ``answerIceCandidate(desktop:session:)`` | `.../sessions/{s}/answer-ice-candidate` | desktop | no |
/// | ``sessionStat(desktop:session:stat:)`` | `.../sessions/{s}/stats/{stat}` | browser | no |
public enum PodArcadeTopic: Hashable, Sendable {
    case serverIceServers
    case desktopStatus(desktop: String)
    case desktopIceServers(desktop: String)
    case sessionStatus(desktop: String, session: String)
    case webrtcOffer(desktop: String, session: String)
    case webrtcAnswer(desktop: String, session: String)
    case offerIceCandidate(desktop: String, session: String)
    case answerIceCandidate(desktop: String, session: String)
    case sessionStat(desktop: String, session: String, stat: String)

    /// Who publishes a topic, per the table of protocol.md.
    public enum Publisher: Hashable, Sendable {
        case server, desktop, browser
    }

    /// Recognises a Pod Arcade topic.
    ///
    /// - Parameter topic: a topic name, e.g. `desktops/pa-desktop/sessions/k3j9x0a/webrtc-offer`.
    /// - Returns: `nil` unless `topic` is one of the table's topics with valid ids (levels are
    ///   compared byte for byte, so `Desktops/...` or a desktop id with upper case is `nil`).
    public init?(_ topic: MQTTTopicName) {
        let levels = topic.levels
        // Byte comparison: Swift's `==` would accept e.g. U+212A KELVIN SIGN for "K".
        func `is`(_ index: Int, _ literal: String) -> Bool { _utf8Equal(levels[index], literal) }

        if levels.count == 2, `is`(0, "server"), `is`(1, "ice-servers") {
            self = .serverIceServers
            return
        }
        guard levels.count >= 3, `is`(0, "desktops"), let desktop = try? DesktopID(String(levels[1])) else { return nil }
        let d = desktop.value
        if levels.count == 3 {
            if `is`(2, "status") { self = .desktopStatus(desktop: d); return }
            if `is`(2, "ice-servers") { self = .desktopIceServers(desktop: d); return }
            return nil
        }
        guard levels.count >= 5, `is`(2, "sessions"), let session = try? SessionID(String(levels[3])) else { return nil }
        let s = session.value
        if levels.count == 5 {
            if `is`(4, "status") { self = .sessionStatus(desktop: d, session: s); return }
            if `is`(4, "webrtc-offer") { self = .webrtcOffer(desktop: d, session: s); return }
            if `is`(4, "webrtc-answer") { self = .webrtcAnswer(desktop: d, session: s); return }
            if `is`(4, "offer-ice-candidate") { self = .offerIceCandidate(desktop: d, session: s); return }
            if `is`(4, "answer-ice-candidate") { self = .answerIceCandidate(desktop: d, session: s); return }
            return nil
        }
        guard levels.count == 6, `is`(4, "stats"), !levels[5].isEmpty else { return nil }
        self = .sessionStat(desktop: d, session: s, stat: String(levels[5]))
    }

    /// The topic name, e.g. `desktops/pa-desktop/status`.
    public var topicName: String {
        switch self {
        case .serverIceServers: "server/ice-servers"
        case .desktopStatus(let d): "desktops/\(d)/status"
        case .desktopIceServers(let d): "desktops/\(d)/ice-servers"
        case .sessionStatus(let d, let s): "desktops/\(d)/sessions/\(s)/status"
        case .webrtcOffer(let d, let s): "desktops/\(d)/sessions/\(s)/webrtc-offer"
        case .webrtcAnswer(let d, let s): "desktops/\(d)/sessions/\(s)/webrtc-answer"
        case .offerIceCandidate(let d, let s): "desktops/\(d)/sessions/\(s)/offer-ice-candidate"
        case .answerIceCandidate(let d, let s): "desktops/\(d)/sessions/\(s)/answer-ice-candidate"
        case .sessionStat(let d, let s, let stat): "desktops/\(d)/sessions/\(s)/stats/\(stat)"
        }
    }

    /// The desktop id in the topic; `nil` for ``serverIceServers``.
    public var desktop: String? {
        switch self {
        case .serverIceServers: nil
        case .desktopStatus(let d), .desktopIceServers(let d): d
        case .sessionStatus(let d, _), .webrtcOffer(let d, _), .webrtcAnswer(let d, _),
             .offerIceCandidate(let d, _), .answerIceCandidate(let d, _), .sessionStat(let d, _, _): d
        }
    }

    /// The session id in the topic; `nil` for the server and desktop topics.
    public var session: String? {
        switch self {
        case .serverIceServers, .desktopStatus, .desktopIceServers: nil
        case .sessionStatus(_, let s), .webrtcOffer(_, let s), .webrtcAnswer(_, let s),
             .offerIceCandidate(_, let s), .answerIceCandidate(_, let s), .sessionStat(_, let s, _): s
        }
    }

    /// Who publishes this topic.
    public var publisher: Publisher {
        switch self {
        case .serverIceServers: .server
        case .desktopStatus, .desktopIceServers, .webrtcAnswer, .answerIceCandidate: .desktop
        case .sessionStatus, .webrtcOffer, .offerIceCandidate, .sessionStat: .browser
        }
    }

    /// Whether messages on this topic are published retained.
    public var isRetained: Bool {
        switch self {
        case .serverIceServers, .desktopStatus, .desktopIceServers, .sessionStatus: true
        case .webrtcOffer, .webrtcAnswer, .offerIceCandidate, .answerIceCandidate, .sessionStat: false
        }
    }
}
