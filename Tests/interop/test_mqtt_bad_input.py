"""Bad input closes the offending connection, and only that one: against
mosquitto and ours, with hand-made bytes on a raw socket.

In every test a well-behaved client connected before the bad one must
still get messages afterwards, and new clients must still be able to
connect (``check_still_serving``); a broker that crashes fails the test at
teardown.

What may come back before the connection closes: nothing for MQTT 3.1.1
(it has no server DISCONNECT); for MQTT 5 a DISCONNECT with a reason code
of 0x80 or more, and for a bad CONNECT a refusing CONNACK.
"""

from __future__ import annotations

import socket
import time

import pytest

from mqtt_helpers import (
    CONNACK, DISCONNECT, V5, V311, Broker, RawConnection, RawPacket, check_still_serving, clients,
    connect_packet, publish_packet, slow_checks_enabled, subscribe_packet, token, topic_root,
)

VERSIONS = [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")]
CLOSE_WITHIN = 5.0
# A connection that never completes CONNECT: ours must close it within
# about 10 s. mosquitto 2.0.11 closes it only after about 90 s (1.5 times
# its default keep-alive of 60 s; measured 90-95 s), so its variant runs
# only with POD_ARCADE_MQTT_SLOW=1.
SILENT_LIMIT = {"ours": 12.0, "mosquitto": 100.0}


def acceptable_before_close(packets: list[RawPacket], version: int | None, connect_phase: bool) -> list[str]:
    """Problems with what the broker sent before closing."""
    problems = []
    for p in packets:
        if p.type == DISCONNECT and version == V5 and p.disconnect_reason >= 0x80:
            continue
        if p.type == CONNACK and connect_phase and p.body[1:2] and p.connack_code != 0:
            continue
        problems.append(f"packet type {p.type} body {p.body[:16].hex()}")
    return problems


def connected_raw(broker: Broker, version: int) -> RawConnection:
    raw = RawConnection(broker)
    login = broker.user()
    connack = raw.connect(login.client_id, version, username=login.username, password=login.password)
    assert connack.connack_code == 0, f"CONNECT refused with 0x{connack.connack_code:02x}"
    return raw


def expect_closed(raw: RawConnection, version: int | None, what: str, connect_phase: bool = False,
                  within: float = CLOSE_WITHIN) -> float:
    closed, packets, waited = raw.wait_closed(within)
    assert closed, f"the broker did not close the connection within {within:.0f} s after {what}"
    problems = acceptable_before_close(packets, version, connect_phase)
    assert not problems, f"after {what} the broker sent {problems}"
    return waited


@pytest.fixture
def watcher(mqtt_broker: Broker):
    """A well-behaved subscriber on desktops/#, connected before the bad
    client; yields (client, a topic it receives)."""
    _, _, root = topic_root()
    with clients() as made:
        client = mqtt_broker.connected(V5)
        made.append(client)
        client.subscribe_ok("desktops/#", qos=1)
        yield client, f"{root}/stats/watch"


@pytest.mark.parametrize("sent", ["nothing", "half a CONNECT"])
def test_connection_without_connect_is_closed(mqtt_broker: Broker, watcher, sent: str) -> None:
    if not mqtt_broker.is_ours and not slow_checks_enabled():
        pytest.skip("mosquitto closes it only after about 90 s: set POD_ARCADE_MQTT_SLOW=1 to check")
    limit = SILENT_LIMIT[mqtt_broker.name]
    client, topic = watcher
    with RawConnection(mqtt_broker) as raw:
        if sent != "nothing":
            whole = connect_packet(f"user:{token()}", V311)
            raw.send(whole[: len(whole) // 2])
        waited = expect_closed(raw, None, f"sending {sent}", connect_phase=True, within=limit)
    assert waited <= limit
    check_still_serving(mqtt_broker, client, topic)


@pytest.mark.parametrize("version", VERSIONS)
def test_second_connect_closes_the_connection(mqtt_broker: Broker, watcher, version: int) -> None:
    """MQTT-3.1.0-2: a second CONNECT is a protocol violation."""
    client, topic = watcher
    with connected_raw(mqtt_broker, version) as raw:
        raw.send(connect_packet(f"user:{token()}", version, username=mqtt_broker.user().username))
        expect_closed(raw, version, "a second CONNECT")
    check_still_serving(mqtt_broker, client, topic)


GARBAGE_BEFORE_CONNECT = {
    "reserved packet type 0": b"\x00\x00",
    "an HTTP request": b"GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "PUBLISH before CONNECT": publish_packet("desktops/x/status", b"online"),
    "a 5-byte remaining length": b"\x10\xff\xff\xff\xff\x7f",
    "CONNECT with the reserved flag set": connect_packet("user:reserved", V311, reserved_flag=True),
    "random bytes": bytes.fromhex("c3a9ff00fe17aa55") * 16,
}


@pytest.mark.parametrize("name", list(GARBAGE_BEFORE_CONNECT))
def test_garbage_before_connect_closes_the_connection(mqtt_broker: Broker, watcher, name: str) -> None:
    client, topic = watcher
    with RawConnection(mqtt_broker) as raw:
        raw.send(GARBAGE_BEFORE_CONNECT[name])
        expect_closed(raw, None, name, connect_phase=True)
    check_still_serving(mqtt_broker, client, topic)


GARBAGE_AFTER_CONNECT = {
    "reserved packet type 0": lambda version: b"\x00\x00",
    "PUBLISH with QoS 3": lambda version: bytes([0x36]) + publish_packet("desktops/x/y", b"x", version, qos=1)[1:],
    "SUBSCRIBE with flags 0": lambda version: subscribe_packet("desktops/#", version, flags=0),
    "a 5-byte remaining length": lambda version: b"\x30\xff\xff\xff\xff\x7f",
    "CONNACK from the client": lambda version: b"\x20\x02\x00\x00",
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", list(GARBAGE_AFTER_CONNECT))
def test_garbage_after_connect_closes_the_connection(mqtt_broker: Broker, watcher, name: str, version: int) -> None:
    client, topic = watcher
    with connected_raw(mqtt_broker, version) as raw:
        raw.send(GARBAGE_AFTER_CONNECT[name](version))
        expect_closed(raw, version, name)
    check_still_serving(mqtt_broker, client, topic)


INVALID_UTF8 = {
    "byte 0xff": b"\xff",
    "overlong '/'": b"\xc0\xaf",
    "a surrogate": b"\xed\xa0\x80",
    "U+0000": b"\x00",
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("bad", list(INVALID_UTF8))
def test_invalid_utf8_topic_closes_the_connection(mqtt_broker: Broker, watcher, bad: str, version: int) -> None:
    """MQTT-1.5.3-1/-2 (3.1.1 and 5): a topic name with ill-formed UTF-8 or
    U+0000 is malformed; the message must reach nobody."""
    client, topic = watcher
    desktop_id, _, _ = topic_root()
    bad_topic = f"desktops/{desktop_id}/".encode() + INVALID_UTF8[bad] + b"/status"
    with connected_raw(mqtt_broker, version) as raw:
        raw.send(publish_packet(bad_topic, b"must not arrive", version, qos=0))
        expect_closed(raw, version, f"a PUBLISH whose topic has {bad}")
    leaked = [m for m in client.drain() if m.payload == b"must not arrive"]
    assert not leaked, f"a PUBLISH with an invalid topic was delivered as {leaked[0].topic!r}"
    check_still_serving(mqtt_broker, client, topic)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("bad", list(INVALID_UTF8))
def test_invalid_utf8_topic_filter_closes_the_connection(mqtt_broker: Broker, watcher, bad: str, version: int) -> None:
    client, topic = watcher
    with connected_raw(mqtt_broker, version) as raw:
        raw.send(subscribe_packet(b"desktops/" + INVALID_UTF8[bad] + b"/#", version))
        expect_closed(raw, version, f"a SUBSCRIBE whose filter has {bad}")
    check_still_serving(mqtt_broker, client, topic)


@pytest.mark.parametrize("version", VERSIONS)
def test_unsupported_protocol_level_is_refused(mqtt_broker: Broker, watcher, version: int) -> None:
    """A CONNECT with protocol level 6: 3.1.1 (MQTT-3.1.2-2) answers CONNACK
    return code 1 and closes; MQTT 5 may answer 0x84 and closes."""
    client, topic = watcher
    with RawConnection(mqtt_broker) as raw:
        raw.send(connect_packet(f"user:{token()}", version, protocol_level=6))
        closed, packets, _ = raw.wait_closed(CLOSE_WITHIN)
        assert closed, "the broker kept a connection with protocol level 6 open"
        codes = [p.connack_code for p in packets if p.type == CONNACK]
        assert all(code in (1, 0x84) for code in codes), f"CONNACK codes for protocol level 6: {codes}"
        assert all(p.type == CONNACK for p in packets), f"unexpected packets {packets}"
    check_still_serving(mqtt_broker, client, topic)


def test_client_hanging_up_mid_packet(mqtt_broker: Broker, watcher) -> None:
    """Clients that vanish halfway through CONNECT or PUBLISH, or reset the
    connection, leave the broker serving."""
    client, topic = watcher
    whole = connect_packet(f"user:{token()}", V5)
    with RawConnection(mqtt_broker) as raw:
        raw.send(whole[:7])
    with connected_raw(mqtt_broker, V311) as raw:
        big = publish_packet(topic, b"x" * 100_000, V311, qos=1)
        raw.send(big[:50_000])
    with connected_raw(mqtt_broker, V5) as raw:
        # RST instead of FIN.
        raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    time.sleep(0.2)
    leaked = [m for m in client.drain() if len(m.payload) == 100_000]
    assert not leaked, "half a PUBLISH was delivered"
    check_still_serving(mqtt_broker, client, topic)
