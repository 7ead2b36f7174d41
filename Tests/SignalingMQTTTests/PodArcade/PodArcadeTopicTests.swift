import SignalingMQTT
import Testing

@Suite("Pod Arcade topics (protocol.md, Topics)")
struct PodArcadeTopicTests {
    struct Row: Sendable, CustomTestStringConvertible {
        var topic: PodArcadeTopic
        var name: String
        var publisher: PodArcadeTopic.Publisher
        var retained: Bool
        var testDescription: String { name }
    }

    /// The table of protocol.md.
    static let table: [Row] = [
        .init(topic: .serverIceServers, name: "server/ice-servers", publisher: .server, retained: true),
        .init(topic: .desktopStatus(desktop: "pa-desktop"), name: "desktops/pa-desktop/status", publisher: .desktop, retained: true),
        .init(topic: .desktopIceServers(desktop: "pa-desktop"), name: "desktops/pa-desktop/ice-servers", publisher: .desktop, retained: true),
        .init(topic: .sessionStatus(desktop: "d1", session: "k3j9x0a"), name: "desktops/d1/sessions/k3j9x0a/status", publisher: .browser, retained: true),
        .init(topic: .webrtcOffer(desktop: "d1", session: "k3j9x0a"), name: "desktops/d1/sessions/k3j9x0a/webrtc-offer", publisher: .browser, retained: false),
        .init(topic: .webrtcAnswer(desktop: "d1", session: "k3j9x0a"), name: "desktops/d1/sessions/k3j9x0a/webrtc-answer", publisher: .desktop, retained: false),
        .init(topic: .offerIceCandidate(desktop: "d1", session: "k3j9x0a"), name: "desktops/d1/sessions/k3j9x0a/offer-ice-candidate", publisher: .browser, retained: false),
        .init(topic: .answerIceCandidate(desktop: "d1", session: "k3j9x0a"), name: "desktops/d1/sessions/k3j9x0a/answer-ice-candidate", publisher: .desktop, retained: false),
        .init(topic: .sessionStat(desktop: "d1", session: "k3j9x0a", stat: "rtt"), name: "desktops/d1/sessions/k3j9x0a/stats/rtt", publisher: .browser, retained: false),
    ]

    @Test("each topic builds its name and parses back", arguments: table)
    func roundTrip(row: Row) throws {
        #expect(row.topic.topicName == row.name)
        #expect(PodArcadeTopic(try MQTTTopicName(row.name)) == row.topic)
        #expect(row.topic.publisher == row.publisher)
        #expect(row.topic.isRetained == row.retained)
    }

    @Test("each topic names its desktop and session", arguments: table)
    func accessors(row: Row) {
        let levels = row.name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        #expect(row.topic.desktop == (levels[0] == "desktops" ? levels[1] : nil))
        #expect(row.topic.session == (levels.count > 3 ? levels[3] : nil))
    }

    static let notPodArcade = [
        "server", "server/ice-servers/x", "Server/ice-servers", "server/status",
        "desktops", "desktops/pa", "desktops/pa/", "desktops/pa/metrics", "desktops/pa/status/x",
        "desktops/Pa/status", "desktops/-pa/status", "desktops/pa-/status", "desktops//status",
        "desktops/\(String(repeating: "a", count: 33))/status",
        "desktops/pa/sessions", "desktops/pa/sessions/s", "desktops/pa/sessions/s/",
        "desktops/pa/session/s/status", "desktops/pa/sessions/s-1/status", "desktops/pa/sessions/s_1/webrtc-offer",
        "desktops/pa/sessions//status", "desktops/pa/sessions/s/unknown", "desktops/pa/sessions/s/Status",
        "desktops/pa/sessions/s/webrtc-offer/x",
        "desktops/pa/sessions/s/stats", "desktops/pa/sessions/s/stats/", "desktops/pa/sessions/s/stats/a/b",
        "foo/bar", "$SYS/desktops/pa/status", "/desktops/pa/status",
    ]

    @Test("a topic outside the table is not a Pod Arcade topic", arguments: notPodArcade)
    func unknownTopics(name: String) throws {
        #expect(PodArcadeTopic(try MQTTTopicName(name)) == nil)
    }
}
