#!/usr/bin/env python3
"""Writes the seed corpus for the FuzzSTUN target into Fuzz/seeds/ (one message or stream per file).

The RFC 5769 vectors are copied verbatim; the rest are built here with the standard library only
(struct, zlib.crc32 for FINGERPRINT, hmac for MESSAGE-INTEGRITY). Run from anywhere:
    python3 Fuzz/make-seeds.py
"""

from __future__ import annotations

import hashlib
import hmac
import pathlib
import struct
import zlib

SEEDS = pathlib.Path(__file__).resolve().parent / "seeds"
COOKIE = 0x2112A442
TID = bytes.fromhex("b7e7a701bc34d686fa87dfae")
KEY = b"VOkJxbRl1RmTxUk/WvJxBt"  # RFC 5769 short-term password

# Attribute types (RFC 8489 §18.3, RFC 8656 §18, RFC 8445 §16.1, RFC 5780 §7).
MAPPED_ADDRESS, CHANGE_REQUEST, USERNAME, MESSAGE_INTEGRITY = 0x0001, 0x0003, 0x0006, 0x0008
ERROR_CODE, UNKNOWN_ATTRIBUTES, CHANNEL_NUMBER, LIFETIME = 0x0009, 0x000A, 0x000C, 0x000D
XOR_PEER_ADDRESS, DATA, REALM, NONCE, XOR_RELAYED_ADDRESS = 0x0012, 0x0013, 0x0014, 0x0015, 0x0016
REQUESTED_ADDRESS_FAMILY, EVEN_PORT, REQUESTED_TRANSPORT, DONT_FRAGMENT = 0x0017, 0x0018, 0x0019, 0x001A
MESSAGE_INTEGRITY_SHA256, PASSWORD_ALGORITHM, USERHASH, XOR_MAPPED_ADDRESS = 0x001C, 0x001D, 0x001E, 0x0020
RESERVATION_TOKEN, PRIORITY, USE_CANDIDATE, PADDING, RESPONSE_PORT = 0x0022, 0x0024, 0x0025, 0x0026, 0x0027
ADDITIONAL_ADDRESS_FAMILY, ADDRESS_ERROR_CODE, PASSWORD_ALGORITHMS = 0x8000, 0x8001, 0x8002
ALTERNATE_DOMAIN, ICMP, SOFTWARE, ALTERNATE_SERVER, FINGERPRINT = 0x8003, 0x8004, 0x8022, 0x8023, 0x8028
ICE_CONTROLLED, ICE_CONTROLLING, RESPONSE_ORIGIN, OTHER_ADDRESS = 0x8029, 0x802A, 0x802B, 0x802C

# Methods and classes (RFC 8489 §5, RFC 8656 §17).
BINDING, ALLOCATE, REFRESH, SEND, DATA_M, CREATE_PERMISSION, CHANNEL_BIND = 1, 3, 4, 6, 7, 8, 9
REQUEST, INDICATION, SUCCESS, ERROR = 0, 1, 2, 3


def msg_type(method: int, cls: int) -> int:
    return ((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2)
            | ((cls & 1) << 4) | ((cls & 2) << 7))


def attr(t: int, value: bytes) -> bytes:
    return struct.pack("!HH", t, len(value)) + value + b"\0" * (-len(value) % 4)


def xor_address(ip: str, port: int, tid: bytes = TID) -> bytes:
    if ":" in ip:
        import ipaddress
        raw = ipaddress.IPv6Address(ip).packed
        mask = struct.pack("!I", COOKIE) + tid
        return struct.pack("!BBH", 0, 2, port ^ (COOKIE >> 16)) + bytes(a ^ b for a, b in zip(raw, mask))
    raw = bytes(int(x) for x in ip.split("."))
    mask = struct.pack("!I", COOKIE)
    return struct.pack("!BBH", 0, 1, port ^ (COOKIE >> 16)) + bytes(a ^ b for a, b in zip(raw, mask))


def address(ip: str, port: int) -> bytes:
    if ":" in ip:
        import ipaddress
        return struct.pack("!BBH", 0, 2, port) + ipaddress.IPv6Address(ip).packed
    return struct.pack("!BBH", 0, 1, port) + bytes(int(x) for x in ip.split("."))


