"""Issue 6, Measure: data-channel echo round trips and bulk transfer, headless Chromium against
our PeerConnection (the `webrtc-peer` tool, which echoes every data-channel message) and
against aiortc answering the same way (Tests/interop/media_aiortc_peer.py --answer), in one run.

Chromium offers as the web client does (video, audio, the negotiated `input` channel). On the
input channel it sends an 8-byte message (the size of a mouse-move event), waits for the echo,
and repeats: `rounds` x `pings` round trips per answerer, alternating ours and aiortc, after a
warm-up. Then a bulk transfer: 16 MiB in 64 KiB binary messages, echoed back, timed until the
last echo arrives. Prints median and p99 and the ratio (targets: median ours <= 0.5 x aiortc's,
p99 ours < 2 ms); the bulk figures are reported.

With BENCH_SPLIT=1 (root, tcpdump) each measured ping phase is also captured on `lo` and every
cycle divided on the wire into the answerer's share and Chromium's share (Benchmarks/wire_split.py);
Chromium's share alone bounds the ratio any answerer could reach. BENCH_ECHO_DELAY_US=N makes
ours hold each echo N microseconds (webrtc-peer --echo-delay-us): how the round trip and
Chromium's share move when the answerer is slower.

Usage: python3 Benchmarks/datachannel-bench.py [pings] [rounds]   (POD_ARCADE_BIN_DIR: the binaries)
"""

from __future__ import annotations

import http.server
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Tests" / "interop"))

from media_helpers import start_aiortc, start_webrtc_peer  # noqa: E402

import wire_split  # noqa: E402  (Benchmarks/, next to this file)

SPLIT = os.environ.get("BENCH_SPLIT") == "1"
ECHO_DELAY_US = int(os.environ.get("BENCH_ECHO_DELAY_US", "0"))

OFFER = """
window.pc = new RTCPeerConnection({iceServers: []});
pc.addTransceiver('video', {direction: 'recvonly'});
pc.addTransceiver('audio', {direction: 'recvonly'});
window.input = pc.createDataChannel('input', {negotiated: true, id: 0, ordered: true, protocol: 'pod-arcade-input-v1'});
await pc.setLocalDescription(await pc.createOffer());
while (pc.iceGatheringState !== 'complete') await new Promise((r) => setTimeout(r, 5));
return pc.localDescription.sdp;
"""

PING = """
const [count] = arguments;
const ch = window.input;
while (ch.readyState !== 'open') await new Promise((r) => setTimeout(r, 10));
let resolve = null;
ch.onmessage = () => { if (resolve) { const r = resolve; resolve = null; r(); } };
const rtts = [];
const message = new Uint8Array([0x02, 0, 0, 0, 1, 0, 0, 0]);
for (let i = 0; i < count; i++) {
  const answered = new Promise((r) => { resolve = r; });
  const start = performance.now();
  ch.send(message);
  await answered;
  rtts.push(performance.now() - start);
}
return rtts;
"""

BULK = """
const [total, size] = arguments;
const ch = window.input;
ch.binaryType = 'arraybuffer';
let received = 0;
ch.onmessage = (e) => { received += e.data.byteLength; };
const chunk = new Uint8Array(size);
const start = performance.now();
for (let sent = 0; sent < total; sent += size) {
  while (ch.bufferedAmount > 1 << 20) await new Promise((r) => setTimeout(r, 1));
  ch.send(chunk);
}
while (received < total && performance.now() - start < 120000) await new Promise((r) => setTimeout(r, 1));
return {seconds: (performance.now() - start) / 1000, received};
"""


