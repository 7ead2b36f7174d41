"""Data channels (SCTP over DTLS, RFC 8261; DCEP, RFC 8832) between our PeerConnection, through
the echoing `webrtc-peer` tool, and aiortc's own SCTP stack playing the browser: the negotiated
`input` channel (id 0) and an in-band channel, every size up to the negotiated maximum both
ways, and 10,000 ordered messages, also under 5 % SCTP packet loss each way.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from media_helpers import connect_aiortc_offerer, start_aiortc, start_webrtc_peer


def dc_result(peer, ours, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = peer.next(0.5)
        if message and message.get("type") == "dc-result":
            return message
    try:
        ours.send(type="stats", session="default")
        ours.wait_for("stats", 5, session="default")
    except Exception as error:  # the report below is what matters
        print(f"no stats from webrtc-peer: {error}")
    theirs_lines = [m for m in peer.seen if m.get("type") not in ("media", "offer")][-8:] + [m for m in peer.seen if m.get("type") == "media"][-1:]
    ours_lines = [{k: v for k, v in m.items() if k != "sdp"} for m in ours.seen if m.get("type") not in ("candidate",)][-14:]
    raise AssertionError(f"aiortc reported no data-channel result; aiortc: {theirs_lines}; ours: {ours_lines}")


@pytest.mark.parametrize("loss", [0.0, 0.05], ids=["no-loss", "5pct-loss"])
def test_aiortc_channels_echo_every_size_and_10000_in_order(tmp_path: Path, loss: float) -> None:
    ours = start_webrtc_peer(tmp_path, "--wait-for-gathering", "--drop-sctp", str(loss))
    theirs = start_aiortc(tmp_path, "--dc-check", "--dc-max", "65536")
    try:
        answer = connect_aiortc_offerer(theirs, ours)
        assert "m=application" in answer["sdp"] and "a=sctp-port:5000" in answer["sdp"]
        ours.wait_for("sctp", 20, session="default", state="connected")
        result = dc_result(theirs, ours, 120 if loss else 60)
        assert "error" not in result, result
        if result["burst"]["count"] != 10000:
            snapshots = []
            for _ in range(6):
                ours.send(type="stats", session="default")
                line = None
                answer_by = time.monotonic() + 5
                while (line is None or line.get("type") != "stats") and time.monotonic() < answer_by:
                    line = ours.next(1)
                if line is None or line.get("type") != "stats":
                    snapshots.append("no stats answer")
                    break
                snapshots.append({k: v for k, v in line.items() if k.startswith(("sctp", "dtls_app"))})
                time.sleep(2)
            raise AssertionError(f"burst stalled: {result['burst']}; aiortc: {result.get('sctp_state')}; ours: {snapshots}")
        # We answer setup:active, so we are the DTLS client and aiortc the server: its in-band
        # channel takes an odd stream id (RFC 8832 §6).
        assert result["ids"]["input"] == 0 and result["ids"]["chat"] % 2 == 1, result["ids"]
        for label in ("input", "chat"):
            channel = result["channels"][label]
            assert channel["intact"], (label, channel)
            assert channel["sizes"] == [1, 18, 28, 16384, 65536, len("hello ✓"), 0]
        assert result["burst"] == {**result["burst"], "count": 10000, "in_order": True}
        ours.send(type="stats", session="default")
        stats = ours.wait_for("stats", 5, session="default")
        opened = [m for m in ours.seen if m.get("type") == "datachannel" and m.get("event") == "open"]
        assert {m["label"] for m in opened} == {"input", "chat"}, opened
        assert any(m["label"] == "chat" and m["protocol"] == "text" for m in opened)
        assert stats["dc_messages_received"] >= 10014 and stats["dc_messages_sent"] >= 10014, stats
        if loss:
            assert stats["sctp_dropped_simulated"] > 0, stats
        else:
            assert stats["sctp_dropped_simulated"] == 0, stats
    finally:
        theirs.stop()
        ours.stop()
