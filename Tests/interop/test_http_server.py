"""pod-arcade-server's HTTP and HTTPS side: the web client, /config.json,
/metrics, /healthz, refused paths and headers, and start-up errors that
name their variable."""

from __future__ import annotations

import hashlib
import json
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import conftest
import stunwire

from http_interop import (HttpServer, WebSocketClient, http_get, make_certificate, run_until_exit,
                          start_http_server)
from mqtt_helpers import V5


@pytest.fixture
def start_http(request: pytest.FixtureRequest, server_binary: Path, tmp_path: Path) -> Iterator[Callable[..., HttpServer]]:
    yield from start_http_server(request, server_binary, tmp_path)


def metrics(server: HttpServer) -> dict[str, float]:
    assert server.http_port is not None
    response = http_get(server.http_port, "/metrics")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    values: dict[str, float] = {}
    for line in response.body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_the_web_client_is_served_with_a_single_page_app_fallback(start_http: Callable[..., HttpServer]) -> None:
    server = start_http()
    assert server.http_port is not None
    index = http_get(server.http_port, "/")
    assert index.status == 200
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert b"<html" in index.body.lower()
    for path in ("/index.html", "/desktops/pa-desktop", "/session/abc?x=1", "/oidc-callback?code=c1&state=s1"):
        response = http_get(server.http_port, path)
        assert response.status == 200 and response.body == index.body, path
    assert http_get(server.http_port, "/no-such-file.js").status == 404
    head = http_get(server.http_port, "/", method="HEAD")
    assert head.status == 200 and head.body == b"" and head.headers["content-length"] == str(len(index.body))
    assert http_get(server.http_port, "/", method="POST").status == 405


def test_config_json_reports_the_auth_method_and_no_secret(start_http: Callable[..., HttpServer]) -> None:
    for env, method in [
        ({}, "none"),
        ({"AUTH_REQUIRED": "true", "DESKTOP_PSK": "desk-secret-1", "CLIENT_PSK": "client-secret-2"}, "psk"),
    ]:
        server = start_http(**env)
        assert server.http_port is not None
        response = http_get(server.http_port, "/config.json")
        assert response.status == 200
        assert response.headers["content-type"] == "application/json"
        document = json.loads(response.body)
        assert document == {"auth_method": method, "oidc_server": None, "oidc_client_id": None}
        assert b"secret" not in response.body
        server.process.exit_expected = True
        server.process.stop()


@pytest.mark.parametrize("target", [
    "/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/%2E%2E%2Fetc%2Fpasswd", "/css/../../../etc/passwd",
    "/..%5c..%5cetc%5cpasswd", "/a%00.html", "//etc/passwd", "/%zz",
])
def test_path_traversal_is_refused_and_counted(start_http: Callable[..., HttpServer], target: str) -> None:
    server = start_http()
    assert server.http_port is not None
    before = sum(v for k, v in metrics(server).items() if k.startswith("pod_arcade_http_refused_total"))
    response = http_get(server.http_port, target)
    assert response.status in (400, 404), f"{target}: {response.status}"
    assert b"root:" not in response.body
    after = sum(v for k, v in metrics(server).items() if k.startswith("pod_arcade_http_refused_total"))
    if response.status == 400:
        assert after == before + 1


def test_an_absolute_form_target_never_reaches_the_file_system(start_http: Callable[..., HttpServer]) -> None:
    server = start_http()
    assert server.http_port is not None
    # RFC 9112 §3.2.2: absolute-form is legal; only its path counts, and that stays in the web root.
    response = http_get(server.http_port, "http://127.0.0.1/etc/passwd")
    assert response.status in (200, 400, 404)
    assert b"root:" not in response.body


@pytest.mark.parametrize("headers", [
    "X-Big: " + "a" * 40_000 + "\r\n",
    "".join(f"X-Many-{i}: v\r\n" for i in range(300)),
])
def test_oversize_headers_are_refused(start_http: Callable[..., HttpServer], headers: str) -> None:
    server = start_http()
    assert server.http_port is not None
    response = http_get(server.http_port, "/", extra_headers=headers)
    assert response.status == 431
    assert http_get(server.http_port, "/healthz").status == 200
    assert metrics(server)['pod_arcade_http_refused_total{reason="header_too_large"}'] == 1