def error_code(code: int, reason: str, family: int = 0) -> bytes:
    return bytes([family, 0, code // 100, code % 100]) + reason.encode()


def message(method: int, cls: int, attrs: list[bytes], *, tid: bytes = TID, cookie: int = COOKIE,
            integrity: bytes | None = None, integrity256: bytes | None = None, fingerprint: bool = False) -> bytes:
    body = b"".join(attrs)

    def header(length: int) -> bytes:
        return struct.pack("!HHI", msg_type(method, cls), length, cookie) + tid

    if integrity is not None:
        mac = hmac.new(integrity, header(len(body) + 24) + body, hashlib.sha1).digest()
        body += attr(MESSAGE_INTEGRITY, mac)
    if integrity256 is not None:
        mac = hmac.new(integrity256, header(len(body) + 36) + body, hashlib.sha256).digest()
        body += attr(MESSAGE_INTEGRITY_SHA256, mac)
    if fingerprint:
        crc = zlib.crc32(header(len(body) + 8) + body) ^ 0x5354554E
        body += attr(FINGERPRINT, struct.pack("!I", crc))
    return header(len(body)) + body


def channel_data(channel: int, data: bytes, padded: bool) -> bytes:
    out = struct.pack("!HH", channel, len(data)) + data
    return out + b"\0" * (-len(data) % 4) if padded else out


def seeds() -> dict[str, bytes]:
    s: dict[str, bytes] = {}
    # RFC 5769 §2.1 sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME, MI, FINGERPRINT).
    s["rfc5769-request"] = bytes.fromhex(
        "000100582112a442b7e7a701bc34d686fa87dfae"
        "802200105354554e20746573742063 6c69656e74".replace(" ", "")
        + "002400046e0001ff"
        "80290008932ff9b151263b36"
        "000600096576746a3a68367659202020"
        "000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"
        "80280004e57a3bcf")
    # RFC 5769 §2.2 and §2.3 sample responses.
    s["rfc5769-ipv4-response"] = bytes.fromhex(
        "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220"
        "002000080001a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96")
    s["rfc5769-ipv6-response"] = bytes.fromhex(
        "010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220"
        "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9"
        "00080014a382954e4be67bf11784c97c8292c275bfe3ed4180280004c8fb0b4c")

    s["binding-request"] = bytes.fromhex("000100002112a442") + TID
    s["binding-request-fingerprint"] = message(
        BINDING, REQUEST, [attr(SOFTWARE, b"pod-arcade fuzz seed")], fingerprint=True)
    # RFC 3489: no magic cookie, the first 4 of 16 transaction-id bytes sit in its place.
    s["rfc3489-binding-request"] = message(BINDING, REQUEST, [], cookie=0xDEADBEEF)
    s["rfc3489-binding-request-change"] = message(
        BINDING, REQUEST, [attr(CHANGE_REQUEST, struct.pack("!I", 6))], cookie=0x01020304)
    s["binding-indication"] = message(BINDING, INDICATION, [], fingerprint=True)
    s["binding-success-v6"] = message(
        BINDING, SUCCESS, [attr(XOR_MAPPED_ADDRESS, xor_address("2001:db8:1234:5678:11:2233:4455:6677", 32853)),
                           attr(MAPPED_ADDRESS, address("192.0.2.1", 32853)),
                           attr(RESPONSE_ORIGIN, address("198.51.100.1", 3478)),
                           attr(OTHER_ADDRESS, address("198.51.100.2", 3479)),
                           attr(SOFTWARE, b"pod-arcade")], fingerprint=True)
    s["binding-error-420"] = message(
        BINDING, ERROR, [attr(ERROR_CODE, error_code(420, "Unknown Attribute")),
                         attr(UNKNOWN_ATTRIBUTES, struct.pack("!HHH", 0x7777, 0x0003, 0x0027)),
                         attr(SOFTWARE, b"pod-arcade")], fingerprint=True)
    s["binding-error-300"] = message(
        BINDING, ERROR, [attr(ERROR_CODE, error_code(300, "Try Alternate")),
                         attr(ALTERNATE_SERVER, address("2001:db8::1", 3478)),
                         attr(ALTERNATE_DOMAIN, b"stun.example.org")])
    s["binding-request-unknown-required"] = message(
        BINDING, REQUEST, [attr(0x7777, b"\x01\x02\x03"), attr(0xC001, b"optional")], fingerprint=True)
    s["binding-request-duplicates"] = message(
        BINDING, REQUEST, [attr(SOFTWARE, b"a"), attr(SOFTWARE, b"bb"), attr(PRIORITY, b"\0\0\0\1")])
    s["binding-request-5780"] = message(
        BINDING, REQUEST, [attr(CHANGE_REQUEST, struct.pack("!I", 2)), attr(RESPONSE_PORT, struct.pack("!HH", 40000, 0)),
                           attr(PADDING, b"\0" * 12)], fingerprint=True)
    # ICE connectivity check (RFC 8445 §7.1), both integrity attributes and FINGERPRINT.
    s["ice-check"] = message(
        BINDING, REQUEST, [attr(USERNAME, b"evtj:h6vY"), attr(PRIORITY, struct.pack("!I", 0x6E0001FF)),
                           attr(USE_CANDIDATE, b""), attr(ICE_CONTROLLING, bytes.fromhex("932ff9b151263b36"))],
        integrity=KEY, integrity256=KEY, fingerprint=True)
    s["ice-check-controlled-sha256"] = message(
        BINDING, REQUEST, [attr(USERNAME, b"a:b"), attr(ICE_CONTROLLED, bytes(8))],
        integrity256=KEY, fingerprint=True)
    # Long-term credentials (RFC 8489 §9.2), USERHASH and password algorithms.
    long_key = hashlib.md5(b"user:example.org:pass").digest()
    s["allocate-long-term"] = message(
        ALLOCATE, REQUEST, [attr(REQUESTED_TRANSPORT, bytes([17, 0, 0, 0])), attr(LIFETIME, struct.pack("!I", 600)),
                            attr(DONT_FRAGMENT, b""), attr(EVEN_PORT, b"\x80"),
                            attr(REQUESTED_ADDRESS_FAMILY, bytes([2, 0, 0, 0])),
                            attr(ADDITIONAL_ADDRESS_FAMILY, bytes([2, 0, 0, 0])),
                            attr(USERNAME, b"user"), attr(REALM, b"example.org"),
                            attr(NONCE, b"obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA"),
                            attr(PASSWORD_ALGORITHMS, struct.pack("!HH", 2, 0) + struct.pack("!HH", 1, 0)
                                 + struct.pack("!HH", 9, 3) + b"abc\0"),
                            attr(PASSWORD_ALGORITHM, struct.pack("!HH", 2, 0)),
                            attr(USERHASH, hashlib.sha256(b"user:example.org").digest())],
        integrity=long_key, fingerprint=True)
    s["allocate-success"] = message(
        ALLOCATE, SUCCESS, [attr(XOR_RELAYED_ADDRESS, xor_address("192.0.2.15", 50000)),
                            attr(XOR_RELAYED_ADDRESS, xor_address("2001:db8::15", 50000)),
                            attr(XOR_MAPPED_ADDRESS, xor_address("192.0.2.1", 32853)),
                            attr(LIFETIME, struct.pack("!I", 1200)), attr(RESERVATION_TOKEN, bytes(range(8))),
                            attr(ADDRESS_ERROR_CODE, error_code(440, "Address Family not Supported", family=2))])
    s["allocate-error-401"] = message(
        ALLOCATE, ERROR, [attr(ERROR_CODE, error_code(401, "Unauthorized")), attr(REALM, b"example.org"),
                          attr(NONCE, b"nonce"), attr(PASSWORD_ALGORITHMS, struct.pack("!HHHH", 1, 0, 2, 0))])
    s["refresh-request"] = message(REFRESH, REQUEST, [attr(LIFETIME, bytes(4))], integrity=KEY)
    s["send-indication-v6"] = message(
        SEND, INDICATION, [attr(XOR_PEER_ADDRESS, xor_address("2001:db8::2", 9000)), attr(DATA, b"hello, peer")])
    s["data-indication-icmp"] = message(
        DATA_M, INDICATION, [attr(XOR_PEER_ADDRESS, xor_address("192.0.2.2", 9000)),
                             attr(ICMP, struct.pack("!HHI", 0, (3 << 7) | 4, 1400)), attr(DATA, b"")])
    s["create-permission"] = message(
        CREATE_PERMISSION, REQUEST, [attr(XOR_PEER_ADDRESS, xor_address("192.0.2.2", 0)),
                                     attr(XOR_PEER_ADDRESS, xor_address("192.0.2.3", 0))], integrity=KEY)
    s["channel-bind"] = message(
        CHANNEL_BIND, REQUEST, [attr(CHANNEL_NUMBER, struct.pack("!HH", 0x4001, 0)),
                                attr(XOR_PEER_ADDRESS, xor_address("192.0.2.2", 9000))], integrity=KEY)

    s["channel-data"] = channel_data(0x4001, b"hello", padded=False)
    s["channel-data-padded"] = channel_data(0x4FFF, b"hello", padded=True)
    s["channel-data-empty"] = channel_data(0x4000, b"", padded=False)
    # A TCP stream: STUN, padded ChannelData, STUN.
    s["stream-mixed"] = (s["binding-request"] + channel_data(0x4001, b"abcdefg", padded=True)
                         + s["binding-success-v6"])
    return s


def main() -> None:
    SEEDS.mkdir(exist_ok=True)
    for name, data in seeds().items():
        (SEEDS / name).write_bytes(data)
    print(f"wrote {len(seeds())} seeds to {SEEDS}")


if __name__ == "__main__":
    main()
