// The broker core's own cost per PUBLISH, without sockets: one `desktop:` publisher and S
// `user:` subscribers on `desktops/+/bench` (the topology of Benchmarks/mqtt-bench.sh, MQTT
// 3.1.1, 256-byte payloads, QoS 0), driven through `MQTTBroker.receive` and `pollOutput` as
// the server's TCP transport drives it. Prints nanoseconds per PUBLISH and per delivery, for
// messages that repeat the publisher's last topic (the forward route) and for messages that
// alternate between two topics (the full path every time).
//
//   swift run -c release mqtt-core-bench [subscribers] [iterations]
import Foundation
import NIOCore
import SignalingMQTT

let subscribers = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 16 : 16
let iterations = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 200_000 : 200_000

var broker = MQTTBroker(configuration: .init(), policy: PodArcadeBrokerPolicy())
let start = NIODeadline.now()
var nextID: UInt64 = 1

func drain(_ broker: inout MQTTBroker<PodArcadeBrokerPolicy>, now: NIODeadline) -> (sends: Int, bytes: Int) {
    var sends = 0
    var bytes = 0
    while let output = broker.pollOutput() {
        switch output {
        case .send(_, let buffer):
            sends += 1
            bytes += buffer.readableBytes
        case .authenticate(let id, _):
            broker.completeAuthentication(id, accepted: .success(()), now: now)
        case .close(let id):
            fatalError("connection \(id) closed")
        case .event:
            break
        }
    }
    return (sends, bytes)
}

@MainActor func feed(_ packet: MQTTPacket, to id: MQTTConnectionID) {
    var buffer = ByteBuffer()
    try! packet.encode(into: &buffer, version: .v3_1_1)
    broker.receive(id, &buffer, now: start)
    _ = drain(&broker, now: start)
}

@MainActor func connect(_ clientID: String, username: String?) -> MQTTConnectionID {
    let id = MQTTConnectionID(nextID)
    nextID += 1
    broker.connectionOpened(id, now: start)
    feed(.connect(MQTTConnect(version: .v3_1_1, cleanStart: true, keepAlive: 60, clientID: clientID, username: username)), to: id)
    return id
}

let publisher = connect("desktop:mbcore-p0", username: "mbcore-p0")
for index in 0..<subscribers {
    let id = connect("user:mbcore-s\(index)", username: nil)
    let options = MQTTSubscriptionOptions(qos: .atMostOnce, noLocal: false, retainAsPublished: false, retainHandling: 0)
    feed(.subscribe(MQTTSubscribe(
        packetID: 1,
        subscriptions: [
            MQTTSubscription(filter: "desktops/+/bench", options: options),
            MQTTSubscription(filter: "desktops/+/other", options: options),
        ],
        properties: MQTTProperties())), to: id)
}

func publishPacket(_ topic: String) -> ByteBuffer {
    var packet = ByteBuffer()
    try! MQTTPacket.publish(MQTTPublish(
        topic: topic, payload: ByteBuffer(repeating: 0x61, count: 256), qos: .atMostOnce,
        retain: false, dup: false, packetID: nil, properties: MQTTProperties())).encode(into: &packet, version: .v3_1_1)
    return packet
}
// The subscribers hold `desktops/+/bench` and `desktops/+/other`: every message reaches each once.
let packets = [publishPacket("desktops/mbcore-p0/bench"), publishPacket("desktops/mbcore-p0/other")]

@MainActor func run(_ count: Int, alternate: Bool) -> (seconds: Double, sends: Int) {
    var sends = 0
    let clock = ContinuousClock()
    let began = clock.now
    for index in 0..<count {
        // A fresh copy per read, as the TCP transport hands over.
        var bytes = ByteBuffer()
        bytes.writeImmutableBuffer(packets[alternate ? index & 1 : 0])
        broker.receive(publisher, &bytes, now: start)
        sends += drain(&broker, now: start).sends
    }
    let elapsed = clock.now - began
    return (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, sends)
}

for (name, alternate) in [("repeated topic (forward route)", false), ("alternating topics (full path)", true)] {
    _ = run(iterations / 10, alternate: alternate)  // warm-up
    var best = Double.infinity
    var deliveries = 0
    for _ in 0..<5 {
        let (seconds, sends) = run(iterations, alternate: alternate)
        best = min(best, seconds)
        deliveries = sends
    }
    precondition(deliveries == iterations * subscribers, "expected \(iterations * subscribers) deliveries, got \(deliveries)")
    let perPublish = best / Double(iterations) * 1e9
    print(String(format: "mqtt-core-bench: %@, %d subscribers, %d publishes (best of 5): %.0f ns per PUBLISH, %.0f ns per delivery",
                 name, subscribers, iterations, perPublish, perPublish / Double(subscribers)))
}
