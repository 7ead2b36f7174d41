import Foundation
import ICEAgent
import NIOCore
import NIOPosix
import STUNCore
import Testing

// Our agent, controlled, answering headless Chromium (the offerer, controlling) over UDP, as
// the desktop answers a browser. Chromium runs in a network namespace this test makes (on this
// machine it would otherwise offer only the host's own interface addresses, never loopback),
// joined to ours by a veth pair. Only ICE is exercised: the answer's DTLS fingerprint is made up
// and no DTLS follows, so Chromium's `iceConnectionState` is what is checked.

@Suite("Interop with headless Chromium over UDP", .serialized)
struct ChromiumTransportInteropTests {
    static let script = #"""
import json, signal, sys, time
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

signal.signal(signal.SIGTERM, lambda *args: sys.exit(1))

def say(**fields):
    print(json.dumps(fields), flush=True)

options = Options()
options.binary_location = "/usr/bin/chromium"
flags = ["--headless=new", "--no-sandbox", "--disable-gpu"]
if sys.argv[1] == "raw":
    flags.append("--disable-features=WebRtcHideLocalIpsWithMdns")
for flag in flags:
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
try:
    driver.set_script_timeout(20)
    driver.get("about:blank")
    offer = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const pc = new RTCPeerConnection({iceServers: []});
        window.pc = pc;
        pc.createDataChannel("input");
        pc.onicegatheringstatechange = () => {
            if (pc.iceGatheringState === "complete") done(pc.localDescription.sdp);
        };
        pc.setLocalDescription();
    """)
    say(offer=offer)
    line = sys.stdin.readline()
    if not line:
        sys.exit(1)
    answer = json.loads(line)["answer"]
    error = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        window.pc.setRemoteDescription({type: "answer", sdp: arguments[0]}).then(() => done(""), (e) => done(String(e)));
    """, answer)
    if error:
        say(state="error", error=error)
        sys.exit(0)
    deadline = time.time() + 15
    state = None
    while time.time() < deadline:
        state = driver.execute_script("return window.pc.iceConnectionState")
        if state in ("connected", "completed", "failed"):
            break
        time.sleep(0.05)
    def read_pair():
        return driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            window.pc.getStats().then((stats) => {
                let result = {};
                stats.forEach((report) => {
                    if (report.type === "candidate-pair" && report.nominated && report.state === "succeeded") {
                        const local = stats.get(report.localCandidateId), remote = stats.get(report.remoteCandidateId);
                        result = {local: local.candidateType, remote: remote.candidateType,
                                  remoteAddress: remote.address + ":" + remote.port};
                    }
                });
                done(result);
            });
        """)

    # Chromium says connected once a pair is writable; its nomination (and the stats' nominated
    # flag) may follow a moment later, so poll for it.
    pair = {}
    while time.time() < deadline + 5 and not pair:
        pair = read_pair()
        if not pair:
            time.sleep(0.05)
    say(state=state, pair=pair)
finally:
    driver.quit()
"""#

    /// An answer to a data-channel-only offer, with our ICE credentials and candidate.
    static func answer(to offer: String, credentials: IceCredentials, candidate: IceCandidate) -> String {
        let mid = offer.split(whereSeparator: \.isNewline).first { $0.hasPrefix("a=mid:") }.map { String($0.dropFirst(6)) } ?? "0"
        var random = SystemRandomNumberGenerator()
        let fingerprint = (0..<32).map { _ in
            let byte = UInt8.random(in: 0...255, using: &random)
            return String(byte, radix: 16, uppercase: true).count == 1
                ? "0" + String(byte, radix: 16, uppercase: true) : String(byte, radix: 16, uppercase: true)
        }.joined(separator: ":")
        return [
            "v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE \(mid)",
            "a=msid-semantic: WMS", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "c=IN IP4 0.0.0.0",
            "a=ice-ufrag:\(credentials.usernameFragment)", "a=ice-pwd:\(credentials.password)",
            "a=ice-options:trickle", "a=fingerprint:sha-256 \(fingerprint)", "a=setup:active", "a=mid:\(mid)",
            "a=sctp-port:5000", "a=max-message-size:262144", candidate.sdpAttribute, "a=end-of-candidates",
        ].joined(separator: "\r\n") + "\r\n"
    }

    /// Chromium and chromedriver are installed, and we may make a network namespace (root).
    static var chromiumAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver") && getuid() == 0
    }

    /// Raw: Chromium shows its address. Hidden: as for real users without a media permission,
    /// the host candidate is an mDNS name that nobody resolves here, so the desktop learns the
    /// browser's address as a peer-reflexive candidate from its checks.
    @Test(.enabled(if: chromiumAvailable, "needs chromium and chromium-driver (scripts/deps.sh), and root for a network namespace"),
          arguments: [false, true])
    func ourControlledAgentConnectsToChromiumsOffer(hiddenAddress: Bool) async throws {
        let python = try #require(AioiceTransportInteropTests.python)
        let namespace = try #require(IceTestNamespace.make(tag: "icecr"), "needs root and iproute2 for a namespace")
        defer { namespace.remove() }
        let peer = try IceLinePeer(
            python: "/usr/sbin/ip", script: "", arguments: ["netns", "exec", namespace.name, python, "-c", Self.script, hiddenAddress ? "hidden" : "raw"],
            lifetime: 60)
        defer { peer.stop(grace: 15) }
        let message = try #require(await peer.receive(), "Chromium did not start (selenium? scripts/deps.sh)")
        let offer = try #require(message["offer"] as? String)
        let lines = offer.split(whereSeparator: \.isNewline).map(String.init)
        let ufrag = try #require(lines.first { $0.hasPrefix("a=ice-ufrag:") }).dropFirst("a=ice-ufrag:".count)
        let pwd = try #require(lines.first { $0.hasPrefix("a=ice-pwd:") }).dropFirst("a=ice-pwd:".count)
        let remoteCredentials = try IceCredentials(usernameFragment: String(ufrag), password: String(pwd))
        // Every candidate line Chromium wrote parses; the UDP one in its namespace is the one we use.
        let candidates = try lines.filter { $0.hasPrefix("a=candidate:") }.map { try IceCandidate(sdp: $0) }
        let namespaceIP = try #require(IPAddress(namespace.namespaceAddress))
        let offered = candidates.filter {
            $0.transport == .udp && (hiddenAddress ? $0.address.isMulticastDNSName : $0.address.ip == namespaceIP)
        }
        try #require(!offered.isEmpty, "Chromium offered no candidate in its namespace: \(candidates)")

        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let selected = loop.makePromise(of: IceCandidatePair.self)
        let credentials = IceCredentials.random()
        let agent = IceAgent(configuration: .init(role: .controlled), localCredentials: credentials, now: .now())
        let channel = try await DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        IceAgentUDPDriver(agent: agent, selected: selected) { $0 == namespaceIP })
                }
            }
            .bind(host: namespace.hostAddress, port: 0).get()
        defer { channel.close(promise: nil) }
        let local = IceCandidate(address: TransportAddress(socketAddress: channel.localAddress!)!, type: .host)
        try await loop.submit {
            let driver = try channel.pipeline.syncOperations.handler(type: IceAgentUDPDriver.self)
            driver.agent.addLocalCandidate(local, base: IceBaseID(0))
            driver.agent.setRemoteCredentials(remoteCredentials)
            for candidate in offered { driver.agent.addRemoteCandidate(candidate, now: .now()) }
            driver.agent.endOfRemoteCandidates()
            driver.drive()
        }.get()
        try peer.send(["answer": Self.answer(to: offer, credentials: credentials, candidate: local)])

        loop.scheduleTask(in: .seconds(20)) { selected.fail(IceInteropError.timedOut) }
        let pair = try await selected.futureResult.get()
        #expect(pair.remoteAddress == TransportAddress(ip: namespaceIP, port: pair.remoteAddress.port))
        if hiddenAddress {
            #expect((pair.local.type, pair.remote.type) == (.host, .peerReflexive))
        } else {
            #expect((pair.local.type, pair.remote.type) == (.host, .host))
            #expect(offered.contains { $0.transportAddress == pair.remoteAddress })
        }

        let result = try #require(await peer.receive())
        let state = result["state"] as? String
        #expect(state == "connected" || state == "completed", "Chromium: \(result)")
        let chromiumPair = result["pair"] as? [String: Any]
        #expect(chromiumPair?["local"] as? String == "host")
        #expect(chromiumPair?["remote"] as? String == "host")
        #expect(chromiumPair?["remoteAddress"] as? String == "\(local.address):\(local.port)")
        let statistics = try await loop.submit {
            try channel.pipeline.syncOperations.handler(type: IceAgentUDPDriver.self).agent.statistics
        }.get()
        #expect(statistics.integrityFailures == 0 && statistics.fingerprintFailures == 0)
        #expect(statistics.checksReceived >= 1)
    }
}