class IsolatedPage(http.server.BaseHTTPRequestHandler):
    """An empty page served cross-origin isolated (COOP + COEP), so that performance.now()
    has Chromium's fine resolution (5 us) instead of the coarse 100 us of ordinary pages."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b"<!doctype html><title>bench</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def serve_isolated_page() -> str:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), IsolatedPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


PAGE_URL = ""


# Reference for Chromium's own share: two peer connections in the same page, the second
# echoing on its own negotiated input channel, so both ends are Chromium (no media).
LOOPBACK_PAIR = """
const a = new RTCPeerConnection({iceServers: []}), b = new RTCPeerConnection({iceServers: []});
a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
window.input = a.createDataChannel('input', {negotiated: true, id: 0, ordered: true});
const echo = b.createDataChannel('input', {negotiated: true, id: 0, ordered: true});
echo.onmessage = (e) => echo.send(e.data);
await a.setLocalDescription(await a.createOffer());
await b.setRemoteDescription(a.localDescription);
await b.setLocalDescription(await b.createAnswer());
await a.setRemoteDescription(b.localDescription);
window.pair = [a, b];
"""


def chromium_pair(page, pings: int) -> list[float]:
    page.get(PAGE_URL)
    page.module(LOOPBACK_PAIR)
    page.module(PING, 200, timeout=60)
    rtts = page.module(PING, pings, timeout=300)
    page.module("for (const pc of window.pair) pc.close();")
    return rtts


def connect(page, answerer) -> None:
    page.get(PAGE_URL)
    assert page.js("return self.crossOriginIsolated;"), "the page is not cross-origin isolated"
    offer = page.module(OFFER)
    answerer.send(type="offer", session="bench", sdp=offer)
    answer = answerer.wait_for("answer", 20)
    page.module("await pc.setRemoteDescription({type: 'answer', sdp: arguments[0]});", answer["sdp"])
    forwarded = 0
    deadline = time.monotonic() + 20
    while page.js("return window.input.readyState;") != "open":
        assert time.monotonic() < deadline, f"no open channel: {answerer.seen[-6:]} {answerer.log_tail()}"
        for line in answerer.seen[forwarded:]:
            if line.get("type") == "candidate":
                page.module("await pc.addIceCandidate(arguments[0]);", {
                    "candidate": line["candidate"], "sdpMid": line.get("sdpMid"),
                    "sdpMLineIndex": line.get("sdpMLineIndex")})
        forwarded = len(answerer.seen)
        answerer.next(0.05)


def session(page, tmp: Path, ours: bool, pings: int,
            bulk: bool) -> tuple[list[float], dict | None, wire_split.Split | None]:
    delay = ("--echo-delay-us", str(ECHO_DELAY_US)) if ECHO_DELAY_US else ()
    answerer = (start_webrtc_peer(tmp, *delay, name="ours") if ours
                else start_aiortc(tmp, "--answer", name="aiortc-answerer"))
    try:
        connect(page, answerer)
        page.module(PING, 200, timeout=60)  # warm-up
        capture = wire_split.Capture(tmp / "pings.pcap") if SPLIT else None
        try:
            rtts = page.module(PING, pings, timeout=300)
        finally:
            if capture:
                capture.stop()
        on_wire = wire_split.split(wire_split.read_pcap(capture.path)) if capture else None
        result = page.module(BULK, 16 << 20, 65536, timeout=180) if bulk else None
        return rtts, result, on_wire
    finally:
        answerer.stop()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    pings = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    global PAGE_URL
    PAGE_URL = serve_isolated_page()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        from web_support import _launch_browser  # noqa: PLC0415
        page = _launch_browser(tmp)
        ours: list[float] = []
        theirs: list[float] = []
        bulk: dict[str, list[float]] = {"ours": [], "aiortc": []}
        chromium: list[float] = []
        splits = {"ours": wire_split.Split(), "aiortc": wire_split.Split()}
        try:
            chromium = chromium_pair(page, pings)
            for _ in range(rounds):
                for is_ours in (True, False):
                    rtts, result, on_wire = session(page, tmp, is_ours, pings, bulk=True)
                    (ours if is_ours else theirs).extend(rtts)
                    if on_wire:
                        splits["ours" if is_ours else "aiortc"].add(on_wire)
                    if result and result["received"] >= 16 << 20:
                        bulk["ours" if is_ours else "aiortc"].append(16 / result["seconds"])
        finally:
            page.driver.quit()
    print(f"Echo round trip, 8-byte messages on the input channel, Chromium <-> answerer on loopback,"
          f" {len(ours)} pings each ({rounds} sessions, alternating)"
          + (f"; ours holds each echo {ECHO_DELAY_US} us" if ECHO_DELAY_US else ""))
    for name, values in (("ours", ours), ("aiortc", theirs)):
        print(f"  {name:6} median {statistics.median(values):6.3f} ms  p99 {percentile(values, 0.99):6.3f} ms"
              f"  max {max(values):7.3f} ms  mean {statistics.fmean(values):6.3f} ms")
    print(f"  reference, Chromium echoing to itself (both ends Chromium, no media): median"
          f" {statistics.median(chromium):.3f} ms  p99 {percentile(chromium, 0.99):.3f} ms")
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"  median ratio ours/aiortc {ratio:.2f} (target <= 0.5); p99 ours {percentile(ours, 0.99):.3f} ms"
          f" (target < 2 ms)")
    if SPLIT:
        print("Each cycle divided on the wire (tcpdump on lo): ping -> echo is the answerer's share,"
              " echo -> next ping is Chromium's")
        for name in ("ours", "aiortc"):
            print(wire_split.describe(name, splits[name]))
        floor = min(statistics.median(splits[name].chromium_ms) for name in splits)
        print(f"  Chromium's smaller share alone is {floor:.3f} ms, {floor / statistics.median(theirs):.2f} of"
              f" aiortc's round trip; what is left below 0.5 is all an answerer may take"
              f" (a bare UDP echo takes a few us, and Chromium's share grows when the echo comes back sooner)")
    print("Bulk: 16 MiB in 64 KiB messages echoed back (16 MiB each way), MiB/s each way per session")
    for name in ("ours", "aiortc"):
        values = bulk[name]
        text = ", ".join(f"{v:.1f}" for v in values) if values else "did not finish"
        print(f"  {name:6} {text}")


if __name__ == "__main__":
    main()
