"""Our ICE agent (the ice-peer tool) against aioice, over loopback.

Each test starts two agent processes and relays their signaling lines
(ice_helpers.exchange); it asserts the final states, the selected pair's
candidate types and that application data crosses the selected pair.
"""

from __future__ import annotations

import base64
import socket
import time

import pytest

from conftest import pick_free_udp_port
from ice_helpers import aioice_peer, exchange, ice_peer_binary, ping, ping_until_delivered, swift_peer

CONNECTED = ("connected", "completed")


@pytest.fixture(autouse=True)
def _needs_binary():
    if not ice_peer_binary().exists():
        pytest.fail(f"{ice_peer_binary()} is missing: run `swift build` first")


def _stats(peer) -> dict:
    peer.send(type="stats")
    before = len([m for m in peer.seen if m.get("type") == "stats"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [m for m in peer.seen if m.get("type") == "stats"]
        if len(found) > before:
            return found[-1]
        peer.next(0.05)
    raise AssertionError(f"{peer.name} sent no stats")


def _selected(peer) -> dict:
    return peer.wait_for("selected", 2.0)


@pytest.mark.parametrize("our_role", ["controlled", "controlling"])
def test_connects_with_aioice_in_either_role(tmp_path, our_role):
    their_role = "controlling" if our_role == "controlled" else "controlled"
    ours = swift_peer("ours", tmp_path, our_role, "--loopback", "--no-ipv6", "--echo")
    theirs = aioice_peer("aioice", tmp_path, their_role, "--loopback", "--no-ipv6")
    try:
        outcome = exchange(theirs, ours, timeout=15)
        assert outcome.a_state in CONNECTED and outcome.b_state in CONNECTED, (ours.seen, theirs.seen)
        pair = _selected(ours)
        assert pair["local"]["type"] == "host"
        assert pair["remote"]["type"] in ("host", "prflx")
        # Application data never starts with 0-3 (RFC 7983 §7: that is STUN); DTLS starts 20-63.
        for size in (1, 100, 1200):
            payload = bytes([23]) + bytes((i * 7) % 256 for i in range(size - 1))
            ping(theirs, ours, payload)
            theirs.wait_for("data", 5, data=base64.b64encode(payload).decode())
    finally:
        ours.stop()
        theirs.stop()


def test_connects_when_candidates_are_sent_only_after_gathering(tmp_path):
    ours = swift_peer("ours", tmp_path, "controlled", "--loopback", "--no-ipv6")
    theirs = aioice_peer("aioice", tmp_path, "controlling", "--loopback", "--no-ipv6")
    try:
        outcome = exchange(theirs, ours, timeout=15, trickle=False)
        assert outcome.a_state in CONNECTED and outcome.b_state in CONNECTED
        ping(theirs, ours, b"after-gathering")
    finally:
        ours.stop()
        theirs.stop()


def test_wrong_password_never_connects_and_is_counted(tmp_path):
    ours = swift_peer("ours", tmp_path, "controlled", "--loopback", "--no-ipv6")
    theirs = aioice_peer("aioice", tmp_path, "controlling", "--loopback", "--no-ipv6")
    try:
        creds = theirs.wait_for("local-credentials", 10)
        mine = ours.wait_for("local-credentials", 10)
        # aioice is told a wrong password for us: its checks fail integrity on our side.
        theirs.send(type="remote-credentials", ufrag=mine["ufrag"], pwd="x" * 22)
        ours.send(type="remote-credentials", ufrag=creds["ufrag"], pwd=creds["pwd"])
        ours.wait_for("gathering-complete", 10)
        theirs.wait_for("gathering-complete", 10)
        for message in ours.seen:
            if message["type"] == "local-candidate":
                theirs.send(type="remote-candidate", candidate=message["candidate"])
        theirs.send(type="end-of-candidates")
        theirs.wait_for("state", 10, state="checking")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _stats(ours)["agent"]["integrityFailures"] < 3:
            time.sleep(0.2)
        stats = _stats(ours)
        assert stats["agent"]["integrityFailures"] >= 3, stats
        assert "connected" not in ours.states() and "completed" not in ours.states()
        assert "connected" not in theirs.states()
    finally:
        ours.stop()
        theirs.stop()


def test_single_port_mode_serves_aioice_on_the_configured_port(tmp_path):
    port = pick_free_udp_port()
    ours = swift_peer("ours", tmp_path, "controlled", "--loopback", "--no-ipv6", "--port", str(port), "--echo")
    theirs = aioice_peer("aioice", tmp_path, "controlling", "--loopback", "--no-ipv6")
    try:
        outcome = exchange(theirs, ours, timeout=15)
        assert outcome.a_state in CONNECTED and outcome.b_state in CONNECTED
        candidates = [m["candidate"] for m in ours.seen if m["type"] == "local-candidate"]
        assert candidates and all(f" {port} typ host" in c for c in candidates), candidates
        assert _selected(ours)["local"]["port"] == port
        ping(theirs, ours, b"through the shared port")
    finally:
        ours.stop()
        theirs.stop()


def test_advertised_addresses_replace_host_addresses(tmp_path):
    port = pick_free_udp_port()
    ours = swift_peer("ours", tmp_path, "controlled", "--loopback", "--no-ipv6", "--port", str(port),
                      "--advertise", "127.0.0.1,203.0.113.77")
    theirs = aioice_peer("aioice", tmp_path, "controlling", "--loopback", "--no-ipv6")
    try:
        outcome = exchange(theirs, ours, timeout=15)
        assert outcome.a_state in CONNECTED and outcome.b_state in CONNECTED
        candidates = [m["candidate"] for m in ours.seen if m["type"] == "local-candidate"]
        assert any(f"203.0.113.77 {port} typ host" in c for c in candidates), candidates
        assert any(f"127.0.0.1 {port} typ host" in c for c in candidates), candidates
    finally:
        ours.stop()
        theirs.stop()


def test_strangers_flooding_the_shared_port_do_not_disturb_a_session(tmp_path):
    port = pick_free_udp_port()
    ours = swift_peer("ours", tmp_path, "controlled", "--loopback", "--no-ipv6", "--port", str(port), "--echo")
    theirs = aioice_peer("aioice", tmp_path, "controlling", "--loopback", "--no-ipv6")
    try:
        outcome = exchange(theirs, ours, timeout=15)
        assert outcome.b_state in CONNECTED
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
            header = bytes([0x00, 0x01, 0x00, 0x0C, 0x21, 0x12, 0xA4, 0x42]) + bytes(12)
            username = bytes([0x00, 0x06, 0x00, 0x08]) + b"zzzz:abc"
            for _ in range(2000):
                stranger.sendto(header + username, ("127.0.0.1", port))
                stranger.sendto(b"\x17\xfe\xfd" + bytes(40), ("127.0.0.1", port))
        # The flood may still fill the socket buffer for a moment; a datagram protocol resends.
        ping_until_delivered(theirs, ours, b"still here")
        theirs.wait_for("data", 5, data=base64.b64encode(b"still here").decode())
        stats = _stats(ours)
        assert stats["mux"]["droppedUnknownUfrag"] >= 2000 and stats["mux"]["droppedUnknownAddress"] >= 2000, stats
    finally:
        ours.stop()
        theirs.stop()


def test_ours_connect_to_ours(tmp_path):
    a = swift_peer("a", tmp_path, "controlling", "--loopback", "--no-ipv6")
    b = swift_peer("b", tmp_path, "controlled", "--loopback", "--no-ipv6", "--echo")
    try:
        outcome = exchange(a, b, timeout=15)
        assert outcome.a_state in CONNECTED and outcome.b_state in CONNECTED
        assert _selected(a)["local"]["type"] == "host" and _selected(a)["remote"]["type"] == "host"
        ping(a, b, b"ours to ours")
        a.wait_for("data", 5, data=base64.b64encode(b"ours to ours").decode())
    finally:
        a.stop()
        b.stop()


def test_unresolvable_mdns_candidates_still_connect_through_peer_reflexive_discovery(tmp_path):
    """Real browsers hide host addresses behind `<uuid>.local` names (real-peers.md). Our agent
    asks for them to be resolved off the event loop; when they cannot be, the browser's own
    checks reveal its address as a peer-reflexive candidate and the session connects anyway."""
    import uuid

    def hide(line: str) -> str:
        parts = line.split(" ")
        parts[4] = f"{uuid.uuid4()}.local"
        return " ".join(parts)

    ours = swift_peer("ours", tmp_path, "controlled", "--loopback", "--no-ipv6", "--echo")
    theirs = aioice_peer("aioice", tmp_path, "controlling", "--loopback", "--no-ipv6")
    try:
        outcome = exchange(theirs, ours, timeout=15, rewrite_a=hide)
        assert outcome.a_state in CONNECTED and outcome.b_state in CONNECTED
        assert _selected(ours)["remote"]["type"] == "prflx"
        ping_until_delivered(theirs, ours, b"\x17hidden host")
    finally:
        ours.stop()
        theirs.stop()
