import NIOCore
import SignalingMQTT
import Testing

/// The Pod Arcade rules of protocol.md enforced by the broker engine; each test fails if its rule is missing.
@Suite struct PodArcadeBrokerTests {
    typealias Harness = BrokerHarness<PodArcadeBrokerPolicy>

    @Test func aClientIDWithoutAKnownPrefixIsRefused() {
        var h = Harness(policy: PodArcadeBrokerPolicy())
        let (id, ack) = h.connect("browser-1")
        #expect(ack?.reasonCode == .clientIdentifierNotValid)
        #expect(h.closed.contains(id))
    }

    @Test func aDesktopCannotPublishAsAnotherDesktop() {
        var h = Harness(policy: PodArcadeBrokerPolicy())
        let (user, _) = h.connect("user:watcher")
        _ = h.subscribe(user, "desktops/+/status")
        let (desktop, ack) = h.connect("desktop:a", username: "a")
        #expect(ack?.reasonCode == .success)
        h.publish(desktop, "desktops/b/status", "online", qos: .atLeastOnce)
        #expect(h.take(desktop).contains(.pubAck(MQTTAck(packetID: 1, reasonCode: .notAuthorized, properties: MQTTProperties()))))
        h.publish(desktop, "desktops/a/status", "online", qos: .atLeastOnce, packetID: 2)
        #expect(h.publishes(user).map(\.topic) == ["desktops/a/status"])
    }

    @Test(arguments: ["desktops/x/status", "desktops/x/ice-servers", "desktops/x/sessions/s/webrtc-answer", "desktops/x/sessions/s/answer-ice-candidate", "server/ice-servers", "elsewhere"])
    func aUserCannotPublishDesktopOrServerTopics(topic: String) {
        var h = Harness(policy: PodArcadeBrokerPolicy())
        let (watcher, _) = h.connect("desktop:x", username: "x")
        _ = h.subscribe(watcher, "desktops/x/#")
        let (user, _) = h.connect("user:u")
        h.publish(user, topic, "forged", qos: .atLeastOnce)
        #expect(h.take(user).contains(.pubAck(MQTTAck(packetID: 1, reasonCode: .notAuthorized, properties: MQTTProperties()))))
        #expect(h.publishes(watcher).isEmpty)
    }

    @Test func aUserMayOfferToADesktop() {
        var h = Harness(policy: PodArcadeBrokerPolicy())
        let (desktop, _) = h.connect("desktop:x", username: "x")
        _ = h.subscribe(desktop, "desktops/x/sessions/+/webrtc-offer")
        let (user, _) = h.connect("user:u")
        h.publish(user, "desktops/x/sessions/s1/webrtc-offer", "v=0")
        #expect(h.publishes(desktop).map(\.text) == ["v=0"])
    }

    @Test func retainedSessionTopicsAreClearedWhenTheirClientGoesAway() {
        var h = Harness(policy: PodArcadeBrokerPolicy())
        let (user, _) = h.connect("user:u")
        h.publish(user, "desktops/x/sessions/s1/status", "connected", retain: true)
        let (desktop, _) = h.connect("desktop:x", username: "x")
        _ = h.subscribe(desktop, "desktops/x/sessions/+/status")
        #expect(h.publishes(desktop).map(\.text) == ["connected"])
        h.disconnectTransport(user)
        let (later, _) = h.connect("desktop:x", username: "x")
        _ = h.subscribe(later, "desktops/x/sessions/+/status")
        #expect(h.publishes(later).isEmpty)
        #expect(h.broker.retainedCount == 0)
    }

    @Test func aDesktopsRetainedStatusSurvivesButItsWillSaysOffline() {
        var h = Harness(policy: PodArcadeBrokerPolicy())
        let will = MQTTWill(topic: "desktops/x/status", payload: ByteBuffer(string: "offline"), qos: .atLeastOnce, retain: true, properties: MQTTProperties())
        let (desktop, _) = h.connect("desktop:x", username: "x", will: will)
        h.publish(desktop, "desktops/x/status", "online", retain: true)
        h.disconnectTransport(desktop)
        let (user, _) = h.connect("user:u")
        _ = h.subscribe(user, "desktops/+/status")
        #expect(h.publishes(user).map(\.text) == ["offline"])
    }

    @Test func serverTopicsComeOnlyFromTheServer() throws {
        var h = Harness(policy: PodArcadeBrokerPolicy())
        let (user, _) = h.connect("user:u")
        _ = h.subscribe(user, "server/ice-servers")
        try h.broker.publish(topic: "server/ice-servers", payload: ByteBuffer(string: "[]"), qos: .atLeastOnce, retain: true, now: h.now)
        h.pump()
        #expect(h.publishes(user).map(\.text) == ["[]"])
        let (desktop, _) = h.connect("desktop:x", username: "x")
        h.publish(desktop, "server/ice-servers", "[{}]", qos: .atLeastOnce)
        #expect(h.publishes(user).isEmpty)
    }

    @Test func aDesktopCannotSubscribeToAnotherDesktopsSessions() {
        var h = Harness(policy: PodArcadeBrokerPolicy())
        let (desktop, _) = h.connect("desktop:x", username: "x")
        #expect(h.subscribe(desktop, "desktops/y/sessions/+/webrtc-offer") == [.notAuthorized])
        #expect(h.subscribe(desktop, "desktops/x/sessions/+/webrtc-offer", packetID: 2) == [.grantedQoS0])
    }

    @Test func aSessionsRetainedWillIsDeliveredButNotKept() {
        var h = Harness(policy: PodArcadeBrokerPolicy())
        let (desktop, _) = h.connect("desktop:x", username: "x")
        _ = h.subscribe(desktop, "desktops/x/sessions/+/status")
        let will = MQTTWill(topic: "desktops/x/sessions/s1/status", payload: ByteBuffer(string: "disconnected"), qos: .atLeastOnce, retain: true, properties: MQTTProperties())
        let (user, _) = h.connect("user:u", will: will)
        h.publish(user, "desktops/x/sessions/s1/status", "connected", retain: true)
        #expect(h.publishes(desktop).map(\.text) == ["connected"])
        h.disconnectTransport(user)
        #expect(h.publishes(desktop).map(\.text) == ["disconnected"])
        #expect(h.broker.retainedCount == 0)
    }
}
