"""Issue 5, Measure (b): offer received → DTLS connected on loopback, ours against aiortc.

Each round, a fresh aiortc offerer (the browser stand-in of Tests/interop/media_aiortc_peer.py:
recvonly H.264 and Opus, the negotiated `input` channel) makes an offer. Our `webrtc-peer`
answers it in one round and aiortc answers it in the next, alternating, so both meet the same
offerer and the same machine. Each answerer reports the milliseconds from the offer reaching
it to its DTLS transport being connected. Prints medians and the ratio (target ≤ 0.3).

A second series uses headless Chromium as the offerer, the browser users have.

With aiortc offering, the script also prints how long the offerer itself took from accepting
the answer to its ICE connection being completed, both read off the offerer's own clock: the
offerer's DTLS server starts only then, so that span is spent by any answerer, and against
aiortc's own median it bounds the ratio an answerer taking no time could reach.

Usage: python3 Benchmarks/media-offer-bench.py [rounds]   (POD_ARCADE_BIN_DIR: the binaries)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Tests" / "interop"))

from media_helpers import start_aiortc, start_webrtc_peer  # noqa: E402


OFFERER_ICE: dict[bool, list[float]] = {True: [], False: []}


def offerer_ice_ms(offerer) -> float | None:
    """Answer accepted -> ICE completed, on the aiortc offerer's clock (None if not seen yet)."""
    accepted = [m["t_ms"] for m in offerer.seen if m.get("type") == "answer-accepted"]
    completed = [m["t_ms"] for m in offerer.seen if m.get("type") == "ice" and m.get("state") == "completed"]
    return completed[0] - accepted[0] if accepted and completed else None


def one_round(tmp: Path, ours: bool) -> float:
    offerer = start_aiortc(tmp, name="offerer")
    answerer = (start_webrtc_peer(tmp, name="ours") if ours
                else start_aiortc(tmp, "--answer", name="aiortc-answerer"))
    try:
        offer = offerer.wait_for("offer", 20)
        answerer.send(type="offer", session="bench", sdp=offer["sdp"])
        answer = answerer.wait_for("answer", 20)
        offerer.send(type="answer", sdp=answer["sdp"])
        # Trickled candidates (ours trickles; aiortc puts them in its answer).
        deadline_lines = 0
        while True:
            dtls = [m for m in answerer.seen if m.get("type") == "dtls"]
            if dtls:
                # The offerer says "ice completed" before its DTLS handshake ends, so it is there
                # or on its way; wait briefly for the line.
                while offerer_ice_ms(offerer) is None and offerer.next(2) is not None:
                    pass
                ice = offerer_ice_ms(offerer)
                if ice is not None:
                    OFFERER_ICE[ours].append(ice)
                return float(dtls[0]["offer_to_dtls_ms"])
            for line in answerer.seen[deadline_lines:]:
                if line.get("type") == "candidate":
                    offerer.send(type="candidate", candidate=line["candidate"], sdpMid=line.get("sdpMid"),
                                 sdpMLineIndex=line.get("sdpMLineIndex"))
            deadline_lines = len(answerer.seen)
            if answerer.next(10) is None:
                raise AssertionError(f"no DTLS: {answerer.seen[-6:]} {answerer.log_tail()}")
    finally:
        offerer.stop()
        answerer.stop()


CHROMIUM_OFFER = """
window.pc = new RTCPeerConnection({iceServers: []});
pc.addTransceiver('video', {direction: 'recvonly'});
pc.addTransceiver('audio', {direction: 'recvonly'});
pc.createDataChannel('input', {negotiated: true, id: 0, ordered: true, protocol: 'pod-arcade-input-v1'});
await pc.setLocalDescription(await pc.createOffer());
while (pc.iceGatheringState !== 'complete') await new Promise((r) => setTimeout(r, 5));
return pc.localDescription.sdp;
"""


def chromium_round(page, tmp: Path, ours: bool) -> float:
    """The same with headless Chromium as the offerer (candidates in its offer)."""
    page.get("about:blank")
    offer = page.module(CHROMIUM_OFFER)
    answerer = (start_webrtc_peer(tmp, name="ours") if ours
                else start_aiortc(tmp, "--answer", name="aiortc-answerer"))
    try:
        answerer.send(type="offer", session="bench", sdp=offer)
        answer = answerer.wait_for("answer", 20)
        page.module("await pc.setRemoteDescription({type: 'answer', sdp: arguments[0]});", answer["sdp"])
        forwarded = 0
        while True:
            dtls = [m for m in answerer.seen if m.get("type") == "dtls"]
            if dtls:
                return float(dtls[0]["offer_to_dtls_ms"])
            for line in answerer.seen[forwarded:]:
                if line.get("type") == "candidate":
                    page.module("await pc.addIceCandidate(arguments[0]);", {
                        "candidate": line["candidate"], "sdpMid": line.get("sdpMid"),
                        "sdpMLineIndex": line.get("sdpMLineIndex")})
            forwarded = len(answerer.seen)
            if answerer.next(10) is None:
                raise AssertionError(f"no DTLS: {answerer.seen[-6:]} {answerer.log_tail()}")
    finally:
        answerer.stop()


def report(title: str, ours: list[float], theirs: list[float]) -> None:
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    print(f"{title}: offer -> DTLS connected, {len(ours)} rounds each, loopback")
    print(f"  ours   median {ours_median:7.1f} ms  (min {min(ours):.1f}, max {max(ours):.1f})")
    print(f"  aiortc median {theirs_median:7.1f} ms  (min {min(theirs):.1f}, max {max(theirs):.1f})")
    print(f"  ratio {ours_median / theirs_median:.2f} (target <= 0.3)")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        from web_support import _launch_browser  # noqa: PLC0415 - only when Chromium is wanted
        page = _launch_browser(tmp)
        try:
            ours: list[float] = []
            theirs: list[float] = []
            chromium_round(page, tmp, True)   # warm-up: first runs are slower for both
            chromium_round(page, tmp, False)
            for _ in range(rounds):
                ours.append(chromium_round(page, tmp, True))
                theirs.append(chromium_round(page, tmp, False))
            report("Chromium offers", ours, theirs)
        finally:
            page.driver.quit()
        ours, theirs = [], []
        one_round(tmp, True)
        one_round(tmp, False)
        for _ in range(rounds):
            ours.append(one_round(tmp, True))
            theirs.append(one_round(tmp, False))
        report("aiortc offers", ours, theirs)
        if OFFERER_ICE[True] and OFFERER_ICE[False]:
            floor = statistics.median(OFFERER_ICE[True])
            print(f"  the aiortc offerer's own ICE, answer accepted -> completed: median {floor:.1f} ms"
                  f" answered by ours, {statistics.median(OFFERER_ICE[False]):.1f} ms by aiortc"
                  f" (min {min(OFFERER_ICE[True] + OFFERER_ICE[False]):.1f})")
            print(f"  its DTLS server starts after that, so an answerer taking no time at all would"
                  f" measure more than {floor:.1f} ms: ratio > {floor / statistics.median(theirs):.2f}")


if __name__ == "__main__":
    main()
