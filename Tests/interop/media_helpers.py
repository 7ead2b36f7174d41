"""Our `webrtc-peer` tool and the aiortc peer (media_aiortc_peer.py) as processes, and the
relay that plays signaling between them (or between the tool and a browser page).

Both speak JSON lines; see the docstrings of Sources/webrtc-peer and media_aiortc_peer.py.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from ice_helpers import IcePeer

REPO_ROOT = Path(__file__).resolve().parents[2]
AIORTC_PEER = Path(__file__).resolve().parent / "media_aiortc_peer.py"
TEST_CLIP = Path(__file__).resolve().parent / "media" / "testsrc2-360p30-baseline.h264"


def webrtc_peer_binary() -> Path:
    bin_dir = Path(os.environ.get("POD_ARCADE_BIN_DIR", REPO_ROOT / ".build" / "debug"))
    return bin_dir / "webrtc-peer"


def start_webrtc_peer(tmp: Path, *extra: str, name: str = "webrtc-peer",
                      prefix: list[str] | None = None) -> IcePeer:
    """Our answerer on loopback, streaming the committed clip and a 440 Hz tone."""
    argv = (prefix or []) + [str(webrtc_peer_binary()), "--video-file", str(TEST_CLIP),
                             "--loopback", "--interfaces", "127.0.0.1", "--no-ipv6", *extra]
    return IcePeer(name, argv, tmp / f"{name}.log").start()


def start_aiortc(tmp: Path, *extra: str, name: str = "aiortc") -> IcePeer:
    return IcePeer(name, [sys.executable, str(AIORTC_PEER), *extra], tmp / f"{name}.log").start()


def connect_aiortc_offerer(offerer: IcePeer, answerer: IcePeer, session: str = "default",
                           timeout: float = 20.0) -> dict:
    """Relays aiortc's offer (candidates inside) to our tool and the answer back; forwards the
    tool's trickled candidates. Returns the answer line."""
    offer = offerer.wait_for("offer", timeout)
    answerer.send(type="offer", session=session, sdp=offer["sdp"])
    answer = answerer.wait_for("answer", timeout, session=session)
    offerer.send(type="answer", sdp=answer["sdp"])
    accepted = offerer.wait_for_any(("answer-accepted", "answer-refused"), timeout)
    assert accepted["type"] == "answer-accepted", f"aiortc refused our answer: {accepted}\n{answer['sdp']}"
    for line in list(answerer.seen):
        if line.get("type") == "candidate" and line.get("session") == session:
            offerer.send(type="candidate", candidate=line["candidate"], sdpMid=line.get("sdpMid"),
                         sdpMLineIndex=line.get("sdpMLineIndex"))
    return answer


def latest(peer: IcePeer, kind: str, wait: float = 0.0, **match) -> dict | None:
    """The most recent line of ``kind`` (after reading what arrived within ``wait`` s)."""
    deadline = time.monotonic() + wait
    while True:
        message = peer.next(max(0.0, deadline - time.monotonic()) if wait else 0.01)
        if message is None and time.monotonic() >= deadline:
            break
    found = [m for m in peer.seen if m.get("type") == kind and all(m.get(k) == v for k, v in match.items())]
    return found[-1] if found else None
