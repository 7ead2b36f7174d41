"""OpenID Connect users (OIDC_SERVER, OIDC_CLIENT_ID) against a small issuer
written here: discovery and JWKS served on loopback, id tokens signed with
its own RSA key (PyJWT, cryptography). Users connect over /mqtt with
username ``user:<sub>`` and the token as password; desktops still use
DESKTOP_PSK."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import mqtt_helpers
from http_interop import HttpServer, RawWebSocket, WebSocketClient, http_get, run_until_exit, start_http_server
from mqtt_helpers import OURS_WRONG_PSK, V5, V311, connect_packet

try:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa
except ImportError as error:  # pragma: no cover - depends on the machine
    pytest.fail(f"PyJWT and cryptography are needed ({error}): `make deps` installs them", pytrace=False)

CLIENT_ID = "pod-arcade-web"
DESKTOP_PSK = "oidc-desktop-psk"
VERSIONS = [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")]


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Issuer:
    """Discovery document and JWKS on 127.0.0.1; signs tokens with key ``kid``."""

    def __init__(self) -> None:
        self.kid = "test-key-1"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.requests: list[str] = []
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                issuer.requests.append(self.path)
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks",
                            "id_token_signing_alg_values_supported": ["RS256"]}
                elif self.path == "/jwks":
                    numbers = issuer.key.public_key().public_numbers()
                    body = {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": issuer.kid,
                                      "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def token(self, subject: str = "alice", audience: str | list[str] = CLIENT_ID, expires_in: int = 300,
              key=None, issuer: str | None = None) -> str:
        now = int(time.time())
        claims = {"iss": issuer or self.url, "sub": subject, "aud": audience, "iat": now, "exp": now + expires_in}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": self.kid})


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    running = Issuer()
    yield running
    running.stop()


@pytest.fixture
def start_http(request: pytest.FixtureRequest, server_binary: Path, tmp_path: Path) -> Iterator[Callable[..., HttpServer]]:
    yield from start_http_server(request, server_binary, tmp_path)


@pytest.fixture
def oidc_server(start_http: Callable[..., HttpServer], issuer: Issuer) -> HttpServer:
    return start_http(AUTH_REQUIRED="true", DESKTOP_PSK=DESKTOP_PSK, OIDC_SERVER=issuer.url, OIDC_CLIENT_ID=CLIENT_ID)


def connack_code(server: HttpServer, version: int, username: str, password: str) -> int:
    """The CONNACK return code (3.1.1) or reason code (5.0), byte for byte."""
    assert server.http_port is not None
    with RawWebSocket(server.http_port) as ws:
        assert ws.response.status == 101
        ws.send_frame(connect_packet(f"user:{mqtt_helpers.token()}", version, username=username, password=password))
        packet = ws.read_packet()
        return packet.connack_code


def test_config_json_advertises_the_issuer(oidc_server: HttpServer, issuer: Issuer) -> None:
    assert oidc_server.http_port is not None
    document = json.loads(http_get(oidc_server.http_port, "/config.json").body)
    assert document == {"auth_method": "oidc", "oidc_server": issuer.url, "oidc_client_id": CLIENT_ID}
    assert "/.well-known/openid-configuration" in issuer.requests and "/jwks" in issuer.requests


@pytest.mark.parametrize("version", VERSIONS)
def test_a_valid_token_connects_and_can_publish(oidc_server: HttpServer, issuer: Issuer, version: int) -> None:
    broker = oidc_server.broker()
    login = mqtt_helpers.Login(f"user:{mqtt_helpers.token()}", "user:alice", issuer.token("alice"))
    client = WebSocketClient(broker, login, version)
    try:
        client.connect_ok()
        _, _, root = mqtt_helpers.topic_root()
        client.subscribe_ok(f"{root}/#")
        client.publish_ok(f"{root}/status", b"new")
        assert client.expect_one(f"{root}/status").payload == b"new"
    finally:
        client.stop()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", ["expired", "wrong_signature", "wrong_audience", "wrong_issuer", "wrong_subject", "garbage"])
def test_bad_tokens_are_refused_with_the_credentials_code(oidc_server: HttpServer, issuer: Issuer, version: int, case: str) -> None:
    username = "user:alice"
    if case == "expired":
        password = issuer.token(expires_in=-600)
    elif case == "wrong_signature":
        password = issuer.token(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    elif case == "wrong_audience":
        password = issuer.token(audience="another-client")
    elif case == "wrong_issuer":
        password = issuer.token(issuer="http://127.0.0.1:1")
    elif case == "wrong_subject":
        password = issuer.token(subject="bob")
    else:
        password = "not-a-token"
    assert connack_code(oidc_server, version, username, password) == OURS_WRONG_PSK[version]


def test_desktops_still_use_the_desktop_key(oidc_server: HttpServer, issuer: Issuer) -> None:
    broker = oidc_server.broker()
    desktop = WebSocketClient(broker, broker.desktop("oidc-desk", password=DESKTOP_PSK), V5)
    try:
        desktop.connect_ok()
    finally:
        desktop.stop()
    assert oidc_server.http_port is not None
    with RawWebSocket(oidc_server.http_port) as ws:
        ws.send_frame(connect_packet("desktop:oidc-desk", V5, username="oidc-desk", password=issuer.token()))
        assert ws.read_packet().connack_code == mqtt_helpers.RC_BAD_USER_NAME_OR_PASSWORD


def test_cached_keys_keep_serving_when_the_issuer_goes_away(oidc_server: HttpServer, issuer: Issuer) -> None:
    token = issuer.token("carol")
    issuer.stop()
    assert connack_code(oidc_server, V5, "user:carol", token) == 0


def test_an_unreachable_issuer_stops_start_up_naming_the_variable(server_binary: Path, issuer: Issuer) -> None:
    url = issuer.url
    issuer.stop()
    result = run_until_exit(server_binary, AUTH_REQUIRED="true", DESKTOP_PSK="d", OIDC_SERVER=url, OIDC_CLIENT_ID=CLIENT_ID)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and "OIDC_SERVER" in lines[-1], result.stderr
