"""MQTT over WebSocket at /mqtt (MQTT 5.0 §6, 3.1.1 §6) into pod-arcade-server's
embedded broker: paho-mqtt over ws:// and wss:// (provided and generated
certificates), hand-made frames that split and join packets, and upgrades
that are refused."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import mqtt_helpers
from http_interop import (HttpServer, RawWebSocket, WebSocketClient, http_get, insecure_context,
                          make_certificate, start_http_server)
from mqtt_helpers import V5, V311, VERSION_IDS, connect_packet, publish_packet, subscribe_packet, topic_root

VERSIONS = [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")]


@pytest.fixture
def start_http(request: pytest.FixtureRequest, server_binary: Path, tmp_path: Path) -> Iterator[Callable[..., HttpServer]]:
    yield from start_http_server(request, server_binary, tmp_path)


def pub_sub(broker: mqtt_helpers.Broker, version: int, tls: ssl.SSLContext | None = None) -> None:
    _, _, root = topic_root()
    subscriber = WebSocketClient(broker, broker.user(), version, tls=tls)
    publisher = WebSocketClient(broker, broker.user(), version, tls=tls)
    try:
        subscriber.connect_ok()
        subscriber.subscribe_ok(f"{root}/#", qos=1)
        publisher.connect_ok()
        payload = b"offer over websocket " + VERSION_IDS[version].encode() + bytes(range(256)) * 40
        publisher.publish_ok(f"{root}/webrtc-offer", payload, qos=1)
        received = subscriber.expect_one(f"{root}/webrtc-offer")
        assert received.payload == payload
    finally:
        subscriber.stop()
        publisher.stop()


@pytest.mark.parametrize("version", VERSIONS)
def test_paho_publishes_and_subscribes_over_ws(start_http: Callable[..., HttpServer], version: int) -> None:
    server = start_http()
    pub_sub(server.broker(), version)


@pytest.mark.parametrize("version", VERSIONS)
def test_paho_publishes_and_subscribes_over_wss_with_a_provided_certificate(
    start_http: Callable[..., HttpServer], tmp_path: Path, version: int
) -> None:
    cert, key = make_certificate(tmp_path)
    server = start_http(tls=True, http=False, TLS_CERT=str(cert), TLS_KEY=str(key))
    context = ssl.create_default_context(cafile=str(cert))  # verifies the chain and the host name
    pub_sub(server.broker(tls=True), version, tls=context)


@pytest.mark.parametrize("version", VERSIONS)
def test_paho_publishes_and_subscribes_over_wss_with_a_generated_certificate(
    start_http: Callable[..., HttpServer], version: int
) -> None:
    server = start_http(tls=True)
    pub_sub(server.broker(tls=True), version, tls=insecure_context())
    log = server.process.log_path.read_text(errors="replace")
    assert "generated a self-signed certificate" in log and "sha256_fingerprint" in log


def test_ws_and_tcp_clients_share_one_broker(start_http: Callable[..., HttpServer]) -> None:
    port = mqtt_helpers_port()
    server = start_http(MQTT_PORT=str(port))
    tcp = mqtt_helpers.Broker("ours", "127.0.0.1", port, server.process)
    _, _, root = topic_root()
    subscriber = tcp.connected(V5)
    publisher = WebSocketClient(server.broker(), server.broker().user(), V311)
    try:
        subscriber.subscribe_ok(f"{root}/#")
        publisher.connect_ok()
        publisher.publish_ok(f"{root}/status", b"connecting")
        assert subscriber.expect_one(f"{root}/status").payload == b"connecting"
    finally:
        subscriber.stop()
        publisher.stop()


def mqtt_helpers_port() -> int:
    import conftest
    return conftest.pick_free_udp_port(tcp_too=True)


def test_packets_may_span_frames_and_frames_may_hold_several_packets(start_http: Callable[..., HttpServer]) -> None:
    server = start_http()
    _, _, root = topic_root()
    assert server.http_port is not None
    with RawWebSocket(server.http_port) as ws:
        assert ws.response.status == 101
        assert ws.response.headers.get("sec-websocket-protocol") == "mqtt"
        connect = connect_packet(f"user:{mqtt_helpers.token()}", V311, username="user:anonymous")
        # CONNECT split over three frames, one of them a continuation of a fragmented message.
        ws.send_frame(connect[:3], opcode=0x2, fin=False)
        ws.send_frame(connect[3:7], opcode=0x0, fin=True)
        ws.send_frame(connect[7:])
        connack = ws.read_packet()
        assert connack.type == mqtt_helpers.CONNACK and connack.connack_code == 0
        # SUBSCRIBE and a PUBLISH to the same topic in one frame.
        topic = f"{root}/offer-ice-candidate"
        ws.send_frame(subscribe_packet(f"{root}/#", V311, mid=7, flags=0x02) + publish_packet(topic, b'{"candidate":""}'))
        suback = ws.read_packet()
        assert suback.type == mqtt_helpers.SUBACK
        message = ws.read_packet()
        assert message.type == mqtt_helpers.PUBLISH
        assert topic.encode() in message.body and message.body.endswith(b'{"candidate":""}')


def test_an_upgrade_without_the_mqtt_subprotocol_is_refused_and_counted(start_http: Callable[..., HttpServer]) -> None:
    server = start_http()
    assert server.http_port is not None
    before = metric(server, 'pod_arcade_http_refused_total{reason="websocket_without_mqtt"}')
    for protocol in (None, "chat", "mqttv3.1"):
        with RawWebSocket(server.http_port, protocol=protocol) as ws:
            assert ws.response.status == 400, f"subprotocol {protocol!r} got {ws.response.status}"
    assert metric(server, 'pod_arcade_http_refused_total{reason="websocket_without_mqtt"}') == before + 3
    with RawWebSocket(server.http_port, protocol="mqttv3.1, mqtt") as ws:
        assert ws.response.status == 101
        assert ws.response.headers.get("sec-websocket-protocol") == "mqtt"


def test_a_text_frame_closes_the_connection_and_is_counted(start_http: Callable[..., HttpServer]) -> None:
    server = start_http()
    assert server.http_port is not None
    with RawWebSocket(server.http_port) as ws:
        ws.send_frame(b"\x10\x00", opcode=0x1)
        opcode, _ = ws.recv_frame()
        assert opcode == 0x8  # close
    assert metric(server, 'pod_arcade_malformed_input_total{source="websocket"}') >= 1


def metric(server: HttpServer, name: str) -> float:
    assert server.http_port is not None
    text = http_get(server.http_port, "/metrics").body.decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split(" ")[-1])
    return 0.0


def test_sigterm_ends_websocket_clients_and_the_server_promptly(start_http: Callable[..., HttpServer]) -> None:
    server = start_http()
    assert server.http_port is not None
    broker = server.broker()
    paho = WebSocketClient(broker, broker.user(), V5)
    with RawWebSocket(server.http_port) as silent:  # never answers the close frame
        silent.send_frame(connect_packet(f"user:{mqtt_helpers.token()}", V311, username="user:anonymous"))
        assert silent.read_packet().connack_code == 0
        try:
            paho.connect_ok()
            started = time.monotonic()
            server.process.exit_expected = True
            status = server.process.stop(timeout=8)
            assert status == 0
            assert time.monotonic() - started < 5
            assert paho.closed.wait(2)
        finally:
            paho.stop()


def test_a_packet_near_the_size_limit_crosses_in_one_frame_each_way(start_http: Callable[..., HttpServer]) -> None:
    server = start_http()
    assert server.http_port is not None
    _, _, root = topic_root()
    payload = bytes(range(256)) * 4000  # 1,024,000 bytes: one PUBLISH just under the broker's 1 MiB limit
    with RawWebSocket(server.http_port) as subscriber, RawWebSocket(server.http_port) as publisher:
        for ws in (subscriber, publisher):
            ws.send_frame(connect_packet(f"user:{mqtt_helpers.token()}", V311, username="user:anonymous"))
            assert ws.read_packet().connack_code == 0
        subscriber.send_frame(subscribe_packet(f"{root}/#", V311))
        assert subscriber.read_packet().type == mqtt_helpers.SUBACK
        publisher.send_frame(publish_packet(f"{root}/webrtc-offer", payload))
        message = subscriber.read_packet()
        assert message.type == mqtt_helpers.PUBLISH and message.body.endswith(payload)
