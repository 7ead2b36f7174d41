import SignalingMQTT
import Testing

@Suite("Pod Arcade identity and access rules (protocol.md)")
struct PodArcadeAccessPolicyTests {
    let policy = PodArcadeAccessPolicy()
    static let desktopA = PodArcadeIdentity.desktop(try! DesktopID("a"))
    static let user = PodArcadeIdentity.user("user:k3j9x0a")

    // MARK: - Identity

    struct Classification: Sendable, CustomTestStringConvertible {
        var clientID: String
        var username: String?
        /// The identity, or the reason code of the refusal.
        var expected: Result<PodArcadeIdentity, Refusal>
        var testDescription: String { "client id \"\(clientID)\", username \(username.map { "\"\($0)\"" } ?? "none")" }
    }

    struct Refusal: Error, Hashable {
        var code: PodArcadeAccessError.Code
        var reasonCode: UInt8
    }

    static let classifications: [Classification] = [
        .init(clientID: "desktop:pa-desktop", username: "pa-desktop", expected: .success(.desktop(try! DesktopID("pa-desktop")))),
        // The identity is the username; the rest of the client id is not compared with it.
        .init(clientID: "desktop:whatever", username: "pa-desktop", expected: .success(.desktop(try! DesktopID("pa-desktop")))),
        .init(clientID: "desktop:pa", username: nil, expected: .failure(.init(code: .invalidDesktopUsername, reasonCode: 0x86))),
        .init(clientID: "desktop:pa", username: "", expected: .failure(.init(code: .invalidDesktopUsername, reasonCode: 0x86))),
        .init(clientID: "desktop:pa", username: "Bad_ID", expected: .failure(.init(code: .invalidDesktopUsername, reasonCode: 0x86))),
        .init(clientID: "desktop:pa", username: "-pa", expected: .failure(.init(code: .invalidDesktopUsername, reasonCode: 0x86))),
        .init(clientID: "user:k3j9x0a", username: nil, expected: .success(.user("user:k3j9x0a"))),
        .init(clientID: "user:k3j9x0a", username: "", expected: .success(.user("user:k3j9x0a"))),
        .init(clientID: "user:k3j9x0a", username: "user:subject-1", expected: .success(.user("user:subject-1"))),
        .init(clientID: "user:k3j9x0a", username: "web", expected: .success(.user("web"))),
        // Neither prefix, or nothing after it: 0x85 Client Identifier not valid.
        .init(clientID: "", username: nil, expected: .failure(.init(code: .clientIdentifierNotValid, reasonCode: 0x85))),
        .init(clientID: "desktop:", username: "pa", expected: .failure(.init(code: .clientIdentifierNotValid, reasonCode: 0x85))),
        .init(clientID: "user:", username: nil, expected: .failure(.init(code: .clientIdentifierNotValid, reasonCode: 0x85))),
        .init(clientID: "desktop", username: "pa", expected: .failure(.init(code: .clientIdentifierNotValid, reasonCode: 0x85))),
        .init(clientID: "Desktop:pa", username: "pa", expected: .failure(.init(code: .clientIdentifierNotValid, reasonCode: 0x85))),
        .init(clientID: "USER:x", username: nil, expected: .failure(.init(code: .clientIdentifierNotValid, reasonCode: 0x85))),
        .init(clientID: "mqttx_1234", username: nil, expected: .failure(.init(code: .clientIdentifierNotValid, reasonCode: 0x85))),
        .init(clientID: "server", username: nil, expected: .failure(.init(code: .clientIdentifierNotValid, reasonCode: 0x85))),
        .init(clientID: " user:x", username: nil, expected: .failure(.init(code: .clientIdentifierNotValid, reasonCode: 0x85))),
    ]

    @Test("a client id is classified by its prefix", arguments: classifications)
    func classification(entry: Classification) {
        let result = policy.identity(clientID: entry.clientID, username: entry.username)
        switch (result, entry.expected) {
        case (.success(let identity), .success(let expected)):
            #expect(identity == expected)
        case (.failure(let error), .failure(let expected)):
            #expect(error.code == expected.code)
            #expect(error.reasonCodeRawValue == expected.reasonCode)
        default:
            Issue.record("got \(result), expected \(entry.expected)")
        }
    }

    @Test func aNetworkClientCannotBecomeTheServer() {
        for clientID in ["server", "$server", "desktop:server", "user:server"] {
            let identity = try? policy.identity(clientID: clientID, username: "server").get()
            #expect(identity != .server)
        }
    }

    // MARK: - Publish

    struct Rule: Sendable, CustomTestStringConvertible {
        var identity: PodArcadeIdentity
        var topic: String
        var allowed: Bool
        var testDescription: String { "\(identity) \(allowed ? "may" : "may not") use \(topic)" }
    }

    static let publishRules: [Rule] = [
        // A desktop publishes only below desktops/<its id>/.
        .init(identity: desktopA, topic: "desktops/a/status", allowed: true),
        .init(identity: desktopA, topic: "desktops/a/ice-servers", allowed: true),
        .init(identity: desktopA, topic: "desktops/a/sessions/s1/webrtc-answer", allowed: true),
        .init(identity: desktopA, topic: "desktops/a/sessions/s1/answer-ice-candidate", allowed: true),
        .init(identity: desktopA, topic: "desktops/a/metrics", allowed: true),
        .init(identity: desktopA, topic: "desktops/b/status", allowed: false),
        .init(identity: desktopA, topic: "desktops/b/sessions/s1/webrtc-answer", allowed: false),
        .init(identity: desktopA, topic: "desktops/ab/status", allowed: false),
        .init(identity: desktopA, topic: "desktops/a", allowed: false),
        .init(identity: desktopA, topic: "desktops", allowed: false),
        .init(identity: desktopA, topic: "Desktops/a/status", allowed: false),
        // Nobody but the server publishes server/...
        .init(identity: desktopA, topic: "server/ice-servers", allowed: false),
        .init(identity: user, topic: "server/ice-servers", allowed: false),
        .init(identity: .server, topic: "server/ice-servers", allowed: true),
        // A user never publishes a desktop's status or ice-servers, a webrtc-answer or an answer-ice-candidate…
        .init(identity: user, topic: "desktops/x/status", allowed: false),
        .init(identity: user, topic: "desktops/x/ice-servers", allowed: false),
        .init(identity: user, topic: "desktops/x/sessions/s/webrtc-answer", allowed: false),
        .init(identity: user, topic: "desktops/x/sessions/s/answer-ice-candidate", allowed: false),
        // …but does publish the session topics of any desktop.
        .init(identity: user, topic: "desktops/x/sessions/s/webrtc-offer", allowed: true),
        .init(identity: user, topic: "desktops/x/sessions/s/offer-ice-candidate", allowed: true),
        .init(identity: user, topic: "desktops/x/sessions/s/status", allowed: true),
        .init(identity: user, topic: "desktops/y/sessions/Q7/stats/rtt", allowed: true),
        // Unknown topics: refused for users and desktops outside their tree, allowed for the server.
        .init(identity: user, topic: "desktops/x/metrics", allowed: false),
        .init(identity: user, topic: "desktops/X/sessions/s/webrtc-offer", allowed: false),
        .init(identity: user, topic: "desktops/x/sessions/s-1/webrtc-offer", allowed: false),
        .init(identity: user, topic: "desktops/x/sessions/s/webrtc-offer/extra", allowed: false),
        .init(identity: user, topic: "foo/bar", allowed: false),
        .init(identity: desktopA, topic: "foo/bar", allowed: false),
        .init(identity: user, topic: "$SYS/x", allowed: false),
        .init(identity: desktopA, topic: "$SYS/x", allowed: false),
        .init(identity: .server, topic: "foo/bar", allowed: true),
        .init(identity: .server, topic: "desktops/x/status", allowed: true),
    ]

    @Test("publishing follows the rules of protocol.md", arguments: publishRules)
    func publishing(rule: Rule) throws {
        #expect(policy.mayPublish(rule.identity, topic: try MQTTTopicName(rule.topic)) == rule.allowed)
    }

    // MARK: - Subscribe

    static let subscribeRules: [Rule] = [
        // Users: anywhere within server/ and desktops/.
        .init(identity: user, topic: "desktops/+/status", allowed: true),
        .init(identity: user, topic: "server/ice-servers", allowed: true),
        .init(identity: user, topic: "server/#", allowed: true),
        .init(identity: user, topic: "desktops/#", allowed: true),
        .init(identity: user, topic: "desktops", allowed: true),
        .init(identity: user, topic: "desktops/x/ice-servers", allowed: true),
        .init(identity: user, topic: "desktops/x/sessions/s/webrtc-answer", allowed: true),
        .init(identity: user, topic: "desktops/x/sessions/s/answer-ice-candidate", allowed: true),
        .init(identity: user, topic: "$share/g/desktops/+/status", allowed: true),
        // Desktops: server/ and their own tree.
        .init(identity: desktopA, topic: "desktops/a/sessions/+/webrtc-offer", allowed: true),
        .init(identity: desktopA, topic: "desktops/a/sessions/+/offer-ice-candidate", allowed: true),
        .init(identity: desktopA, topic: "desktops/a/status", allowed: true),
        .init(identity: desktopA, topic: "desktops/a/#", allowed: true),
        .init(identity: desktopA, topic: "server/ice-servers", allowed: true),
        .init(identity: desktopA, topic: "server/#", allowed: true),
        .init(identity: desktopA, topic: "desktops/b/#", allowed: false),
        .init(identity: desktopA, topic: "desktops/b/sessions/+/webrtc-offer", allowed: false),
        .init(identity: desktopA, topic: "desktops/+/status", allowed: false),
        .init(identity: desktopA, topic: "desktops/#", allowed: false),
        .init(identity: desktopA, topic: "desktops", allowed: false),
        .init(identity: desktopA, topic: "$share/g/desktops/b/#", allowed: false),
        // Nobody but the server subscribes outside the two trees or starts with a wildcard.
        .init(identity: user, topic: "#", allowed: false),
        .init(identity: user, topic: "+/status", allowed: false),
        .init(identity: user, topic: "+/+/sessions/#", allowed: false),
        .init(identity: user, topic: "foo/#", allowed: false),
        .init(identity: user, topic: "$SYS/#", allowed: false),
        .init(identity: user, topic: "$share/g/#", allowed: false),
        .init(identity: desktopA, topic: "#", allowed: false),
        .init(identity: desktopA, topic: "+/a/#", allowed: false),
        .init(identity: .server, topic: "#", allowed: true),
        .init(identity: .server, topic: "$SYS/#", allowed: true),
    ]

    @Test("subscribing follows the documented limits", arguments: subscribeRules)
    func subscribing(rule: Rule) throws {
        #expect(policy.maySubscribe(rule.identity, filter: try MQTTTopicFilter(rule.topic)) == rule.allowed)
    }

    @Test func theOriginalClientsSubscriptionsAndPublicationsAreAllowed() throws {
        // client-web: desktop list, ice servers, then one session's offer/answer exchange.
        let identity = try policy.identity(clientID: "user:k3j9x0a", username: nil).get()
        for filter in ["desktops/+/status", "server/ice-servers", "desktops/pa/sessions/k3j9x0a/webrtc-answer",
                       "desktops/pa/sessions/k3j9x0a/answer-ice-candidate"] {
            #expect(policy.maySubscribe(identity, filter: try MQTTTopicFilter(filter)), "\(filter)")
        }
        for topic in ["desktops/pa/sessions/k3j9x0a/status", "desktops/pa/sessions/k3j9x0a/webrtc-offer",
                      "desktops/pa/sessions/k3j9x0a/offer-ice-candidate"] {
            #expect(policy.mayPublish(identity, topic: try MQTTTopicName(topic)), "\(topic)")
        }
        // The desktop: offers, candidates, its own status, the server's ICE servers.
        let desktop = try policy.identity(clientID: "desktop:pa", username: "pa").get()
        for filter in ["desktops/pa/sessions/+/webrtc-offer", "desktops/pa/sessions/+/offer-ice-candidate",
                       "desktops/pa/status", "server/ice-servers"] {
            #expect(policy.maySubscribe(desktop, filter: try MQTTTopicFilter(filter)), "\(filter)")
        }
        for topic in ["desktops/pa/status", "desktops/pa/sessions/k3j9x0a/webrtc-answer",
                      "desktops/pa/sessions/k3j9x0a/answer-ice-candidate", "desktops/pa/ice-servers"] {
            #expect(policy.mayPublish(desktop, topic: try MQTTTopicName(topic)), "\(topic)")
        }
    }
}
