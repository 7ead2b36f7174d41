import Foundation
import ICEAgent
import Testing

@testable import SecureMedia

// Real peers take our SDP: aiortc (PyPI) and headless Chromium (through selenium) make a fresh
// offer as the Pod Arcade web page does (recvonly video and audio, the negotiated "input" data
// channel); we answer it and the peer's setRemoteDescription must accept the answer. And the
// other way round: the peer answers our offer and `SDPNegotiation.accept` takes its answer.
// Only the descriptions are exchanged; no ICE or DTLS follows.

@Suite("Real peers accept our SDP", .serialized)
struct SDPPeerAcceptanceTests {
    static let script = #"""
import asyncio, json, signal, sys

signal.signal(signal.SIGTERM, lambda *args: sys.exit(1))
peer, role = sys.argv[1], sys.argv[2]

def say(**fields):
    print(json.dumps(fields), flush=True)

def hear():
    line = sys.stdin.readline()
    if not line:
        sys.exit(1)
    return json.loads(line)

if peer == "aiortc":
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    async def main():
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            if role == "offer":
                pc.addTransceiver("video", direction="recvonly")
                pc.addTransceiver("audio", direction="recvonly")
                pc.createDataChannel("input", negotiated=True, id=0)
                await pc.setLocalDescription(await pc.createOffer())
                say(offer=pc.localDescription.sdp)
                answer = await asyncio.get_running_loop().run_in_executor(None, hear)
                try:
                    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["answer"], type="answer"))
                except Exception as error:
                    say(result="%s: %s" % (type(error).__name__, error))
                    return
                # aiortc keeps the codecs it negotiated from the answer in a private field.
                say(result="OK", signalingState=pc.signalingState,
                    directions=[t.currentDirection for t in pc.getTransceivers()],
                    codecs=[[c.mimeType for c in getattr(t, "_codecs", [])] for t in pc.getTransceivers()])
            else:
                offer = await asyncio.get_running_loop().run_in_executor(None, hear)
                try:
                    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["offer"], type="offer"))
                    for transceiver in pc.getTransceivers():
                        transceiver.direction = "recvonly"
                    await pc.setLocalDescription(await pc.createAnswer())
                except Exception as error:
                    say(result="%s: %s" % (type(error).__name__, error))
                    return
                say(result="OK", answer=pc.localDescription.sdp)
        finally:
            await pc.close()

    asyncio.run(main())
else:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.set_script_timeout(20)
        driver.get("about:blank")
        if role == "offer":
            offer = driver.execute_async_script("""
                const done = arguments[arguments.length - 1];
                const pc = new RTCPeerConnection({iceServers: []});
                window.pc = pc;
                pc.addTransceiver("video", {direction: "recvonly"});
                pc.addTransceiver("audio", {direction: "recvonly"});
                pc.createDataChannel("input", {negotiated: true, id: 0, ordered: true, protocol: "pod-arcade-input-v1"});
                pc.setLocalDescription().then(() => done(pc.localDescription.sdp), (e) => done("error " + e));
            """)
            say(offer=offer)
            answer = hear()["answer"]
            result = driver.execute_async_script("""
                const done = arguments[arguments.length - 1];
                window.pc.setRemoteDescription({type: "answer", sdp: arguments[0]}).then(() => done({
                    result: "OK", signalingState: window.pc.signalingState,
                    directions: window.pc.getTransceivers().map((t) => t.currentDirection),
                }), (e) => done({result: String(e)}));
            """, answer)
            say(**result)
        else:
            offer = hear()["offer"]
            result = driver.execute_async_script("""
                const done = arguments[arguments.length - 1];
                const pc = new RTCPeerConnection({iceServers: []});
                window.pc = pc;
                pc.setRemoteDescription({type: "offer", sdp: arguments[0]})
                    .then(() => pc.setLocalDescription())
                    .then(() => done({result: "OK", answer: pc.localDescription.sdp}), (e) => done({result: String(e)}));
            """, offer)
            say(**result)
    finally:
        driver.quit()
