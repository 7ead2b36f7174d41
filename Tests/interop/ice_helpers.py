"""Run two ICE agents as processes and act as their signaling channel.

Each agent is a process speaking the ice-peer JSON-lines protocol (see
ice_peer_aioice.py): our `ice-peer` executable or the aioice stand-in.
`IcePeer` reads its lines on a thread; `exchange()` relays credentials and
candidates both ways (trickled as they appear) until both report a final
state, and returns what each said.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
AIOICE_PEER = Path(__file__).resolve().parent / "ice_peer_aioice.py"


def ice_peer_binary() -> Path:
    bin_dir = Path(os.environ.get("POD_ARCADE_BIN_DIR", REPO_ROOT / ".build" / "debug"))
    return bin_dir / "ice-peer"


@dataclass
class IcePeer:
    """One agent process. `argv` is the whole command (a netns prefix included)."""

    name: str
    argv: list[str]
    log_path: Path
    lines: "queue.Queue[dict]" = field(default_factory=queue.Queue)
    seen: list[dict] = field(default_factory=list)
    process: subprocess.Popen | None = None

    def start(self) -> "IcePeer":
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
            text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        assert self.process and self.process.stdout
        for line in self.process.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                message = {"type": "garbage", "line": line}
            self.lines.put(message)
        self.lines.put({"type": "eof"})

    def send(self, **message) -> None:
        assert self.process and self.process.stdin
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def next(self, timeout: float) -> dict | None:
        try:
            message = self.lines.get(timeout=timeout)
        except queue.Empty:
            return None
        self.seen.append(message)
        return message

    def wait_for(self, kind: str, timeout: float, **match) -> dict:
        deadline = time.monotonic() + timeout
        for message in self.seen:
            if message.get("type") == kind and all(message.get(k) == v for k, v in match.items()):
                return message
        while time.monotonic() < deadline:
            message = self.next(max(0.0, deadline - time.monotonic()))
            if message is None:
                break
            if message.get("type") == kind and all(message.get(k) == v for k, v in match.items()):
                return message
            if message.get("type") == "eof":
                break
        raise AssertionError(f"{self.name}: no {kind} {match} within {timeout}s; saw {self.seen[-12:]}; "
                             f"log: {self.log_tail()}")

    def wait_for_any(self, kinds: tuple[str, ...], timeout: float) -> dict:
        """The first line whose type is one of ``kinds``."""
        deadline = time.monotonic() + timeout
        for message in self.seen:
            if message.get("type") in kinds:
                return message
        while time.monotonic() < deadline:
            message = self.next(max(0.0, deadline - time.monotonic()))
            if message is None or message.get("type") == "eof":
                break
            if message.get("type") in kinds:
                return message
        raise AssertionError(f"{self.name}: none of {kinds} within {timeout}s; saw {self.seen[-12:]}; "
                             f"log: {self.log_tail()}")

    def states(self) -> list[str]:
        return [m["state"] for m in self.seen if m.get("type") == "state"]

    def log_tail(self) -> str:
        try:
            self.log.flush()
            return self.log_path.read_text()[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.send(type="close")
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def aioice_peer(name: str, tmp: Path, role: str, *extra: str, prefix: list[str] | None = None) -> IcePeer:
    argv = (prefix or []) + [sys.executable, str(AIOICE_PEER), "--role", role, *extra]
    return IcePeer(name, argv, tmp / f"{name}.log").start()


def swift_peer(name: str, tmp: Path, role: str, *extra: str, prefix: list[str] | None = None) -> IcePeer:
    argv = (prefix or []) + [str(ice_peer_binary()), "--role", role, *extra]
    return IcePeer(name, argv, tmp / f"{name}.log").start()


@dataclass
class Outcome:
    a_state: str
    b_state: str
    a: IcePeer
    b: IcePeer

    def selected(self, peer: IcePeer) -> dict:
        return peer.wait_for("selected", 1.0)


def exchange(a: IcePeer, b: IcePeer, timeout: float = 20.0, trickle: bool = True,
             rewrite_a=None) -> Outcome:
    """Relays signaling between `a` and `b` until both are connected or failed.

    With `trickle`, candidates are forwarded as they appear; without, each
    side's candidates are held until it reports gathering-complete.
    `rewrite_a` may change each of `a`'s candidate lines on the way to `b`
    (for example to hide its address behind an mDNS name).
    """
    deadline = time.monotonic() + timeout
    final: dict[str, str] = {}
    held: dict[str, list[dict]] = {a.name: [], b.name: []}
    peers = {a.name: (a, b), b.name: (b, a)}
    while time.monotonic() < deadline and len(final) < 2:
        progressed = False
        for name, (me, other) in peers.items():
            message = me.next(0.005)
            if message is None:
                continue
            progressed = True
            kind = message.get("type")
            if kind == "local-credentials":
                other.send(type="remote-credentials", ufrag=message["ufrag"], pwd=message["pwd"])
            elif kind == "local-candidate":
                if rewrite_a is not None and me is a:
                    message = {**message, "candidate": rewrite_a(message["candidate"])}
                if trickle:
                    other.send(type="remote-candidate", candidate=message["candidate"])
                else:
                    held[name].append(message)
            elif kind == "gathering-complete":
                for item in held[name]:
                    other.send(type="remote-candidate", candidate=item["candidate"])
                held[name].clear()
                other.send(type="end-of-candidates")
            elif kind == "state" and message["state"] in ("connected", "completed", "failed"):
                final.setdefault(name, message["state"])
            elif kind == "eof":
                final.setdefault(name, "exited")
        if not progressed:
            time.sleep(0.002)
    return Outcome(final.get(a.name, "timeout"), final.get(b.name, "timeout"), a, b)


def ping(sender: IcePeer, receiver: IcePeer, payload: bytes, timeout: float = 5.0) -> None:
    """Sends `payload` over the selected pair and waits for it to arrive."""
    encoded = base64.b64encode(payload).decode()
    sender.send(type="send", data=encoded)
    receiver.wait_for("data", timeout, data=encoded)


def ping_until_delivered(sender: IcePeer, receiver: IcePeer, payload: bytes, attempts: int = 20) -> None:
    """Like `ping`, but resends (as any datagram protocol would) until one copy arrives."""
    encoded = base64.b64encode(payload).decode()
    for _ in range(attempts):
        sender.send(type="send", data=encoded)
        try:
            receiver.wait_for("data", 0.25, data=encoded)
            return
        except AssertionError:
            continue
    raise AssertionError(f"{payload!r} never arrived after {attempts} sends; receiver saw {receiver.seen[-8:]}")
