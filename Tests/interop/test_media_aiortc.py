"""Our PeerConnection (through the `webrtc-peer` tool) answering aiortc, which plays the
browser: recvonly H.264 and Opus plus the `input` data channel. aiortc must accept our
answer, complete DTLS-SRTP with us and decode the committed H.264 clip and the Opus tone.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from media_helpers import connect_aiortc_offerer, latest, start_aiortc, start_webrtc_peer



def wait_media(offerer, frames: int, samples: int, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    last: dict | None = None
    while time.monotonic() < deadline:
        message = offerer.next(0.5)
        if message and message.get("type") == "media":
            last = message
            if message["frames"] >= frames and message["audio_samples"] >= samples:
                return message
    raise AssertionError(f"aiortc decoded too little: {last}; log: {offerer.log_tail()}")


def test_aiortc_decodes_our_h264_and_opus(tmp_path: Path) -> None:
    ours = start_webrtc_peer(tmp_path, "--wait-for-gathering")
    theirs = start_aiortc(tmp_path)
    try:
        answer = connect_aiortc_offerer(theirs, ours)
        sdp = answer["sdp"]
        assert "a=setup:active" in sdp and "H264/90000" in sdp and "opus/48000/2" in sdp
        ours.wait_for("state", 20, session="default", state="connected")
        media = wait_media(theirs, frames=45, samples=96_000)
        assert (media["width"], media["height"]) == (640, 360)
        # The tone survives encoding, packetization, SRTP and aiortc's decoder.
        tone = latest(theirs, "media", wait=0.6)
        assert tone and abs(tone["tone_hz"] - 440) < 5, tone
    finally:
        theirs.stop()
        ours.stop()


def test_lost_packets_are_resent_and_aiortc_keeps_decoding(tmp_path: Path) -> None:
    # 5 % of outgoing RTP is dropped before it reaches the socket; aiortc NACKs the gaps and
    # our NACK responder resends them from its history.
    ours = start_webrtc_peer(tmp_path, "--wait-for-gathering", "--drop-outgoing", "0.05")
    theirs = start_aiortc(tmp_path)
    try:
        connect_aiortc_offerer(theirs, ours)
        ours.wait_for("state", 20, session="default", state="connected")
        wait_media(theirs, frames=60, samples=96_000, timeout=25)
        ours.send(type="stats", session="default")
        stats = ours.wait_for("stats", 5, session="default")
        assert stats["rtp_dropped_simulated"] > 0, stats
        assert stats["nack_packets_resent"] > 0, stats
    finally:
        theirs.stop()
        ours.stop()


def test_a_peer_that_vanishes_leaves_other_sessions_streaming(tmp_path: Path) -> None:
    ours = start_webrtc_peer(tmp_path, "--wait-for-gathering")
    first = start_aiortc(tmp_path, name="aiortc-1")
    second = start_aiortc(tmp_path, name="aiortc-2")
    try:
        connect_aiortc_offerer(first, ours, session="one")
        connect_aiortc_offerer(second, ours, session="two")
        ours.wait_for("state", 20, session="one", state="connected")
        ours.wait_for("state", 20, session="two", state="connected")
        wait_media(first, frames=15, samples=0)
        before = wait_media(second, frames=15, samples=0)
        assert first.process
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
        time.sleep(2)
        after = wait_media(second, frames=before["frames"] + 45, samples=0)
        assert after["frames"] >= before["frames"] + 45
        ours.send(type="stats", session="two")
        assert ours.wait_for("stats", 5, session="two")["state"] == "connected"
    finally:
        first.stop()
        second.stop()
        ours.stop()


@pytest.mark.parametrize("mangle, expected", [
    (lambda sdp: "\r\n".join(l for l in sdp.split("\r\n") if not l.startswith("a=fingerprint")), "fingerprint"),
    (lambda sdp: sdp.replace("H264/90000", "XVID/90000").replace("opus/48000/2", "XOPUS/48000/2"), "H.264"),
    (lambda sdp: "v=0\r\nthis is not SDP\r\n", "line"),
])
def test_an_offer_we_cannot_satisfy_gets_a_clear_error_and_others_carry_on(tmp_path: Path, mangle, expected: str) -> None:
    ours = start_webrtc_peer(tmp_path, "--wait-for-gathering")
    bad = start_aiortc(tmp_path, name="aiortc-bad")
    good = start_aiortc(tmp_path, name="aiortc-good")
    try:
        offer = bad.wait_for("offer", 20)
        ours.send(type="offer", session="bad", sdp=mangle(offer["sdp"]))
        error = ours.wait_for("error", 10, session="bad")
        assert expected.lower() in error["message"].lower(), error
        connect_aiortc_offerer(good, ours, session="good")
        ours.wait_for("state", 20, session="good", state="connected")
        wait_media(good, frames=15, samples=0)
    finally:
        bad.stop()
        good.stop()
        ours.stop()
