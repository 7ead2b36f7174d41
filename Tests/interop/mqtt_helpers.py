"""Helpers for the MQTT interop tests (Tests/interop/test_mqtt_*.py).

- ``Broker``: where a broker under test listens and who may log in to it.
- ``Client``: a paho-mqtt 2.x client (callback API version 2) whose network
  loop runs on a thread of its own and never reconnects by itself; CONNACK,
  SUBACK, PUBACK/PUBCOMP, messages and the disconnection are recorded so a
  test can wait for them.
- Raw MQTT: packet builders and ``RawConnection`` for the tests that send
  what no well-behaved client library sends (garbage, invalid UTF-8, a
  second CONNECT) and for reading CONNACK return codes byte for byte.
- ``will_client``: runs this file as a separate Python process that connects
  with a will and waits to be killed (``python3 mqtt_helpers.py will-client``).

Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import queue
import secrets
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
except ImportError as error:  # pragma: no cover - depends on the machine
    raise ImportError(
        f"the Python package paho-mqtt (2.x) is not installed ({error}): `make deps` installs it"
    ) from error

V311 = mqtt.MQTTv311  # protocol level 4
V5 = mqtt.MQTTv5  # protocol level 5
VERSION_IDS = {V311: "v311", V5: "v5"}
HOST = "127.0.0.1"

# How long a test waits for something that should happen, and how long it
# watches for something that should not.
WAIT = 10.0
QUIET = 0.7

# MQTT 5 reason codes and MQTT 3.1.1 CONNACK return codes used by the tests.
RC_SUCCESS = 0x00
RC_UNSPECIFIED_ERROR = 0x80
RC_MALFORMED_PACKET = 0x81
RC_PROTOCOL_ERROR = 0x82
RC_UNSUPPORTED_PROTOCOL_VERSION = 0x84
RC_CLIENT_ID_NOT_VALID = 0x85
RC_BAD_USER_NAME_OR_PASSWORD = 0x86
RC_NOT_AUTHORIZED = 0x87
RC_DISCONNECT_WITH_WILL = 0x04
V311_UNACCEPTABLE_PROTOCOL_VERSION = 1
V311_IDENTIFIER_REJECTED = 2
V311_BAD_USER_NAME_OR_PASSWORD = 4
V311_NOT_AUTHORIZED = 5

# What ours answers to a wrong or missing PSK, and to a client id without
# the ``desktop:``/``user:`` prefix (Pod Arcade's contract).
# MQTT 3.1.1 gets return code 5 (not authorized), as from the original Pod Arcade server: the
# original web client speaks 3.1.1 and shows its password prompt only for code 5.
OURS_WRONG_PSK = {V311: V311_NOT_AUTHORIZED, V5: RC_BAD_USER_NAME_OR_PASSWORD}
OURS_BAD_CLIENT_ID = {V311: V311_IDENTIFIER_REJECTED, V5: RC_CLIENT_ID_NOT_VALID}

# Packet types (upper nibble of the first byte).
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = 8, 9, 10, 11, 12, 13, 14, 15


def slow_checks_enabled() -> bool:
    """POD_ARCADE_MQTT_SLOW=1: also run checks that take minutes."""
    return os.environ.get("POD_ARCADE_MQTT_SLOW", "").strip().lower() in ("1", "true", "yes", "on")


def token(n: int = 4) -> str:
    """Lower-case hex, usable in desktop ids, session ids and client ids."""
    return secrets.token_hex(n)


@dataclasses.dataclass
class Login:
    """What a client presents in CONNECT."""

    client_id: str
    username: str | None = None
    password: str | None = None


@dataclasses.dataclass
class Broker:
    """A running broker under test.

    ``name`` is "mosquitto" or "ours". Client ids and topics follow the Pod
    Arcade rules (``user:`` / ``desktop:`` ids, topics below ``desktops/``)
    so that the same test runs against both brokers.
    """

    name: str
    host: str
    port: int
    process: Any  # conftest.RunningProcess
    desktop_psk: str | None = None
    client_psk: str | None = None
    has_sys_topics: bool = False
    user_name: str | None = None  # the browser's user name, when not the original web client's
    desktop_ids: list[str] = dataclasses.field(default_factory=list)  # the only ids that may log in, if any

    @property
    def is_ours(self) -> bool:
        return self.name == "ours"

    def user(self, password: str | None = None, client_id: str | None = None) -> Login:
        """A browser-like login: client id ``user:<random>``, user name
        ``user:psk`` (what the original web client sends; ``user:anonymous``
        when no PSK is required), password CLIENT_PSK when one is set."""
        if password is None:
            password = self.client_psk
        username = self.user_name or ("user:psk" if password is not None else "user:anonymous")
        return Login(f"user:{token()}" if client_id is None else client_id, username, password)

    def desktop(self, desktop_id: str, password: str | None = None) -> Login:
        """A desktop login: client id ``desktop:<id>``, user name the
        desktop id, password DESKTOP_PSK."""
        if password is None:
            password = self.desktop_psk
        return Login(f"desktop:{desktop_id}", desktop_id, password)

    def client(self, version: int, login: Login | None = None, **kwargs: Any) -> Client:
        """A new, not yet connected ``Client`` (a user unless ``login``)."""
        return Client(self, login or self.user(), version, **kwargs)

    def connected(self, version: int, login: Login | None = None, **kwargs: Any) -> Client:
        """A ``Client`` whose CONNECT was accepted (the test fails otherwise)."""
        connect_args = {k: kwargs.pop(k) for k in ("clean_start", "session_expiry", "will", "keepalive") if k in kwargs}
        client = self.client(version, login, **kwargs)
        client.connect_ok(**connect_args)
        return client


def topic_root() -> tuple[str, str, str]:
    """(desktop id, session id, ``desktops/<d>/sessions/<s>``) unique to a test."""
    desktop_id = f"t-{token()}"
    session_id = f"s{token()}"
    return desktop_id, session_id, f"desktops/{desktop_id}/sessions/{session_id}"


@dataclasses.dataclass
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: Any
    at: float


@dataclasses.dataclass
class Connack:
    reason_code: int  # MQTT 5 reason code; for 3.1.1 paho maps the return code to one
    session_present: bool
    properties: Any


@dataclasses.dataclass
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False
    delay: int | None = None  # MQTT 5 Will Delay Interval, seconds


class Client:
    """A paho-mqtt client driven by ``loop_start`` with
    ``reconnect_on_failure=False``: when the broker closes the connection,
    the client stays closed and ``closed`` is set."""

    def __init__(self, broker: Broker, login: Login, version: int, clean: bool = True) -> None:
        self.broker = broker
        self.login = login
        self.version = version
        self.clean = clean
        self.name = f"{login.client_id} ({VERSION_IDS[version]})"
        self.paho = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=login.client_id,
            clean_session=None if version == V5 else clean,
            protocol=version,
            reconnect_on_failure=False,
        )
        if login.username is not None or login.password is not None:
            self.paho.username_pw_set(login.username or "", login.password)
        self.messages: queue.Queue[Received] = queue.Queue()
        self.connack: Connack | None = None
        self.connack_event = threading.Event()
        self.closed = threading.Event()
        self.disconnect_reason: int | None = None
        self._lock = threading.Condition()
        self._published: dict[int, int] = {}  # mid -> reason code
        self._subacks: dict[int, list[int]] = {}  # mid -> granted QoS / reason codes
        self.paho.on_connect = self._on_connect
        self.paho.on_disconnect = self._on_disconnect
        self.paho.on_message = self._on_message
        self.paho.on_publish = self._on_publish
        self.paho.on_subscribe = self._on_subscribe
        self._loop_started = False

    # paho callbacks (network thread)
    def _on_connect(self, _c: Any, _u: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        self.connack = Connack(int(reason_code.value), bool(flags.session_present), properties)
        self.connack_event.set()

    def _on_disconnect(self, _c: Any, _u: Any, _flags: Any, reason_code: Any, _properties: Any) -> None:
        self.disconnect_reason = int(reason_code.value) if hasattr(reason_code, "value") else int(reason_code)
        self.closed.set()
        with self._lock:
            self._lock.notify_all()

    def _on_message(self, _c: Any, _u: Any, message: Any) -> None:
        self.messages.put(
            Received(message.topic, bytes(message.payload), message.qos, bool(message.retain),
                     getattr(message, "properties", None), time.monotonic())
        )

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason_code: Any, _properties: Any) -> None:
        with self._lock:
            self._published[mid] = int(reason_code.value) if hasattr(reason_code, "value") else int(reason_code)
            self._lock.notify_all()

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, reason_codes: list[Any], _properties: Any) -> None:
        with self._lock:
            self._subacks[mid] = [int(rc.value) for rc in reason_codes]
            self._lock.notify_all()

    # connection
    def connect(
        self,
        clean_start: bool = True,
        session_expiry: int | None = None,
        will: Will | None = None,
        keepalive: int = 30,
        timeout: float = WAIT,
    ) -> Connack | None:
        """Sends CONNECT and waits for CONNACK; None when the broker closed
        the connection without one."""
        if will is not None:
            will_properties = None
            if will.delay is not None:
                will_properties = Properties(PacketTypes.WILLMESSAGE)
                will_properties.WillDelayInterval = will.delay
            self.paho.will_set(will.topic, will.payload, will.qos, will.retain, will_properties)
        kwargs: dict[str, Any] = {}
        if self.version == V5:
            kwargs["clean_start"] = clean_start
            if session_expiry is not None:
                properties = Properties(PacketTypes.CONNECT)
                properties.SessionExpiryInterval = session_expiry
                kwargs["properties"] = properties
        self.paho.connect(self.broker.host, self.broker.port, keepalive=keepalive, **kwargs)
        self.paho.loop_start()
        self._loop_started = True
        deadline = time.monotonic() + timeout
        while not self.connack_event.is_set() and not self.closed.is_set() and time.monotonic() < deadline:
            self.connack_event.wait(0.05)
        if not self.connack_event.is_set() and not self.closed.is_set():
            raise AssertionError(f"{self.name}: no CONNACK within {timeout:.0f} s")
        return self.connack

    def connect_ok(self, **kwargs: Any) -> Connack:
        connack = self.connect(**kwargs)
        if connack is None:
            raise AssertionError(f"{self.name}: the broker closed the connection instead of answering CONNECT")
        if connack.reason_code != RC_SUCCESS:
            raise AssertionError(f"{self.name}: CONNECT refused with reason code 0x{connack.reason_code:02x}")
        return connack

    def disconnect(self, reason_code: int | None = None) -> None:
        """A clean DISCONNECT (MQTT 5: with ``reason_code``), then waits
        until the socket is closed."""
        if self.closed.is_set():
            self.stop()
            return
        kwargs: dict[str, Any] = {}
        if reason_code is not None:
            kwargs["reasoncode"] = mqtt.ReasonCode(PacketTypes.DISCONNECT, identifier=reason_code)
        self.paho.disconnect(**kwargs)
        self.closed.wait(WAIT)
        self.stop()

    def stop(self) -> None:
        """Ends the client: a clean DISCONNECT if still connected (which
        also wakes paho's network thread at once), then the thread."""
        if self._loop_started and not self.closed.is_set():
            with contextlib.suppress(Exception):
                self.paho.disconnect()
                self.closed.wait(1.0)
        if self._loop_started:
            self._loop_started = False
            self.paho.loop_stop()
        sock = self.paho.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    # operations
    def subscribe(self, *filters: str | tuple[str, int], qos: int = 0, timeout: float = WAIT) -> list[int]:
        """Subscribes and waits for SUBACK; returns the granted QoS / reason
        code of each filter."""
        wanted = [(f, qos) if isinstance(f, str) else f for f in filters]
        result, mid = self.paho.subscribe(wanted)
        if result != mqtt.MQTT_ERR_SUCCESS:
            raise AssertionError(f"{self.name}: SUBSCRIBE not sent ({mqtt.error_string(result)})")
        with self._lock:
            if not self._lock.wait_for(lambda: mid in self._subacks or self.closed.is_set(), timeout):
                raise AssertionError(f"{self.name}: no SUBACK within {timeout:.0f} s for {wanted}")
            if mid not in self._subacks:
                raise AssertionError(f"{self.name}: connection closed before SUBACK for {wanted}")
            return self._subacks.pop(mid)

    def subscribe_ok(self, *filters: str | tuple[str, int], qos: int = 0) -> None:
        wanted = [(f, qos) if isinstance(f, str) else f for f in filters]
        granted = self.subscribe(*wanted)
        for (topic_filter, asked), got in zip(wanted, granted):
            assert got <= 2, f"{self.name}: subscription to {topic_filter!r} refused (0x{got:02x})"
            assert got == asked, f"{self.name}: asked QoS {asked} for {topic_filter!r}, granted {got}"

    def publish(
        self, topic: str, payload: bytes | str = b"", qos: int = 0, retain: bool = False,
        properties: Any = None, wait: bool = True, timeout: float = WAIT,
    ) -> int | None:
        """Publishes; with ``wait``, waits until paho reports the message
        done (QoS 0: written; 1: PUBACK; 2: PUBCOMP) and returns the reason
        code of the acknowledgement (always 0 for MQTT 3.1.1; below 0x80 is
        success, e.g. 0x10 No matching subscribers), or None when the
        connection closed first."""
        info = self.paho.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            if info.rc == mqtt.MQTT_ERR_NO_CONN:
                return None
            raise AssertionError(f"{self.name}: PUBLISH to {topic!r} not sent ({mqtt.error_string(info.rc)})")
        if not wait:
            return RC_SUCCESS
        with self._lock:
            if not self._lock.wait_for(lambda: info.mid in self._published or self.closed.is_set(), timeout):
                raise AssertionError(f"{self.name}: QoS {qos} PUBLISH to {topic!r} not acknowledged within {timeout:.0f} s")
            return self._published.pop(info.mid, None)

    def publish_ok(self, topic: str, payload: bytes | str = b"", qos: int = 0, retain: bool = False) -> None:
        outcome = self.publish(topic, payload, qos=qos, retain=retain)
        assert outcome is not None and outcome < RC_UNSPECIFIED_ERROR, (
            f"{self.name}: PUBLISH to {topic!r} at QoS {qos} was not accepted "
            f"({'connection closed' if outcome is None else f'reason code 0x{outcome:02x}'})"
        )

    def collect(self, count: int, timeout: float = WAIT) -> list[Received]:
        """Up to ``count`` messages, waiting at most ``timeout`` seconds."""
        got: list[Received] = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            remaining = deadline - time.monotonic()
            try:
                got.append(self.messages.get(timeout=max(remaining, 0.001)))
            except queue.Empty:
                break
        return got

    def expect(self, count: int = 1, timeout: float = WAIT) -> list[Received]:
        """The next ``count`` messages; fails listing what did arrive."""
        got = self.collect(count, timeout)
        if len(got) < count:
            seen = ", ".join(f"{m.topic}={m.payload[:40]!r}" for m in got[:10])
            raise AssertionError(
                f"{self.name}: expected {count} message(s) within {timeout:.0f} s, got {len(got)}: [{seen}]"
            )
        return got

    def expect_one(self, topic: str | None = None, timeout: float = WAIT) -> Received:
        (message,) = self.expect(1, timeout)
        if topic is not None:
            assert message.topic == topic, f"{self.name}: expected a message on {topic!r}, got {message.topic!r}"
        return message

    def quiet(self, within: float = QUIET) -> list[Received]:
        """Everything that arrives within ``within`` seconds (expected: nothing)."""
        deadline = time.monotonic() + within
        got: list[Received] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return got
            try:
                got.append(self.messages.get(timeout=remaining))
            except queue.Empty:
                return got

    def drain(self) -> list[Received]:
        got = []
        while True:
            try:
                got.append(self.messages.get_nowait())
            except queue.Empty:
                return got


@contextlib.contextmanager
def clients() -> Iterator[list[Client]]:
    """Collects clients made in a test and stops them all at the end."""
    made: list[Client] = []
    try:
        yield made
    finally:
        for client in made:
            with contextlib.suppress(Exception):
                client.stop()


def round_trip(broker: Broker, version: int = V5, topic: str | None = None) -> None:
    """A fresh subscriber and publisher exchange one QoS 1 message: the
    broker still serves well-behaved clients."""
    topic = topic or f"{topic_root()[2]}/stats/health"
    subscriber = broker.connected(version)
    publisher = broker.connected(version)
    try:
        subscriber.subscribe_ok(topic, qos=1)
        payload = f"alive {token()}".encode()
        publisher.publish_ok(topic, payload, qos=1)
        message = subscriber.expect_one(topic)
        assert message.payload == payload
    finally:
        subscriber.disconnect()
        publisher.disconnect()


def check_still_serving(broker: Broker, watcher: Client, watcher_topic: str) -> None:
    """``watcher`` (connected before the bad client) still gets messages,
    and new clients can still connect and exchange messages."""
    assert not watcher.closed.is_set(), f"the well-behaved client {watcher.name} was disconnected"
    payload = f"still here {token()}".encode()
    publisher = broker.connected(V5)
    try:
        publisher.publish_ok(watcher_topic, payload, qos=1)
        assert watcher.expect_one(watcher_topic).payload == payload
    finally:
        publisher.disconnect()
    round_trip(broker, V311)
    round_trip(broker, V5)


# ---------------------------------------------------------------------------
# Raw MQTT packets
# ---------------------------------------------------------------------------

def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mqtt_string(value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return struct.pack(">H", len(data)) + data


def packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + varint(len(body)) + body


def connect_packet(
    client_id: str | bytes,
    version: int = V311,
    clean: bool = True,
    username: str | None = None,
    password: str | None = None,
    keepalive: int = 60,
    protocol_level: int | None = None,
    reserved_flag: bool = False,
    will: tuple[str, bytes] | None = None,
) -> bytes:
    flags = (0x02 if clean else 0) | (0x01 if reserved_flag else 0)
    payload = mqtt_string(client_id)
    if will is not None:
        flags |= 0x04 | 0x08  # will, QoS 1
        if version == V5:
            payload += b"\x00"  # will properties
        payload += mqtt_string(will[0]) + mqtt_string(will[1])
    if username is not None:
        flags |= 0x80
        payload += mqtt_string(username)
    if password is not None:
        flags |= 0x40
        payload += mqtt_string(password)
    header = mqtt_string(b"MQTT") + bytes([protocol_level or version, flags]) + struct.pack(">H", keepalive)
    if version == V5:
        header += b"\x00"  # no properties
    return packet(CONNECT << 4, header + payload)


def publish_packet(topic: bytes | str, payload: bytes, version: int = V311, qos: int = 0,
                   retain: bool = False, mid: int = 1) -> bytes:
    body = mqtt_string(topic)
    if qos:
        body += struct.pack(">H", mid)
    if version == V5:
        body += b"\x00"
    return packet((PUBLISH << 4) | (qos << 1) | (1 if retain else 0), body + payload)


def subscribe_packet(topic_filter: bytes | str, version: int = V311, mid: int = 1, flags: int = 0x02) -> bytes:
    body = struct.pack(">H", mid) + (b"\x00" if version == V5 else b"") + mqtt_string(topic_filter) + b"\x00"
    return packet((SUBSCRIBE << 4) | flags, body)


@dataclasses.dataclass
class RawPacket:
    type: int
    flags: int
    body: bytes

    @property
    def connack_code(self) -> int:
        assert self.type == CONNACK, f"expected CONNACK, got packet type {self.type}"
        return self.body[1]

    @property
    def session_present(self) -> bool:
        return bool(self.body[0] & 1)

    @property
    def disconnect_reason(self) -> int:
        return self.body[0] if self.body else RC_SUCCESS


class RawConnection:
    """A plain TCP connection to the broker for hand-made packets."""

    def __init__(self, broker: Broker, timeout: float = WAIT) -> None:
        self.sock = socket.create_connection((broker.host, broker.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.eof = False
        self.reset = False

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def send(self, data: bytes) -> bool:
        """False when the broker had already closed the connection."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            self.reset = True
            return False

    def _fill(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            self.reset = True
            return False
        except socket.timeout:
            raise TimeoutError from None
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    def read_packet(self, timeout: float = WAIT) -> RawPacket | None:
        """The next packet, None at end of stream; TimeoutError when nothing
        complete arrives in time."""
        deadline = time.monotonic() + timeout
        while True:
            parsed = self._parse()
            if parsed is not None:
                return parsed
            if self.eof or self.reset or not self._fill(deadline):
                return None

    def _parse(self) -> RawPacket | None:
        if len(self.buffer) < 2:
            return None
        length, multiplier, index = 0, 1, 1
        while True:
            if index >= len(self.buffer):
                return None
            byte = self.buffer[index]
            length += (byte & 0x7F) * multiplier
            multiplier *= 128
            index += 1
            if not byte & 0x80:
                break
            if index > 4:
                raise AssertionError(f"broker sent a malformed remaining length: {self.buffer[:8].hex()}")
        if len(self.buffer) < index + length:
            return None
        first = self.buffer[0]
        body = self.buffer[index:index + length]
        self.buffer = self.buffer[index + length:]
        return RawPacket(first >> 4, first & 0x0F, body)

    def connect(self, *args: Any, **kwargs: Any) -> RawPacket:
        """Sends CONNECT (``connect_packet`` arguments) and returns CONNACK."""
        self.send(connect_packet(*args, **kwargs))
        answer = self.read_packet()
        assert answer is not None, "the broker closed the connection without CONNACK"
        assert answer.type == CONNACK, f"expected CONNACK, got packet type {answer.type}"
        return answer

    def wait_closed(self, timeout: float) -> tuple[bool, list[RawPacket], float]:
        """Reads until the broker closes the connection. Returns (closed in
        time, packets received before that, seconds waited)."""
        started = time.monotonic()
        deadline = started + timeout
        got: list[RawPacket] = []
        while True:
            try:
                parsed = self._parse()
            except AssertionError:
                parsed = None
            if parsed is not None:
                got.append(parsed)
                continue
            if self.eof or self.reset:
                return True, got, time.monotonic() - started
            try:
                self._fill(deadline)
            except TimeoutError:
                return False, got, time.monotonic() - started
            except OSError:
                self.reset = True


def connect_refused(broker: Broker, version: int, login: Login) -> int:
    """CONNECTs with ``login`` on a raw socket; returns the CONNACK code
    (3.1.1 return code or MQTT 5 reason code, as sent) after checking that
    it is a refusal and that the broker then closes the connection
    (MQTT-3.2.2-5)."""
    with RawConnection(broker) as raw:
        connack = raw.connect(login.client_id, version, username=login.username, password=login.password)
        assert connack.connack_code != 0, f"{login.client_id} with user name {login.username!r} was accepted"
        assert not connack.session_present, "Session Present must be 0 in a refusing CONNACK"
        closed, after, _ = raw.wait_closed(5.0)
        assert closed, "the broker kept the connection open after refusing CONNECT"
        assert all(p.type == DISCONNECT for p in after), f"packets after a refusing CONNACK: {after}"
        return connack.connack_code


# ---------------------------------------------------------------------------
# The will client: a separate process, so that it can be SIGKILLed
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class WillClientProcess:
    proc: subprocess.Popen[str]
    connack: str
    log_path: Path

    def kill(self) -> float:
        """SIGKILL; returns the monotonic time just before the signal."""
        at = time.monotonic()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(WAIT)
        return at

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()


@contextlib.contextmanager
def will_client(
    broker: Broker, version: int, login: Login, will: Will, log_path: Path,
    clean: bool = True, session_expiry: int | None = None, retained: list[tuple[str, str]] = (),
) -> Iterator[WillClientProcess]:
    """Starts ``python3 mqtt_helpers.py will-client``: it connects with
    ``will``, publishes ``retained`` (topic, payload) pairs retained at QoS 1,
    prints ``READY`` and then waits for a command on stdin (``disconnect``)
    or to be killed. The process is killed when the block ends."""
    argv = [sys.executable, str(Path(__file__).resolve()), "will-client",
            "--port", str(broker.port), "--version", str(version), "--client-id", login.client_id,
            "--will-topic", will.topic, "--will-payload", will.payload.decode(), "--will-qos", str(will.qos)]
    if login.username is not None:
        argv += ["--username", login.username]
    if login.password is not None:
        argv += ["--password", login.password]
    if will.retain:
        argv.append("--will-retain")
    if will.delay is not None:
        argv += ["--will-delay", str(will.delay)]
    if session_expiry is not None:
        argv += ["--session-expiry", str(session_expiry)]
    if not clean:
        argv.append("--persistent")
    for topic, payload in retained:
        argv += ["--retained", topic, payload]
    log = open(log_path, "ab")
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                            start_new_session=True)
    try:
        assert proc.stdout is not None
        line = ""
        deadline = time.monotonic() + WAIT
        connack = ""
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            line = line.strip()
            if line.startswith("CONNACK"):
                connack = line
            if line == "READY" or line.startswith("FAILED"):
                break
        if line != "READY":
            proc.kill()
            proc.wait()
            raise AssertionError(
                f"the will client did not get ready ({line or 'exited'}; {connack}); its stderr is in {log_path}:\n"
                + log_path.read_text(errors="replace")[-2000:]
            )
        yield WillClientProcess(proc, connack, log_path)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        log.close()


def _will_client_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mqtt_helpers.py will-client")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--version", type=int, choices=(V311, V5), required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--username")
    parser.add_argument("--password")
    parser.add_argument("--will-topic", required=True)
    parser.add_argument("--will-payload", required=True)
    parser.add_argument("--will-qos", type=int, default=1)
    parser.add_argument("--will-retain", action="store_true")
    parser.add_argument("--will-delay", type=int)
    parser.add_argument("--session-expiry", type=int)
    parser.add_argument("--persistent", action="store_true", help="clean session / clean start 0")
    parser.add_argument("--retained", nargs=2, action="append", default=[], metavar=("TOPIC", "PAYLOAD"))
    args = parser.parse_args(argv)
    broker = Broker("any", HOST, args.port, None)
    client = Client(broker, Login(args.client_id, args.username, args.password), args.version,
                    clean=not args.persistent)
    will = Will(args.will_topic, args.will_payload.encode(), args.will_qos, args.will_retain, args.will_delay)
    connack = client.connect(clean_start=not args.persistent, session_expiry=args.session_expiry, will=will)
    if connack is None:
        print("FAILED closed without CONNACK", flush=True)
        return 1
    print(f"CONNACK {connack.reason_code} {int(connack.session_present)}", flush=True)
    if connack.reason_code != RC_SUCCESS:
        print("FAILED refused", flush=True)
        return 1
    for topic, payload in args.retained:
        outcome = client.publish(topic, payload, qos=1, retain=True)
        if outcome is None or outcome >= RC_UNSPECIFIED_ERROR:
            print(f"FAILED publish {topic} {outcome}", flush=True)
            return 1
    print("READY", flush=True)
    for line in sys.stdin:
        if line.strip() == "disconnect":
            client.disconnect()
            print("DISCONNECTED", flush=True)
            return 0
    # stdin closed: wait to be killed
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "will-client":
        sys.exit(_will_client_main(sys.argv[2:]))
    sys.exit(f"usage: {sys.argv[0]} will-client --help")
