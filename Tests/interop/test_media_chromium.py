"""Headless Chromium offers as the Pod Arcade web client does (recvonly H.264 and Opus, the
negotiated `input` channel, trickled candidates); our PeerConnection, through the
`webrtc-peer` tool, answers and streams the committed clip and a tone. Chromium's own
getStats() is the judge: frames decoded, audio samples received, and under 5 % loss the
frames it drops and the freezes it counts.
"""

from __future__ import annotations

import time
from pathlib import Path

from media_helpers import start_webrtc_peer
from web_support import browser  # noqa: F401 - fixture

OFFER_SCRIPT = """
window.pc = new RTCPeerConnection({iceServers: []});
window.candidates = [];
window.pc.onicecandidate = (e) => window.candidates.push(e.candidate ? e.candidate.toJSON() : null);
// Audio is only counted (totalSamplesReceived) while something plays it out, as the web client does.
window.pc.ontrack = (e) => {
  const element = document.createElement(e.track.kind);
  element.autoplay = true;
  element.muted = false;
  element.srcObject = new MediaStream([e.track]);
  document.body.appendChild(element);
  element.play().catch(() => {});
};
window.pc.addTransceiver('video', {direction: 'recvonly'});
window.pc.addTransceiver('audio', {direction: 'recvonly'});
window.input = window.pc.createDataChannel('input', {negotiated: true, id: 0, ordered: true, protocol: 'pod-arcade-input-v1'});
await window.pc.setLocalDescription(await window.pc.createOffer());
return window.pc.localDescription.sdp;
"""

STATS_SCRIPT = """
const out = {state: window.pc.connectionState, video: null, audio: null};
for (const s of (await window.pc.getStats()).values()) {
  if (s.type === 'inbound-rtp' && s.kind === 'video') out.video = {
    framesDecoded: s.framesDecoded || 0, framesDropped: s.framesDropped || 0, freezeCount: s.freezeCount || 0,
    nackCount: s.nackCount || 0, pliCount: s.pliCount || 0, packetsLost: s.packetsLost || 0,
    packetsReceived: s.packetsReceived || 0, frameWidth: s.frameWidth || 0, frameHeight: s.frameHeight || 0,
    keyFramesDecoded: s.keyFramesDecoded || 0, retransmitted: s.retransmittedPacketsReceived || 0};
  if (s.type === 'inbound-rtp' && s.kind === 'audio') out.audio = {
    totalSamplesReceived: s.totalSamplesReceived || 0, packetsReceived: s.packetsReceived || 0,
    concealedSamples: s.concealedSamples || 0};
}
return out;
"""


def negotiate(page, ours, session: str = "default", extra_setup: str = "") -> None:
    """Offer from Chromium, answer from us, candidates trickled both ways. ``extra_setup`` is
    JavaScript run before the offer is made (e.g. more data channels)."""
    page.get("about:blank")
    offer = page.module(OFFER_SCRIPT.replace("await window.pc.setLocalDescription", extra_setup + "\nawait window.pc.setLocalDescription", 1))
    ours.send(type="offer", session=session, sdp=offer)
    answer = ours.wait_for("answer", 20, session=session)
    page.module("await window.pc.setRemoteDescription({type: 'answer', sdp: arguments[0]});", answer["sdp"])
    sent = 0
    forwarded: set[str] = set()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for candidate in page.js("return window.candidates;")[sent:]:
            sent += 1
            if candidate is None:
                ours.send(type="end-of-candidates", session=session)
            elif candidate.get("candidate"):
                ours.send(type="candidate", session=session, **candidate)
        for line in list(ours.seen):
            if line.get("type") == "candidate" and line.get("session") == session and line["candidate"] not in forwarded:
                forwarded.add(line["candidate"])
                page.module("await window.pc.addIceCandidate(arguments[0]);",
                            {"candidate": line["candidate"], "sdpMid": line.get("sdpMid"),
                             "sdpMLineIndex": line.get("sdpMLineIndex")})
        if page.js("return window.pc.connectionState;") == "connected":
            return
        ours.next(0.1)
    raise AssertionError(f"Chromium did not connect: {page.js('return window.pc.connectionState;')}; "
                         f"ours: {ours.seen[-10:]}\n{ours.log_tail()}")


def stats_after(page, seconds: float) -> dict:
    time.sleep(seconds)
    return page.module(STATS_SCRIPT)


def test_chromium_decodes_our_video_and_plays_our_audio(tmp_path: Path, browser) -> None:  # noqa: F811
    ours = start_webrtc_peer(tmp_path)
    try:
        negotiate(browser, ours)
        stats = stats_after(browser, 4)
        assert stats["video"] and stats["video"]["framesDecoded"] > 30, stats
        assert (stats["video"]["frameWidth"], stats["video"]["frameHeight"]) == (640, 360), stats
        assert stats["audio"] and stats["audio"]["totalSamplesReceived"] > 48_000, stats
        ours.send(type="stats", session="default")
        ours_stats = ours.wait_for("stats", 5, session="default")
        assert ours_stats["dtls_profile"] in ("SRTP_AEAD_AES_128_GCM", "SRTP_AES128_CM_SHA1_80"), ours_stats
    finally:
        ours.stop()


def test_under_five_percent_loss_nack_and_rtx_keep_chromium_smooth(tmp_path: Path, browser) -> None:  # noqa: F811
    ours = start_webrtc_peer(tmp_path, "--drop-outgoing", "0.05")
    try:
        negotiate(browser, ours)
        stats = stats_after(browser, 8)
        video = stats["video"]
        assert video and video["framesDecoded"] > 150, stats
        assert video["nackCount"] > 0, stats            # Chromium asked for the gaps ...
        assert video["retransmitted"] > 0, stats        # ... and got them back over RTX
        assert video["framesDropped"] <= 0.02 * video["framesDecoded"] + 2, stats
        assert video["freezeCount"] <= 1, stats
        ours.send(type="stats", session="default")
        ours_stats = ours.wait_for("stats", 5, session="default")
        assert ours_stats["nack_packets_resent"] > 0, ours_stats
    finally:
        ours.stop()


def test_a_picture_loss_indication_becomes_a_keyframe_request(tmp_path: Path, browser) -> None:  # noqa: F811
    # New sessions start mid-clip, on a picture that is not a keyframe: Chromium cannot decode
    # it and sends a PLI, which the PeerConnection reports as a keyframe request.
    ours = start_webrtc_peer(tmp_path, "--no-keyframe-wait")
    try:
        negotiate(browser, ours)
        request = ours.wait_for("keyframe-request", 10, session="default")
        assert request["reason"] in ("pli", "fir"), request
        stats = stats_after(browser, 2)
        assert stats["video"]["pliCount"] + 0 >= 1 or request["reason"] == "fir", stats
        assert stats["video"]["framesDecoded"] > 0, stats
    finally:
        ours.stop()
