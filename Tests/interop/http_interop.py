"""Helpers for the HTTP, WebSocket and OIDC interop tests
(test_http_*.py, test_mqtt_websocket*.py, test_oidc_*.py).

- ``start_http_server``: a fixture body that starts pod-arcade-server with
  its HTTP (and optionally HTTPS) listener on free ports and waits until
  ``/healthz`` answers.
- ``http_get``: one raw HTTP/1.1 request whose target is sent exactly as
  given (no client-side normalisation of ``/../``), over TLS or not.
- ``RawWebSocket``: a minimal RFC 6455 client for hand-made frames (MQTT
  packets split across frames, several packets in one frame).
- ``WebSocketClient``: mqtt_helpers.Client over paho's ``websockets``
  transport at ``/mqtt``.
- ``make_certificate``: a self-signed certificate for 127.0.0.1 made with
  the openssl command, for the "provided certificate" cases.

Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import os
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import conftest
import mqtt_helpers
from mqtt_helpers import V5, CallbackAPIVersion, mqtt

HOST = "127.0.0.1"


@dataclasses.dataclass
class HttpServer:
    process: conftest.RunningProcess
    http_port: int | None
    tls_port: int | None

    def broker(self, tls: bool = False) -> mqtt_helpers.Broker:
        """An mqtt_helpers.Broker whose port is the HTTP (or HTTPS) port."""
        port = self.tls_port if tls else self.http_port
        assert port is not None
        return mqtt_helpers.Broker("ours", HOST, port, self.process)


def _free_tcp_port() -> int:
    return conftest.pick_free_udp_port(tcp_too=True)


def start_http_server(
    request: pytest.FixtureRequest, server_binary: Path, tmp_path: Path
) -> Iterator[Callable[..., HttpServer]]:
    """Fixture body: yields ``start(tls=False, http=True, wait=True, **env)``."""
    started: list[conftest.RunningProcess] = []

    def start(tls: bool = False, http: bool = True, wait: bool = True, **extra_env: str) -> HttpServer:
        http_port = _free_tcp_port() if http else None
        tls_port = _free_tcp_port() if tls else None
        env = {k: v for k, v in os.environ.items() if k not in conftest._SERVER_SETTINGS}
        env.update(
            HTTP_PORT=str(http_port if http_port is not None else -1), MQTT_PORT="-1", STUN_PORT="-1",
            LOG_LEVEL="debug", SERVE_TLS="true" if tls else "false",
        )
        if tls_port is not None:
            env["TLS_PORT"] = str(tls_port)
        env.update(extra_env)
        log_path = tmp_path / f"pod-arcade-server-http-{len(started)}.log"
        process = conftest._start(
            "pod-arcade-server", [str(server_binary)], env, log_path, http_port or tls_port or 0)
        started.append(process)
        conftest._register(request, process)
        server = HttpServer(process, http_port, tls_port)
        if wait:
            wait_until_http_answering(server)
        return server

    yield start
    conftest._stop_all(started)


def wait_until_http_answering(server: HttpServer) -> None:
    deadline = time.monotonic() + conftest.READY_TIMEOUT
    targets = [(p, False) for p in [server.http_port] if p] + [(p, True) for p in [server.tls_port] if p]
    for port, tls in targets:
        while True:
            if not server.process.alive():
                server.process.exit_expected = True
                pytest.fail(
                    f"pod-arcade-server exited with status {server.process.proc.returncode} before answering "
                    f"HTTP on port {port} (its output is at the end of this report)")
            with contextlib.suppress(OSError):
                if http_get(port, "/healthz", tls=tls, timeout=0.5).status == 200:
                    break
            if time.monotonic() > deadline:
                server.process.exit_expected = True
                server.process.stop()
                pytest.fail(f"pod-arcade-server did not answer GET /healthz on port {port} within "
                            f"{conftest.READY_TIMEOUT:.0f} s (its output is at the end of this report)")
            time.sleep(0.1)


def insecure_context() -> ssl.SSLContext:
    """Accepts the server's generated, self-signed certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@dataclasses.dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def http_get(port: int, target: str, tls: bool = False, timeout: float = 5.0,
             context: ssl.SSLContext | None = None, extra_headers: str = "", method: str = "GET") -> Response:
    """Sends ``target`` byte for byte (``Connection: close``) and reads the
    whole answer."""
    raw = socket.create_connection((HOST, port), timeout=timeout)
    sock: socket.socket = raw
    if tls:
        sock = (context or insecure_context()).wrap_socket(raw, server_hostname="localhost")
    with sock:
        sock.sendall(
            f"{method} {target} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n{extra_headers}\r\n".encode())
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                break
            if not chunk:
                break
            data += chunk
    return parse_response(data)


