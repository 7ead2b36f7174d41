"""pod-arcade-server's STUN listener against independent STUN clients.

Clients: aioice (the ICE library under aiortc), coturn's
turnutils_stunclient, and the raw messages of stunwire.py. The same client
checks also run against coturn's own STUN server, so that a harness error
shows up as a failure there too rather than as a server bug.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import struct
import subprocess
import time
from pathlib import Path

import pytest

import stunwire
from conftest import RunningProcess, require_tool

LOOPBACK = pytest.mark.parametrize("host", ["127.0.0.1", "::1"], ids=["ipv4", "ipv6"])

# How long a test waits to be sure that no answer is coming.
SILENCE = 0.3

# An unknown attribute in the comprehension-required range 0x0000-0x7FFF and
# one in the comprehension-optional range 0x8000-0xFFFF (RFC 8489 section 14).
UNKNOWN_REQUIRED = 0x7F01
UNKNOWN_OPTIONAL = 0x8F01


# aioice client -----------------------------------------------------------


class _AioiceClient(asyncio.DatagramProtocol):
    """The part of aioice.ice.StunProtocol a lone client needs: it sends
    for aioice.stun.Transaction and hands it the replies it matches."""

    def __init__(self, stun) -> None:
        self.stun = stun
        self.transactions: dict[bytes, object] = {}
        self.raw_replies: dict[bytes, bytes] = {}
        self.parse_errors: list[str] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        try:
            message = self.stun.parse_message(data)
        except ValueError as error:
            self.parse_errors.append(f"{error}: {data.hex()}")
            return
        transaction = self.transactions.get(message.transaction_id)
        if transaction is not None:
            self.raw_replies[message.transaction_id] = data
            transaction.response_received(message, (addr[0], addr[1]))

    def send_stun(self, message, addr) -> None:
        assert self.transport is not None
        self.transport.sendto(bytes(message), addr)


async def _aioice_binding(stun, host: str, port: int, request_fingerprint: bool):
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(lambda: _AioiceClient(stun), local_addr=(host, 0))
    try:
        request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
        if request_fingerprint:
            request.add_fingerprint()
        transaction = stun.Transaction(request, (host, port), client, retransmissions=3)
        client.transactions[request.transaction_id] = transaction
        try:
            response, source = await asyncio.wait_for(transaction.run(), timeout=15)
        except stun.TransactionError as error:
            pytest.fail(f"aioice Binding transaction to [{host}]:{port} failed: {error}; {client.parse_errors=}")
        local = transport.get_extra_info("sockname")[:2]
        return request, response, source, local, client.raw_replies[request.transaction_id]
    finally:
        transport.close()


def _check_aioice_binding(stun, server: RunningProcess, host: str, request_fingerprint: bool, strict: bool) -> None:
    request, response, source, local, raw = asyncio.run(_aioice_binding(stun, host, server.port, request_fingerprint))
    assert response.message_method == stun.Method.BINDING
    assert response.message_class == stun.Class.RESPONSE
    assert response.transaction_id == request.transaction_id
    assert source == (host, server.port), "the response must come from the address the request went to"
    assert response.attributes.get("XOR-MAPPED-ADDRESS") == local, (
        f"XOR-MAPPED-ADDRESS {response.attributes.get('XOR-MAPPED-ADDRESS')} is not the client's address {local}"
    )
    decoded = stunwire.decode_message(raw)
    assert decoded.xor_mapped_address() == local
    if strict or request_fingerprint:
        # aioice.stun.parse_message has already raised if it were wrong;
        # stunwire checks it again and that it is the last attribute.
        assert "FINGERPRINT" in response.attributes, "the response has no FINGERPRINT"
        assert decoded.fingerprint_valid is True
        assert decoded.attributes[-1][0] == stunwire.ATTR_FINGERPRINT
    if strict:
        assert response.attributes.get("SOFTWARE"), "the response has no SOFTWARE"


@LOOPBACK
@pytest.mark.parametrize("request_fingerprint", [False, True], ids=["plain", "fingerprinted"])
def test_aioice_gets_its_own_address_from_pod_arcade(
    aioice_stun, pod_arcade: RunningProcess, host: str, request_fingerprint: bool
) -> None:
    _check_aioice_binding(aioice_stun, pod_arcade, host, request_fingerprint, strict=True)


@LOOPBACK
def test_aioice_harness_against_coturn(aioice_stun, coturn: RunningProcess, host: str) -> None:
    # coturn adds FINGERPRINT only when the request has one.
    _check_aioice_binding(aioice_stun, coturn, host, request_fingerprint=True, strict=False)


# coturn's turnutils_stunclient ---------------------------------------------

_REFLEXIVE = re.compile(r"UDP reflexive addr:\s*(\S+)")


def _run_stunclient(host: str, port: int) -> tuple[str, int]:
    stunclient = require_tool("turnutils_stunclient", "coturn")
    try:
        # It waits for ever when nothing answers, hence the timeout.
        result = subprocess.run(
            [stunclient, "-p", str(port), host],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"turnutils_stunclient got no answer from [{host}]:{port} within 10 s")
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"turnutils_stunclient exited with {result.returncode}:\n{output}"
    found = _REFLEXIVE.findall(output)
    assert found, f"turnutils_stunclient printed no reflexive address:\n{output}"
    assert "error" not in output.lower() and "not a" not in output, output
    mapped_host, _, mapped_port = found[0].rpartition(":")
    return mapped_host, int(mapped_port)


@LOOPBACK
def test_turnutils_stunclient_gets_a_loopback_address_from_pod_arcade(pod_arcade: RunningProcess, host: str) -> None:
    mapped_host, mapped_port = _run_stunclient(host, pod_arcade.port)
    assert mapped_host == host
    # Its local port is not printed; an ephemeral port is all it can be.
    assert 1024 <= mapped_port <= 65535 and mapped_port != pod_arcade.port


@LOOPBACK
def test_turnutils_stunclient_harness_against_coturn(coturn: RunningProcess, host: str) -> None:
    mapped_host, mapped_port = _run_stunclient(host, coturn.port)
    assert mapped_host == host
    assert 1024 <= mapped_port <= 65535 and mapped_port != coturn.port


# bad input ---------------------------------------------------------------


def _header(type_: int, length: int, cookie: int = stunwire.MAGIC_COOKIE) -> bytes:
    return struct.pack("!HHI", type_, length, cookie) + stunwire.new_transaction_id()


def _big_request(total: int) -> bytes:
    """A well-formed Binding request of ``total`` bytes, padded with one
    comprehension-optional attribute."""
    value_length = total - stunwire.HEADER_LENGTH - 4
    return stunwire.binding_request(attributes=[(UNKNOWN_OPTIONAL, bytes(value_length))])


def _garbage(length: int) -> bytes:
    # The first byte 0xFF is outside every RFC 7983 range.
    return b"\xff" + os.urandom(length - 1)


# Datagrams that must get no answer at all (RFC 8489 section 6.3: messages
# that fail the header checks are discarded; indications and responses are
# never answered, sections 6.3.2 to 6.3.4).
SILENTLY_DROPPED = {
    "empty datagram": b"",
    "one byte": b"\x00",
    "text": b"hello, STUN server\n",
    "garbage 200 bytes": _garbage(200),
    "garbage 65000 bytes": _garbage(65000),
    "header cut at 19 bytes": stunwire.binding_request()[:19],
    "header cut at 8 bytes": stunwire.binding_request()[:8],
    "length longer than datagram": _header(0x0001, 8) + bytes(4),
    "length shorter than datagram": _header(0x0001, 0) + bytes(8),
    "length not a multiple of 4": _header(0x0001, 2) + b"\x80\x22",
    "top two bits set": _header(0xC001, 0),
    "Binding indication": stunwire.encode_message(stunwire.METHOD_BINDING, stunwire.CLASS_INDICATION),
    "indication with unknown required attribute": stunwire.encode_message(
        stunwire.METHOD_BINDING, stunwire.CLASS_INDICATION, attributes=[(UNKNOWN_REQUIRED, b"abcd")]
    ),
    "Binding success response": stunwire.encode_message(
        stunwire.METHOD_BINDING,
        stunwire.CLASS_SUCCESS,
        attributes=[(stunwire.ATTR_XOR_MAPPED_ADDRESS, stunwire.encode_xor_address("127.0.0.1", 9, bytes(12)))],
    ),
    "Binding error response": stunwire.encode_message(
        stunwire.METHOD_BINDING, stunwire.CLASS_ERROR, attributes=[(stunwire.ATTR_ERROR_CODE, b"\x00\x00\x04\x00")]
    ),
}

# Datagrams whose answer the RFC leaves to the server: the test only
# requires that the server survives them.
ANSWER_OPTIONAL = {
    "Binding request of 65000 bytes": _big_request(65000),
    "RFC 3489 request without magic cookie": _header(0x0001, 0, cookie=0x01020304),
    "request for an unknown method": stunwire.encode_message(0x0FF, stunwire.CLASS_REQUEST),
    "request with a wrong FINGERPRINT": stunwire.binding_request(fingerprint=True)[:-1] + b"\x00",
    "request with a zero-length XOR-MAPPED-ADDRESS": stunwire.binding_request(
        attributes=[(stunwire.ATTR_XOR_MAPPED_ADDRESS, b"")]
    ),
}


def _attribute_past_end() -> bytes:
    # Header length 8 matches the 8 bytes that follow, but the attribute in
    # them claims 100 bytes of value (RFC 8489 section 14).
    return _header(0x0001, 8) + struct.pack("!HH", stunwire.ATTR_SOFTWARE, 100) + b"abcd"


def _attribute_header_cut() -> bytes:
    # Header length 4 with a complete SOFTWARE attribute header whose 4-byte
    # value is missing.
    return _header(0x0001, 4) + struct.pack("!HH", stunwire.ATTR_SOFTWARE, 4)


def _check_error_reply(reply: stunwire.Message | None, request: bytes, code: int) -> stunwire.Message:
    assert reply is not None, f"no error response (expected {code})"
    assert (reply.method, reply.message_class) == (stunwire.METHOD_BINDING, stunwire.CLASS_ERROR), (
        f"expected a Binding error response, got method {reply.method:#x} class {reply.message_class}"
    )
    assert reply.transaction_id == request[8:20]
    assert reply.error_code()[0] == code
    assert reply.fingerprint_valid is not False, "the error response has a wrong FINGERPRINT"
    return reply


@LOOPBACK
def test_bad_input_gets_no_crash_and_the_right_errors(pod_arcade: RunningProcess, host: str) -> None:
    server = (host, pod_arcade.port)

    for name, datagram in SILENTLY_DROPPED.items():
        with stunwire.udp_socket(host) as sock:
            sock.settimeout(SILENCE)
            sock.sendto(datagram, server)
            try:
                data, _ = sock.recvfrom(65535)
            except TimeoutError:
                continue
            pytest.fail(f"{name}: expected no answer, got {data[:64].hex()}")

    for name, datagram in ANSWER_OPTIONAL.items():
        with stunwire.udp_socket(host) as sock:
            sock.settimeout(SILENCE)
            sock.sendto(datagram, server)
            try:
                sock.recvfrom(65535)
            except TimeoutError:
                pass
        assert pod_arcade.alive(), f"the server died after: {name}"

    # RFC 8489 section 6.3.1.1: an unknown comprehension-required attribute
    # in a request gets 420 with UNKNOWN-ATTRIBUTES listing it; unknown
    # comprehension-optional attributes are ignored and not listed.
    with stunwire.udp_socket(host) as sock:
        request = stunwire.binding_request(attributes=[(UNKNOWN_REQUIRED, b"abcd"), (UNKNOWN_OPTIONAL, b"xyz")])
        reply = _check_error_reply(stunwire.transact(sock, request, server), request, 420)
        assert reply.unknown_attributes() == [UNKNOWN_REQUIRED]

        request = stunwire.binding_request(attributes=[(UNKNOWN_OPTIONAL, b"xyz")], fingerprint=True)
        reply = stunwire.transact(sock, request, server)
        assert reply is not None and reply.message_class == stunwire.CLASS_SUCCESS, (
            "an unknown comprehension-optional attribute must be ignored"
        )

    # A request whose header is sound but whose attributes are not well
    # formed gets 400 Bad Request (RFC 8489 section 6.3.1).
    for request in (_attribute_past_end(), _attribute_header_cut()):
        with stunwire.udp_socket(host) as sock:
            _check_error_reply(stunwire.transact(sock, request, server), request, 400)

    # And it still answers a normal request, correctly.
    with stunwire.udp_socket(host) as sock:
        reply = stunwire.transact(sock, stunwire.binding_request(), server)
        assert reply is not None, "no answer to a normal request after the bad input"
        assert reply.xor_mapped_address() == sock.getsockname()[:2]
    assert pod_arcade.alive(), "the server is no longer running"


# STUN disabled -----------------------------------------------------------


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _inet_sockets_of(pid: int) -> list[str]:
    """The process's UDP and TCP sockets, as lines of /proc/net/{udp,tcp}[6]."""
    inodes = _socket_inodes(pid)
    found = []
    for table in ("udp", "udp6", "tcp", "tcp6"):
        lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[9] in inodes:
                found.append(f"{table}: {line.strip()}")
    return found