def test_https_serves_the_client_and_config_json(start_http: Callable[..., HttpServer], tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    server = start_http(tls=True, TLS_CERT=str(cert), TLS_KEY=str(key))
    assert server.tls_port is not None
    context = ssl.create_default_context(cafile=str(cert))
    index = http_get(server.tls_port, "/", tls=True, context=context)
    assert index.status == 200 and b"<html" in index.body.lower()
    config = http_get(server.tls_port, "/config.json", tls=True, context=context)
    assert json.loads(config.body)["auth_method"] == "none"


def test_https_with_a_generated_certificate(start_http: Callable[..., HttpServer]) -> None:
    server = start_http(tls=True, http=False)
    assert server.tls_port is not None
    assert http_get(server.tls_port, "/config.json", tls=True).status == 200
    # The generated certificate is not trusted by default.
    with pytest.raises(ssl.SSLCertVerificationError):
        http_get(server.tls_port, "/", tls=True, context=ssl.create_default_context())
    # Trusting the certificate itself works (what a desktop given the PEM does), and its
    # SHA-256 fingerprint is the one in the log.
    pem = ssl.get_server_certificate(("127.0.0.1", server.tls_port))
    trusted = ssl.create_default_context(cadata=pem)
    assert http_get(server.tls_port, "/healthz", tls=True, context=trusted).status == 200
    fingerprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest().upper()
    expected = ":".join(fingerprint[i:i + 2] for i in range(0, len(fingerprint), 2))
    assert f"sha256_fingerprint={expected}" in server.process.log_path.read_text(errors="replace")


def test_metrics_counters_move(start_http: Callable[..., HttpServer]) -> None:
    stun_port = conftest.pick_free_udp_port()
    server = start_http(STUN_PORT=str(stun_port))
    first = metrics(server)
    stun_success = 'pod_arcade_stun_responses_total{kind="success"}'
    assert first[stun_success] == 0 and first["pod_arcade_mqtt_connections_total"] == 0
    assert stunwire.probe("127.0.0.1", stun_port, timeout=2.0) is not None
    assert metrics(server)[stun_success] == 1
    for name in ('pod_arcade_mqtt_clients{kind="desktop"}', 'pod_arcade_mqtt_clients{kind="user"}',
                 "pod_arcade_desktops_online", "pod_arcade_mqtt_sessions", "pod_arcade_http_requests_total",
                 'pod_arcade_mqtt_messages_total{direction="received"}', "pod_arcade_mqtt_auth_failures_total"):
        assert name in first, f"{name} missing from /metrics"
    broker = server.broker()
    user = WebSocketClient(broker, broker.user(), V5)
    desktop = WebSocketClient(broker, broker.desktop("metrics-desk"), V5)
    try:
        user.connect_ok()
        desktop.connect_ok()
        desktop.publish_ok("desktops/metrics-desk/status", b"online", qos=1, retain=True)
        user.publish_ok("desktops/metrics-desk/sessions/s1/status", b"connecting", qos=1, retain=True)
        second = metrics(server)
        assert second['pod_arcade_sessions{status="connecting"}'] == 1
        assert second['pod_arcade_mqtt_clients{kind="user"}'] == 1
        assert second['pod_arcade_mqtt_clients{kind="desktop"}'] == 1
        assert second["pod_arcade_desktops_online"] == 1
        assert second['pod_arcade_mqtt_messages_total{direction="received"}'] > first['pod_arcade_mqtt_messages_total{direction="received"}']
        assert second["pod_arcade_http_requests_total"] > first["pod_arcade_http_requests_total"]
        assert second['pod_arcade_mqtt_connections_total'] >= 2
    finally:
        user.stop()
        desktop.stop()
    # The broker clears a session's retained status when its browser goes away.
    deadline = time.monotonic() + 5
    while metrics(server)['pod_arcade_sessions{status="connecting"}'] != 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert metrics(server)['pod_arcade_sessions{status="connecting"}'] == 0


def last_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, f"no output; stdout: {result.stdout!r}"
    return lines[-1]


def test_bad_ice_servers_stop_start_up_naming_the_variable(server_binary: Path) -> None:
    result = run_until_exit(server_binary, ICE_SERVERS='[{"urls":"turn:x"}]')
    assert result.returncode != 0
    assert "ICE_SERVERS" in last_line(result)


def test_an_unreadable_certificate_stops_start_up_naming_the_variable(server_binary: Path, tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    missing = run_until_exit(server_binary, SERVE_TLS="true", TLS_CERT=str(tmp_path / "absent.pem"), TLS_KEY=str(key))
    assert missing.returncode != 0 and "TLS_CERT" in last_line(missing)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    bad = run_until_exit(server_binary, SERVE_TLS="true", TLS_CERT=str(garbage), TLS_KEY=str(key))
    assert bad.returncode != 0 and "TLS_CERT" in last_line(bad)
    bad_key = run_until_exit(server_binary, SERVE_TLS="true", TLS_CERT=str(cert), TLS_KEY=str(garbage))
    assert bad_key.returncode != 0 and "TLS_KEY" in last_line(bad_key)