def parse_response(data: bytes) -> Response:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines or not lines[0].startswith("HTTP/1."):
        return Response(0, {}, data)
    status = int(lines[0].split(" ")[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunk(body)
    return Response(status, headers, body)


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out


class RawWebSocket:
    """RFC 6455 client side: masked frames out, unmasked frames in."""

    def __init__(self, port: int, protocol: str | None = "mqtt", path: str = "/mqtt", tls: bool = False,
                 timeout: float = mqtt_helpers.WAIT) -> None:
        raw = socket.create_connection((HOST, port), timeout=timeout)
        self.sock: socket.socket = insecure_context().wrap_socket(raw, server_hostname="localhost") if tls else raw
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: localhost:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if protocol is not None:
            lines.append(f"Sec-WebSocket-Protocol: {protocol}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        self.mqtt = b""
        self.response = parse_response(head + b"\r\n\r\n")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> RawWebSocket:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def send_frame(self, payload: bytes, opcode: int = 0x2, fin: bool = True) -> None:
        mask = os.urandom(4)
        header = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _need(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def recv_frame(self) -> tuple[int, bytes]:
        first, second = self._need(2)
        n = second & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._need(8))[0]
        return first & 0x0F, self._need(n)

    def _fill_mqtt(self) -> None:
        """Appends the payload of the next binary (or continuation) frame to the MQTT bytes."""
        while True:
            opcode, payload = self.recv_frame()
            if opcode == 0x8:
                raise EOFError(f"close frame {payload!r}")
            if opcode in (0x0, 0x2):
                self.mqtt += payload
                return

    def read_packet(self) -> mqtt_helpers.RawPacket:
        """One MQTT packet; packets may span frames and a frame may hold several."""
        while True:
            multiplier, length, index = 1, 0, 1
            complete = False
            while index < len(self.mqtt) and index <= 4:
                byte = self.mqtt[index]
                length += (byte & 0x7F) * multiplier
                multiplier *= 128
                index += 1
                if not byte & 0x80:
                    complete = True
                    break
            if complete and len(self.mqtt) >= index + length:
                first = self.mqtt[0]
                body = self.mqtt[index:index + length]
                self.mqtt = self.mqtt[index + length:]
                return mqtt_helpers.RawPacket(first >> 4, first & 0x0F, body)
            self._fill_mqtt()


class WebSocketClient(mqtt_helpers.Client):
    """mqtt_helpers.Client over paho's WebSocket transport, path /mqtt."""

    def __init__(self, broker: mqtt_helpers.Broker, login: mqtt_helpers.Login, version: int,
                 tls: ssl.SSLContext | None = None) -> None:
        super().__init__(broker, login, version)
        plain = self.paho
        self.paho = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=login.client_id, clean_session=None if version == V5 else True,
            protocol=version, transport="websockets", reconnect_on_failure=False,
        )
        self.paho.ws_set_options(path="/mqtt")
        if tls is not None:
            self.paho.tls_set_context(tls)
        if login.username is not None or login.password is not None:
            self.paho.username_pw_set(login.username or "", login.password)
        for name in ("on_connect", "on_disconnect", "on_message", "on_publish", "on_subscribe"):
            setattr(self.paho, name, getattr(plain, name))


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for 127.0.0.1 and localhost."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )
    return cert, key


def run_until_exit(server_binary: Path, timeout: float = 30.0, **env_settings: str) -> subprocess.CompletedProcess[str]:
    """Runs the server with these settings (everything else off) and waits for it to exit."""
    env = {k: v for k, v in os.environ.items() if k not in conftest._SERVER_SETTINGS}
    env.update(HTTP_PORT=str(_free_tcp_port()), MQTT_PORT="-1", STUN_PORT="-1")
    env.update(env_settings)
    return subprocess.run([str(server_binary)], env=env, capture_output=True, text=True, timeout=timeout)