def test_stun_port_minus_one_listens_on_nothing(start_pod_arcade, free_udp_port: int) -> None:
    server = start_pod_arcade(-1, wait=False)
    # There is nothing to poll for readiness; give it the time a STUN
    # listener takes to come up, checking that it stays running.
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        assert server.alive(), f"the server exited with status {server.proc.returncode} with STUN_PORT=-1"
        time.sleep(0.1)

    sockets = _inet_sockets_of(server.proc.pid)
    assert sockets == [], "with STUN, HTTP and MQTT disabled the server must have no sockets:\n" + "\n".join(sockets)
    for host in ("127.0.0.1", "::1"):
        with stunwire.udp_socket(host) as sock:
            reply = stunwire.transact(sock, stunwire.binding_request(), (host, free_udp_port), SILENCE)
            assert reply is None, f"a Binding request to [{host}]:{free_udp_port} was answered"
    assert server.alive()


# shutdown ----------------------------------------------------------------


def test_server_exits_cleanly_on_sigterm(pod_arcade: RunningProcess) -> None:
    pod_arcade.exit_expected = True
    pod_arcade.proc.send_signal(signal.SIGTERM)
    try:
        status = pod_arcade.proc.wait(10)
    except subprocess.TimeoutExpired:
        pytest.fail("the server was still running 10 s after SIGTERM")
    assert status == 0, f"exit status {status} after SIGTERM"