"""#

    /// The interpreter scripts/python.sh names: the project's .build-venv, else python3 on PATH.
    static var python: String? {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let venv = root.appendingPathComponent(".build-venv/bin/python3").path
        if FileManager.default.isExecutableFile(atPath: venv) { return venv }
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return paths.map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// True when `python -c "import <module>"` succeeds.
    static func hasModule(_ module: String) -> Bool {
        guard let python else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", "import \(module)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    static let aiortcAvailable = hasModule("aiortc")
    static let chromiumAvailable =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver") && hasModule("selenium")

    /// Our parameters with a made-up certificate fingerprint: only the descriptions are checked.
    static func local() -> SDPLocalParameters {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        var local = SDPLocalParameters(fingerprint: DTLSFingerprint(algorithm: "sha-256", bytes: bytes))
        local.candidates = [try! IceCandidate(sdp: "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host")]
        local.gatheringComplete = true
        return local
    }

    /// The peer offers, we answer, the peer applies the answer.
    func answerPeer(_ peer: String) async throws {
        let python = try #require(Self.python)
        let process = try SDPPeerProcess(python: python, script: Self.script, arguments: [peer, "offer"])
        defer { process.kill() }
        let message = try #require(await process.receive(), "\(peer) gave no offer")
        let offerText = try #require(message["offer"] as? String)
        let offer = try SDPSessionDescription.parse(offerText)
        let (answer, session) = try SDPNegotiation.answer(offer: offer, local: Self.local())
        #expect(session.video?.codec == "H264" && session.video?.sending == true)
        #expect(session.audio?.codec.lowercased() == "opus" && session.audio?.sending == true)
        #expect(session.application != nil)
        #expect(session.rejected.isEmpty)
        try process.send(["answer": answer.text])
        let result = try #require(await process.receive(), "\(peer) gave no result")
        #expect(result["result"] as? String == "OK", "\(peer) refused our answer: \(result)\n\(answer.text)")
        #expect(result["signalingState"] as? String == "stable")
        // The video and audio transceivers now receive what we send.
        #expect(result["directions"] as? [String] == ["recvonly", "recvonly"], "\(result)")
        if peer == "aiortc" {
            // aiortc takes an answer without a fingerprint, so also check what it negotiated.
            let codecs = result["codecs"] as? [[String]]
            #expect(codecs?.first?.first == "video/H264" && codecs?.last?.first == "audio/opus", "\(result)")
        }
        await process.stop()
    }

    /// We offer, the peer answers, we accept the answer.
    func offerToPeer(_ peer: String) async throws {
        let python = try #require(Self.python)
        let process = try SDPPeerProcess(python: python, script: Self.script, arguments: [peer, "answer"])
        defer { process.kill() }
        let local = Self.local()
        let offer = SDPNegotiation.offer(local: local)
        try process.send(["offer": offer.text])
        let result = try #require(await process.receive(), "\(peer) gave no answer")
        #expect(result["result"] as? String == "OK", "\(peer) refused our offer: \(result)\n\(offer.text)")
        let answerText = try #require(result["answer"] as? String)
        let session = try SDPNegotiation.accept(answer: SDPSessionDescription.parse(answerText), to: offer, local: local)
        #expect(session.video?.payloadType == SDPNegotiation.offerH264PayloadType)
        #expect(session.video?.sending == true && session.audio?.sending == true)
        #expect(session.application != nil)
        #expect(session.localSetup == .passive || session.localSetup == .active)
        #expect(session.remoteSetup != .actpass)
        await process.stop()
    }

    @Test("aiortc accepts our answer to its offer", .enabled(if: aiortcAvailable, "needs aiortc (scripts/deps.sh)"))
    func aiortcAcceptsAnswer() async throws { try await answerPeer("aiortc") }

    @Test("aiortc answers our offer and we accept its answer", .enabled(if: aiortcAvailable, "needs aiortc (scripts/deps.sh)"))
    func aiortcAnswersOffer() async throws { try await offerToPeer("aiortc") }

    @Test("Headless Chromium accepts our answer to its offer",
          .enabled(if: chromiumAvailable, "needs chromium, chromium-driver and selenium (scripts/deps.sh)"))
    func chromiumAcceptsAnswer() async throws { try await answerPeer("chromium") }

    @Test("Headless Chromium answers our offer and we accept its answer",
          .enabled(if: chromiumAvailable, "needs chromium, chromium-driver and selenium (scripts/deps.sh)"))
    func chromiumAnswersOffer() async throws { try await offerToPeer("chromium") }
}

/// A python child speaking JSON lines on stdin/stdout, every wait bounded.
final class SDPPeerProcess: Sendable {
    private let child: TestChildProcess

    init(python: String, script: String, arguments: [String], lifetime: Duration = .seconds(90)) throws {
        child = try TestChildProcess([python, "-c", script] + arguments, lifetime: lifetime)
    }

    func send(_ object: [String: any Sendable]) throws {
        let data = try JSONSerialization.data(withJSONObject: object)
        child.write(String(decoding: data, as: UTF8.self) + "\n")
    }

    /// The next line as a JSON object; nil at end of file or after 60 s.
    func receive() async -> [String: Any]? {
        guard let line = await child.readLine(timeout: .seconds(60)), let data = line.data(using: .utf8) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// Closes the child's stdin and gives it 15 s to exit (the Chromium script quits its
    /// browser), then SIGTERM and SIGKILL to its process group.
    func stop() async { await child.stop(grace: .seconds(15)) }

    /// For `defer` on a failed test: kills the child's group at once.
    func kill() { child.killGroup() }
}
