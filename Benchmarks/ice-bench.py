#!/usr/bin/env python3
"""ICE benchmark (make bench-ice): ours against aioice in the same run.

1. Loopback: time from the first remote candidate to connected, ours<->ours
   against aioice<->aioice, RUNS pairs each; medians and the ratio
   (issue target: ours <= 0.3x aioice's).
2. Through NAT, in network namespaces (root only): connected through the
   relay under symmetric NAT (target <= 1 s) and through TURN over TCP with
   UDP blocked (target <= 2 s), ours and aioice, each measured on the
   controlled side from its first remote candidate.
3. Single port: ice-bench connects SESSIONS sessions sharing one UDP port
   and times the per-datagram demultiplexing.

Environment: POD_ARCADE_BIN_DIR (default .build/release), RUNS (default 20),
SESSIONS (default 100).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "interop"))
os.environ.setdefault("POD_ARCADE_BIN_DIR", str(ROOT / ".build" / "release"))

from ice_helpers import aioice_peer, exchange, swift_peer  # noqa: E402
from netns import INET_TURN_IP, Topology  # noqa: E402

RUNS = int(os.environ.get("RUNS", "20"))
SESSIONS = int(os.environ.get("SESSIONS", "100"))
CONNECTED = ("connected", "completed")


def elapsed(peer) -> float | None:
    for message in peer.seen:
        if message.get("type") == "state" and message.get("state") in CONNECTED and message.get("elapsed_ms") is not None:
            return float(message["elapsed_ms"])
    return None


def one_pair(kind: str, tmp: Path, prefix_a=None, prefix_b=None, a_args=(), b_args=()) -> float | None:
    make = swift_peer if kind == "ours" else aioice_peer
    a = make("a", tmp, "controlling", *a_args, prefix=prefix_a)
    b = make("b", tmp, "controlled", *b_args, prefix=prefix_b)
    try:
        outcome = exchange(a, b, timeout=20)
        if outcome.b_state not in CONNECTED:
            return None
        return elapsed(b)
    finally:
        a.stop()
        b.stop()


def loopback(tmp: Path) -> None:
    print(f"== loopback: first remote candidate -> connected (controlled side), {RUNS} runs each")
    results: dict[str, list[float]] = {}
    for kind in ("ours", "aioice"):
        times = []
        for _ in range(RUNS):
            value = one_pair(kind, tmp, a_args=("--loopback", "--no-ipv6"), b_args=("--loopback", "--no-ipv6"))
            if value is not None:
                times.append(value)
        results[kind] = times
        print(f"{kind:7s} median {statistics.median(times):7.2f} ms  min {min(times):7.2f}  max {max(times):7.2f}  "
              f"({len(times)}/{RUNS} connected)")
    ratio = statistics.median(results["ours"]) / statistics.median(results["aioice"])
    print(f"ratio ours/aioice {ratio:.3f} (target <= 0.3)")


def turn_servers(tcp: bool) -> str:
    urls = [f"turn:{INET_TURN_IP}:3478?transport=udp"] + ([f"turn:{INET_TURN_IP}:3478?transport=tcp"] if tcp else [])
    return ('[{"urls":["stun:%s:3478"]},{"urls":%s,"username":"u","credential":"p"}]'
            % (INET_TURN_IP, str(urls).replace("'", '"')))


def aioice_turn_args(tcp: bool) -> tuple[str, ...]:
    return ("--no-ipv6", "--stun", f"{INET_TURN_IP}:3478", "--turn", f"{INET_TURN_IP}:3478",
            "--turn-username", "u", "--turn-password", "p", "--turn-transport", "tcp" if tcp else "udp")


def through_nat(tmp: Path) -> None:
    why = Topology.unavailable()
    if why:
        print(f"== NAT: skipped ({why})")
        return
    sys.path.insert(0, str(ROOT / "Tests" / "interop"))
    from test_ice_netns import start_coturn  # noqa: E402

    runs = max(3, RUNS // 4)
    for label, a_nat, b_nat, tcp, target in (("relay, symmetric NATs", "symmetric", "symmetric", False, 1000),
                                              ("TURN/TCP, UDP blocked", "udp-blocked", "eim", True, 2000)):
        print(f"== NAT: {label}, {runs} runs each (target ours <= {target} ms)")
        for kind in ("ours", "aioice"):
            times = []
            for _ in range(runs):
                with Topology(a_nat, b_nat) as topology:
                    turn = start_coturn(topology, tmp)
                    try:
                        if kind == "ours":
                            args_a = ("--ice-servers", turn_servers(tcp))
                            args_b = ("--ice-servers", turn_servers(False))
                        else:
                            args_a, args_b = aioice_turn_args(tcp), aioice_turn_args(False)
                        value = one_pair(kind, tmp, topology.exec_prefix("hostA"), topology.exec_prefix("hostB"), args_a, args_b)
                        if value is not None:
                            times.append(value)
                    finally:
                        turn.kill()
                        turn.wait()
            if times:
                print(f"{kind:7s} median {statistics.median(times):8.1f} ms  max {max(times):8.1f}  ({len(times)}/{runs} connected)")
            else:
                print(f"{kind:7s} never connected")


def single_port() -> None:
    binary = Path(os.environ["POD_ARCADE_BIN_DIR"]) / "ice-bench"
    print(f"== single port: {SESSIONS} sessions on one UDP port")
    subprocess.run([str(binary), "sessions", "--sessions", str(SESSIONS)], check=False)
    subprocess.run([str(binary), "demux", "--sessions", str(SESSIONS)], check=False)


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        loopback(tmp)
        through_nat(tmp)
        single_port()


if __name__ == "__main__":
    main()
