"""The test harness's own STUN codec, checked before it judges the server."""

from __future__ import annotations

import struct

import pytest

import stunwire

# RFC 5769 section 2.2: sample IPv4 response (SOFTWARE, XOR-MAPPED-ADDRESS,
# MESSAGE-INTEGRITY, FINGERPRINT).
RFC5769_IPV4_RESPONSE = bytes.fromhex(
    "0101003c2112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000080001a147e112a643"
    "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
    "80280004c07d4c96"
)

# RFC 5769 section 2.3: sample IPv6 response.
RFC5769_IPV6_RESPONSE = bytes.fromhex(
    "010100482112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9"
    "00080014a382954e4be67bf11784c97c8292c275bfe3ed41"
    "80280004c8fb0b4c"
)


@pytest.mark.parametrize(
    "data, address",
    [
        (RFC5769_IPV4_RESPONSE, ("192.0.2.1", 32853)),
        (RFC5769_IPV6_RESPONSE, ("2001:db8:1234:5678:11:2233:4455:6677", 32853)),
    ],
    ids=["ipv4", "ipv6"],
)
def test_rfc5769_sample_responses_decode(data: bytes, address: tuple[str, int]) -> None:
    message = stunwire.decode_message(data)
    assert (message.method, message.message_class) == (stunwire.METHOD_BINDING, stunwire.CLASS_SUCCESS)
    assert message.transaction_id == bytes.fromhex("b7e7a701bc34d686fa87dfae")
    assert message.xor_mapped_address() == address
    assert message.software() == "test vector"
    assert message.fingerprint_valid is True


def test_a_corrupted_fingerprint_is_reported_invalid() -> None:
    data = bytearray(RFC5769_IPV4_RESPONSE)
    data[-1] ^= 0x01
    assert stunwire.decode_message(bytes(data)).fingerprint_valid is False


@pytest.mark.parametrize(
    "method, message_class", [(0x001, 0), (0x001, 1), (0x001, 2), (0x001, 3), (0xFFF, 3), (0x0A5, 2)]
)
def test_message_type_round_trips(method: int, message_class: int) -> None:
    value = stunwire.message_type(method, message_class)
    assert value & 0xC000 == 0
    assert stunwire.split_message_type(value) == (method, message_class)


def test_binding_request_type_and_error_response_type_match_rfc_8489() -> None:
    # RFC 8489 section 5: Binding request 0x0001, success 0x0101, error 0x0111.
    assert stunwire.message_type(stunwire.METHOD_BINDING, stunwire.CLASS_REQUEST) == 0x0001
    assert stunwire.message_type(stunwire.METHOD_BINDING, stunwire.CLASS_SUCCESS) == 0x0101
    assert stunwire.message_type(stunwire.METHOD_BINDING, stunwire.CLASS_ERROR) == 0x0111


@pytest.mark.parametrize("host", ["203.0.113.9", "2001:db8::42"])
def test_xor_address_round_trips(host: str) -> None:
    transaction_id = stunwire.new_transaction_id()
    value = stunwire.encode_xor_address(host, 4242, transaction_id)
    assert stunwire.decode_xor_address(value, transaction_id) == (host, 4242)


def test_encoded_request_with_fingerprint_is_accepted_by_aioice(aioice_stun) -> None:
    data = stunwire.binding_request(attributes=[(stunwire.ATTR_SOFTWARE, b"interop")], fingerprint=True)
    assert stunwire.decode_message(data).fingerprint_valid is True
    # aioice.stun.parse_message raises ValueError when FINGERPRINT is wrong.
    parsed = aioice_stun.parse_message(data)
    assert parsed.attributes["SOFTWARE"] == "interop"
    assert parsed.transaction_id == data[8:20]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes(19),
        bytes.fromhex("0001000c2112a442") + bytes(12) + bytes(8),  # length says 12, 8 follow
        bytes.fromhex("000100042112a442") + bytes(12) + struct.pack("!HH", 0x8022, 100),  # attribute past end
        bytes.fromhex("000100002112a443") + bytes(12),  # wrong cookie
        bytes.fromhex("c00100002112a442") + bytes(12),  # top bits set
        bytes.fromhex("000100022112a442") + bytes(12) + b"\x00\x00",  # length not a multiple of 4
    ],
    ids=["empty", "short-header", "length-mismatch", "attribute-past-end", "cookie", "top-bits", "unaligned"],
)
def test_malformed_messages_are_rejected(data: bytes) -> None:
    with pytest.raises(ValueError):
        stunwire.decode_message(data)
