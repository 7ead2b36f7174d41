"""Hand-built STUN messages for the interop tests (RFC 8489).

Deliberately independent of the server's Swift code and of aioice, so that
the tests compare three separate readings of the RFC. Encoding is strict;
decoding rejects anything RFC 8489 calls malformed, so a test that decodes
a reply also checks that the server sent a well-formed message.

Run as a script to ask a STUN server for this host's mapped address:
``python3 stunwire.py 127.0.0.1 3478``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import sys
import zlib
from dataclasses import dataclass, field

# RFC 8489 section 5: fixed header, magic cookie, 96-bit transaction id.
HEADER_LENGTH = 20
MAGIC_COOKIE = 0x2112A442
TRANSACTION_ID_LENGTH = 12

# RFC 8489 section 5: the two class bits are spread over the message type.
CLASS_REQUEST = 0b00
CLASS_INDICATION = 0b01
CLASS_SUCCESS = 0b10
CLASS_ERROR = 0b11

# RFC 8489 section 18.2.
METHOD_BINDING = 0x001

# RFC 8489 section 18.3 (and RFC 8445 section 16.1 for the ICE ones).
ATTR_MAPPED_ADDRESS = 0x0001
ATTR_USERNAME = 0x0006
ATTR_MESSAGE_INTEGRITY = 0x0008
ATTR_ERROR_CODE = 0x0009
ATTR_UNKNOWN_ATTRIBUTES = 0x000A
ATTR_REALM = 0x0014
ATTR_NONCE = 0x0015
ATTR_XOR_MAPPED_ADDRESS = 0x0020
ATTR_SOFTWARE = 0x8022
ATTR_FINGERPRINT = 0x8028

# RFC 8489 section 14.7.
FINGERPRINT_XOR = 0x5354554E

# RFC 8489 section 14.1: address families.
FAMILY_IPV4 = 0x01
FAMILY_IPV6 = 0x02


def message_type(method: int, message_class: int) -> int:
    """Packs method and class into the 14-bit type (RFC 8489 section 5, figure 3)."""
    return (
        ((method & 0xF80) << 2)
        | ((method & 0x070) << 1)
        | (method & 0x00F)
        | ((message_class & 0b10) << 7)
        | ((message_class & 0b01) << 4)
    )


def split_message_type(value: int) -> tuple[int, int]:
    """Returns (method, class) from a message type (RFC 8489 section 5)."""
    method = (value & 0x000F) | ((value & 0x00E0) >> 1) | ((value & 0x3E00) >> 2)
    message_class = ((value & 0x0100) >> 7) | ((value & 0x0010) >> 4)
    return method, message_class


def padded(length: int) -> int:
    """Attribute values are padded to a multiple of 4 bytes (RFC 8489 section 14)."""
    return (length + 3) & ~3


def new_transaction_id() -> bytes:
    """A random transaction id (RFC 8489 section 5)."""
    return os.urandom(TRANSACTION_ID_LENGTH)


def encode_attribute(attr_type: int, value: bytes) -> bytes:
    """Type, length, value and zero padding (RFC 8489 section 14)."""
    return struct.pack("!HH", attr_type, len(value)) + value + bytes(padded(len(value)) - len(value))


def encode_message(
    method: int,
    message_class: int,
    transaction_id: bytes | None = None,
    attributes: list[tuple[int, bytes]] | tuple[()] = (),
    fingerprint: bool = False,
) -> bytes:
    """Builds a message; with ``fingerprint`` a FINGERPRINT is appended last (section 14.7)."""
    transaction_id = transaction_id if transaction_id is not None else new_transaction_id()
    if len(transaction_id) != TRANSACTION_ID_LENGTH:
        raise ValueError("a transaction id has 12 bytes")
    body = b"".join(encode_attribute(t, v) for t, v in attributes)
    if fingerprint:
        # The header length must already count the FINGERPRINT attribute
        # when the CRC is computed over the preceding bytes.
        header = _header(method, message_class, len(body) + 8, transaction_id)
        crc = zlib.crc32(header + body) ^ FINGERPRINT_XOR
        return header + body + encode_attribute(ATTR_FINGERPRINT, struct.pack("!I", crc))
    return _header(method, message_class, len(body), transaction_id) + body


def binding_request(
    transaction_id: bytes | None = None,
    attributes: list[tuple[int, bytes]] | tuple[()] = (),
    fingerprint: bool = False,
) -> bytes:
    """A Binding request (RFC 8489 section 6.1)."""
    return encode_message(METHOD_BINDING, CLASS_REQUEST, transaction_id, attributes, fingerprint)


def _header(method: int, message_class: int, length: int, transaction_id: bytes) -> bytes:
    return struct.pack("!HHI", message_type(method, message_class), length, MAGIC_COOKIE) + transaction_id


@dataclass
class Message:
    """A decoded STUN message; attributes keep their order and raw values."""

    method: int
    message_class: int
    transaction_id: bytes
    attributes: list[tuple[int, bytes]] = field(default_factory=list)
    fingerprint_valid: bool | None = None  # None when there is no FINGERPRINT

    def get(self, attr_type: int) -> bytes | None:
        """The first value of an attribute; later duplicates are ignored (section 14)."""
        for t, v in self.attributes:
            if t == attr_type:
                return v
        return None

    def has(self, attr_type: int) -> bool:
        return self.get(attr_type) is not None

    def xor_mapped_address(self) -> tuple[str, int]:
        value = self.get(ATTR_XOR_MAPPED_ADDRESS)
        if value is None:
            raise ValueError("no XOR-MAPPED-ADDRESS")
        return decode_xor_address(value, self.transaction_id)

    def error_code(self) -> tuple[int, str]:
        value = self.get(ATTR_ERROR_CODE)
        if value is None:
            raise ValueError("no ERROR-CODE")
        return decode_error_code(value)

    def unknown_attributes(self) -> list[int]:
        value = self.get(ATTR_UNKNOWN_ATTRIBUTES)
        if value is None:
            raise ValueError("no UNKNOWN-ATTRIBUTES")
        return decode_unknown_attributes(value)

    def software(self) -> str:
        value = self.get(ATTR_SOFTWARE)
        if value is None:
            raise ValueError("no SOFTWARE")
        return value.decode("utf-8")


def looks_like_stun(data: bytes) -> bool:
    """The cheap test of RFC 8489 section 5 and RFC 7983: two zero bits, cookie, length."""
    return (
        len(data) >= HEADER_LENGTH
        and data[0] & 0xC0 == 0
        and struct.unpack_from("!I", data, 4)[0] == MAGIC_COOKIE
        and struct.unpack_from("!H", data, 2)[0] % 4 == 0
    )


def decode_message(data: bytes) -> Message:
    """Decodes a whole datagram strictly; raises ValueError on anything malformed.

    Checks the header (section 5), that the header length matches the
    datagram and is a multiple of 4, that every attribute fits with its
    padding (section 14), and that FINGERPRINT, when present, is last and
    correct (section 14.7).
    """
    if len(data) < HEADER_LENGTH:
        raise ValueError(f"{len(data)} bytes is shorter than a STUN header")
    raw_type, length, cookie = struct.unpack_from("!HHI", data, 0)
    if raw_type & 0xC000:
        raise ValueError("the two most significant bits are not zero")
    if cookie != MAGIC_COOKIE:
        raise ValueError(f"magic cookie is {cookie:#010x}")
    if length % 4:
        raise ValueError(f"header length {length} is not a multiple of 4")
    if HEADER_LENGTH + length != len(data):
        raise ValueError(f"header length {length} but {len(data) - HEADER_LENGTH} bytes follow")
    method, message_class = split_message_type(raw_type)
    message = Message(method, message_class, bytes(data[8:HEADER_LENGTH]))
    offset = HEADER_LENGTH
    while offset < len(data):
        if len(data) - offset < 4:
            raise ValueError(f"attribute header cut at offset {offset}")
        attr_type, attr_length = struct.unpack_from("!HH", data, offset)
        end = offset + 4 + padded(attr_length)
        if end > len(data):
            raise ValueError(f"attribute {attr_type:#06x} at offset {offset} runs past the end")
        if message.fingerprint_valid is not None:
            raise ValueError("an attribute follows FINGERPRINT")
        value = bytes(data[offset + 4 : offset + 4 + attr_length])
        if attr_type == ATTR_FINGERPRINT:
            if attr_length != 4:
                raise ValueError(f"FINGERPRINT has length {attr_length}")
            expected = zlib.crc32(data[:offset]) ^ FINGERPRINT_XOR
            message.fingerprint_valid = struct.unpack("!I", value)[0] == expected
        message.attributes.append((attr_type, value))
        offset = end
    return message


def decode_xor_address(value: bytes, transaction_id: bytes) -> tuple[str, int]:
    """XOR-MAPPED-ADDRESS (RFC 8489 section 14.2)."""
    if len(value) < 4:
        raise ValueError("XOR address shorter than 4 bytes")
    family = value[1]
    port = struct.unpack_from("!H", value, 2)[0] ^ (MAGIC_COOKIE >> 16)
    mask = struct.pack("!I", MAGIC_COOKIE) + transaction_id
    if family == FAMILY_IPV4 and len(value) == 8:
        raw = bytes(a ^ b for a, b in zip(value[4:8], mask[:4], strict=True))
        return str(ipaddress.IPv4Address(raw)), port
    if family == FAMILY_IPV6 and len(value) == 20:
        raw = bytes(a ^ b for a, b in zip(value[4:20], mask, strict=True))
        return str(ipaddress.IPv6Address(raw)), port
    raise ValueError(f"XOR address family {family:#04x} with length {len(value)}")


def encode_xor_address(host: str, port: int, transaction_id: bytes) -> bytes:
    """XOR-MAPPED-ADDRESS value (RFC 8489 section 14.2)."""
    ip = ipaddress.ip_address(host)
    mask = struct.pack("!I", MAGIC_COOKIE) + transaction_id
    family = FAMILY_IPV4 if ip.version == 4 else FAMILY_IPV6
    raw = bytes(a ^ b for a, b in zip(ip.packed, mask[: len(ip.packed)], strict=True))
    return struct.pack("!BBH", 0, family, port ^ (MAGIC_COOKIE >> 16)) + raw


def decode_error_code(value: bytes) -> tuple[int, str]:
    """ERROR-CODE: class in the hundreds, number in the units (RFC 8489 section 14.8)."""
    if len(value) < 4:
        raise ValueError("ERROR-CODE shorter than 4 bytes")
    error_class = value[2] & 0x07
    number = value[3]
    if not 3 <= error_class <= 6 or number > 99:
        raise ValueError(f"ERROR-CODE class {error_class} number {number}")
    return error_class * 100 + number, value[4:].decode("utf-8")


def decode_unknown_attributes(value: bytes) -> list[int]:
    """UNKNOWN-ATTRIBUTES: a list of 16-bit types (RFC 8489 section 14.9)."""
    if len(value) % 2:
        raise ValueError("UNKNOWN-ATTRIBUTES has an odd length")
    return [t for (t,) in struct.iter_unpack("!H", value)]


def transact(sock: socket.socket, request: bytes, server: tuple[str, int], timeout: float = 1.0) -> Message | None:
    """Sends ``request`` once and returns the decoded reply with the same
    transaction id, or None when nothing answers within ``timeout``.
    Unrelated datagrams (earlier replies) are skipped."""
    sock.settimeout(timeout)
    sock.sendto(request, server)
    transaction_id = request[8:HEADER_LENGTH]
    while True:
        try:
            data, _ = sock.recvfrom(65535)
        except (TimeoutError, ConnectionRefusedError):
            return None
        if len(data) >= HEADER_LENGTH and data[8:HEADER_LENGTH] == transaction_id:
            return decode_message(data)


def udp_socket(host: str) -> socket.socket:
    """A UDP socket bound to an ephemeral port on ``host``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    return sock


def probe(host: str, port: int, timeout: float = 0.5) -> tuple[str, int] | None:
    """One Binding transaction from a fresh socket on ``host`` itself;
    returns the mapped address, or None when there is no success reply."""
    with udp_socket(host) as sock:
        reply = transact(sock, binding_request(), (host, port), timeout)
    if reply is None or reply.message_class != CLASS_SUCCESS:
        return None
    return reply.xor_mapped_address()


def _main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: {argv[0]} HOST PORT", file=sys.stderr)
        return 2
    mapped = probe(argv[1], int(argv[2]))
    if mapped is None:
        print(f"no STUN answer from {argv[1]} port {argv[2]}", file=sys.stderr)
        return 1
    host, port = mapped
    print(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
