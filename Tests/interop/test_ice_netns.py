"""Two hosts behind NAT routers, in network namespaces this test creates
(netns.py), connect through our ICE agent: via server-reflexive candidates,
through a TURN relay (coturn on the "internet"), over TURN/TCP when UDP is
blocked, and through a forwarded port with WEBRTC_PORT/WEBRTC_IPS.

Each test asserts the selected pair's candidate types, not only success,
and prints the time from the first remote candidate to connected.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from ice_helpers import aioice_peer, exchange, ice_peer_binary, ping_until_delivered, swift_peer
from netns import INET_TURN_IP, Topology

CONNECTED = ("connected", "completed")
TURN_PORT = 3478


@pytest.fixture(autouse=True)
def _requirements():
    why = Topology.unavailable()
    if why:
        pytest.skip(f"network namespaces unavailable: {why}")
    if shutil.which("turnserver") is None:
        pytest.fail("turnserver (Debian coturn) is missing: `make deps` installs it")
    if not ice_peer_binary().exists():
        pytest.fail(f"{ice_peer_binary()} is missing: run `swift build` first")


def start_coturn(topology: Topology, tmp_path) -> subprocess.Popen:
    log = tmp_path / "coturn.log"
    argv = topology.exec_prefix("inet") + [
        "turnserver", "-n", "--no-cli", "--no-tls", "--no-dtls", "--no-rfc5780",
        "--lt-cred-mech", "--user", "u:p", "--realm", "pod-arcade",
        "--listening-ip", INET_TURN_IP, "--relay-ip", INET_TURN_IP,
        "--listening-port", str(TURN_PORT), "--min-port", "40000", "--max-port", "40999",
        "--db", str(tmp_path / "turndb"), "--pidfile", str(tmp_path / "turn.pid"),
        "--log-file", str(log), "--simple-log", "--no-stdout-log",
    ]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    # Ready when it answers TCP on the listening port (from the internet namespace itself).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        probe = subprocess.run(topology.exec_prefix("inet") + ["bash", "-c", f"echo > /dev/tcp/{INET_TURN_IP}/{TURN_PORT}"],
                               capture_output=True)
        if probe.returncode == 0:
            return process
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"coturn did not start: {log.read_text() if log.exists() else ''}")


def ice_servers(*, stun: bool = True, turn_udp: bool = True, turn_tcp: bool = False) -> str:
    servers: list[dict] = []
    if stun:
        servers.append({"urls": [f"stun:{INET_TURN_IP}:{TURN_PORT}"]})
    urls = []
    if turn_udp:
        urls.append(f"turn:{INET_TURN_IP}:{TURN_PORT}?transport=udp")
    if turn_tcp:
        urls.append(f"turn:{INET_TURN_IP}:{TURN_PORT}?transport=tcp")
    if urls:
        servers.append({"urls": urls, "username": "u", "credential": "p"})
    return json.dumps(servers)


def run_pair(topology: Topology, tmp_path, a_args: list[str], b_args: list[str], timeout: float = 20):
    a = swift_peer("hostA", tmp_path, "controlling", *a_args, prefix=topology.exec_prefix("hostA"))
    b = swift_peer("hostB", tmp_path, "controlled", "--echo", *b_args, prefix=topology.exec_prefix("hostB"))
    outcome = exchange(a, b, timeout=timeout)
    return a, b, outcome


def elapsed(peer) -> float:
    for message in peer.seen:
        if message.get("type") == "state" and message.get("state") in CONNECTED and "elapsed_ms" in message:
            return message["elapsed_ms"]
    return float("nan")


def finish(a, b, outcome) -> tuple[dict, dict]:
    assert outcome.a_state in CONNECTED and outcome.b_state in CONNECTED, (
        f"A {outcome.a_state} {a.seen[-10:]}\nB {outcome.b_state} {b.seen[-10:]}\nA log {a.log_tail()}\nB log {b.log_tail()}")
    pair_a, pair_b = a.wait_for("selected", 2), b.wait_for("selected", 2)
    ping_until_delivered(a, b, b"\x17across the nat")
    print(f"A {pair_a['local']['type']}->{pair_a['remote']['type']} {elapsed(a):.1f} ms; "
          f"B {pair_b['local']['type']}->{pair_b['remote']['type']} {elapsed(b):.1f} ms")
    return pair_a, pair_b


def test_endpoint_independent_nats_connect_through_server_reflexive_candidates(tmp_path):
    with Topology("eim", "eim") as topology:
        turn = start_coturn(topology, tmp_path)
        try:
            servers = ice_servers(stun=True, turn_udp=False)
            a, b, outcome = run_pair(topology, tmp_path, ["--ice-servers", servers], ["--ice-servers", servers])
            try:
                pair_a, pair_b = finish(a, b, outcome)
                types = {pair_a["local"]["type"], pair_a["remote"]["type"], pair_b["local"]["type"], pair_b["remote"]["type"]}
                assert "relay" not in types
                # Each side reaches the other's NAT mapping, never its private host address.
                assert pair_a["remote"]["type"] in ("srflx", "prflx") and pair_b["remote"]["type"] in ("srflx", "prflx")
                assert pair_a["remote"]["address"].startswith("203.0.113.")
            finally:
                a.stop()
                b.stop()
        finally:
            turn.kill()


def test_symmetric_nats_connect_through_the_relay(tmp_path):
    with Topology("symmetric", "symmetric") as topology:
        turn = start_coturn(topology, tmp_path)
        try:
            servers = ice_servers(stun=True, turn_udp=True)
            a, b, outcome = run_pair(topology, tmp_path, ["--ice-servers", servers], ["--ice-servers", servers])
            try:
                pair_a, pair_b = finish(a, b, outcome)
                assert "relay" in (pair_a["local"]["type"], pair_a["remote"]["type"])
                assert "relay" in (pair_b["local"]["type"], pair_b["remote"]["type"])
            finally:
                a.stop()
                b.stop()
        finally:
            turn.kill()


def test_udp_blocked_connects_through_turn_over_tcp(tmp_path):
    with Topology("udp-blocked", "eim") as topology:
        turn = start_coturn(topology, tmp_path)
        try:
            a_servers = ice_servers(stun=True, turn_udp=True, turn_tcp=True)
            b_servers = ice_servers(stun=True, turn_udp=True)
            a, b, outcome = run_pair(topology, tmp_path, ["--ice-servers", a_servers], ["--ice-servers", b_servers])
            try:
                pair_a, _ = finish(a, b, outcome)
                assert pair_a["local"]["type"] == "relay"
                # Connected before the UDP servers were given up on: nothing waited for them.
                a.wait_for("gathering-complete", 15)
                failed = [m for m in a.seen if m.get("type") == "server-failed"]
                # UDP to the TURN and STUN servers is dropped by the router: those failed.
                assert any("transport=udp" in m["server"] or ":3478" in m["server"] for m in failed), failed
            finally:
                a.stop()
                b.stop()
        finally:
            turn.kill()


def test_a_forwarded_port_connects_directly_without_stun_or_turn(tmp_path):
    port = 45678
    with Topology("eim", f"forward:{port}") as topology:
        public_b = topology.b.nat_wan_ip
        a, b, outcome = run_pair(
            topology, tmp_path, [],
            ["--port", str(port), "--advertise", f"{public_b},{topology.b.host_ip}"])
        try:
            pair_a, pair_b = finish(a, b, outcome)
            assert pair_a["remote"] == {**pair_a["remote"], "type": "host", "address": public_b, "port": port}
            assert pair_b["local"]["type"] == "host" and pair_b["local"]["port"] == port
            assert pair_b["remote"]["type"] in ("prflx", "srflx")
        finally:
            a.stop()
            b.stop()


def test_aioice_behind_a_symmetric_nat_reaches_us(tmp_path):
    with Topology("symmetric", "eim") as topology:
        turn = start_coturn(topology, tmp_path)
        try:
            theirs = aioice_peer("aioiceA", tmp_path, "controlling", "--no-ipv6",
                                 "--stun", f"{INET_TURN_IP}:{TURN_PORT}", "--turn", f"{INET_TURN_IP}:{TURN_PORT}",
                                 "--turn-username", "u", "--turn-password", "p",
                                 prefix=topology.exec_prefix("hostA"))
            ours = swift_peer("oursB", tmp_path, "controlled", "--echo", "--ice-servers", ice_servers(stun=True, turn_udp=True),
                              prefix=topology.exec_prefix("hostB"))
            try:
                outcome = exchange(theirs, ours, timeout=30)
                assert outcome.b_state in CONNECTED, (ours.seen[-10:], theirs.seen[-10:])
                pair = ours.wait_for("selected", 2)
                # Its checks reach our endpoint-independent mapping from a port we learn as prflx,
                # or both go through the relay.
                assert pair["remote"]["type"] in ("prflx", "relay"), pair
                ping_until_delivered(theirs, ours, b"\x17from aioice")
            finally:
                theirs.stop()
                ours.stop()
        finally:
            turn.kill()
