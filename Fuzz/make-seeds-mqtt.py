#!/usr/bin/env python3
"""Writes the seed corpus for the FuzzMQTT target into Fuzz/seeds-mqtt/ (one stream per file).

Packets of every type in MQTT 3.1.1 and 5.0, with every property, in their short and long forms;
whole sessions (CONNECT first, as a server-side decoder needs); and sessions captured between
paho-mqtt 2.2.0 / mosquitto_pub and a mosquitto 2.0.11 broker. Standard library only. Run from
anywhere:
    python3 Fuzz/make-seeds-mqtt.py
"""

from __future__ import annotations

import pathlib
import struct

SEEDS = pathlib.Path(__file__).resolve().parent / "seeds-mqtt"


def vbi(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def b(raw: bytes) -> bytes:
    return struct.pack("!H", len(raw)) + raw


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + vbi(len(body)) + body


def props(*items: bytes) -> bytes:
    body = b"".join(items)
    return vbi(len(body)) + body


# MQTT 5.0 §2.2.2.2 properties, one helper per value type.
def p_byte(i: int, v: int) -> bytes: return bytes([i, v])
def p_u16(i: int, v: int) -> bytes: return bytes([i]) + struct.pack("!H", v)
def p_u32(i: int, v: int) -> bytes: return bytes([i]) + struct.pack("!I", v)
def p_str(i: int, v: str) -> bytes: return bytes([i]) + s(v)
def p_bin(i: int, v: bytes) -> bytes: return bytes([i]) + b(v)
def p_vbi(i: int, v: int) -> bytes: return bytes([i]) + vbi(v)
def p_user(k: str, v: str) -> bytes: return bytes([0x26]) + s(k) + s(v)


PUBLISH_PROPS = props(p_byte(0x01, 1), p_u32(0x02, 60), p_str(0x03, "application/json"), p_str(0x08, "reply/to"),
                      p_bin(0x09, b"\x01\x02"), p_vbi(0x0B, 7), p_vbi(0x0B, 16384), p_u16(0x23, 3),
                      p_user("k", "v"), p_user("k", "w"))
WILL_PROPS = props(p_byte(0x01, 0), p_u32(0x02, 10), p_str(0x03, "text/plain"), p_str(0x08, "r"), p_bin(0x09, b"c"),
                   p_u32(0x18, 5), p_user("w", "1"))
CONNECT_PROPS = props(p_u32(0x11, 3600), p_str(0x15, "SCRAM-SHA-256"), p_bin(0x16, b"\x00\x01"), p_byte(0x17, 0),
                      p_byte(0x19, 1), p_u16(0x21, 20), p_u16(0x22, 10), p_user("app", "pod-arcade"),
                      p_u32(0x27, 1 << 20))
CONNACK_PROPS = props(p_u32(0x11, 0), p_str(0x12, "auto-1"), p_u16(0x13, 30), p_str(0x15, "SCRAM-SHA-256"),
                      p_bin(0x16, b"x"), p_str(0x1A, "resp/"), p_str(0x1C, "other:1883"), p_str(0x1F, "ok"),
                      p_u16(0x21, 10), p_u16(0x22, 5), p_byte(0x24, 1), p_byte(0x25, 0), p_user("a", "b"),
                      p_u32(0x27, 65536), p_byte(0x28, 1), p_byte(0x29, 0), p_byte(0x2A, 1))
REASON_PROPS = props(p_str(0x1F, "because"), p_user("k", "v"))


def connect(level: int, flags: int, rest: bytes) -> bytes:
    return packet(0x10, s("MQTT") + bytes([level, flags, 0x00, 0x3C]) + rest)


v3 = {
    "connect": connect(4, 0x02, s("abc")),
    "connect-full": connect(4, 0xEE, s("desktop-1") + s("desktops/1/status") + b(b"offline") + s("user") + b(b"pw")),
    "connack": packet(0x20, b"\x01\x00"),
    "connack-refused": packet(0x20, b"\x00\x05"),
    "publish-qos0": packet(0x30, s("a/b") + b"hello"),
    "publish-qos1": packet(0x3B, s("a/b") + b"\x00\x0a" + b"hello"),
    "publish-qos2": packet(0x34, s("signal/offer") + b"\xff\xff" + b'{"sdp":"v=0"}'),
    "puback": packet(0x40, b"\x00\x0a"),
    "pubrec": packet(0x50, b"\x00\x0a"),
    "pubrel": packet(0x62, b"\x00\x0a"),
    "pubcomp": packet(0x70, b"\x00\x0a"),
    "subscribe": packet(0x82, b"\x00\x0a" + s("a/+/c") + b"\x01" + s("#") + b"\x02"),
    "suback": packet(0x90, b"\x00\x0a\x00\x01\x02\x80"),
    "unsubscribe": packet(0xA2, b"\x00\x0a" + s("a/+/c") + s("#")),
    "unsuback": packet(0xB0, b"\x00\x0a"),
    "pingreq": packet(0xC0, b""),
    "pingresp": packet(0xD0, b""),
    "disconnect": packet(0xE0, b""),
}

v5 = {
    "connect": connect(5, 0x02, props() + s("abc")),
    "connect-full": connect(5, 0xEE, CONNECT_PROPS + s("desktop-1") + WILL_PROPS + s("desktops/1/status")
                            + b(b"offline") + s("user") + b(b"pw")),
    "connect-password-only": connect(5, 0x42, props() + s("c") + b(b"pw")),
    "connack": packet(0x20, b"\x00\x00" + props()),
    "connack-full": packet(0x20, b"\x01\x00" + CONNACK_PROPS),
    "connack-refused": packet(0x20, b"\x00\x87" + props(p_str(0x1F, "no"))),
    "publish-qos0": packet(0x30, s("a/b") + props() + b"hello"),
    "publish-qos1-full": packet(0x3B, s("a/b") + b"\x00\x0a" + PUBLISH_PROPS + b"hello"),
    "publish-alias": packet(0x34, s("") + b"\x00\x01" + props(p_u16(0x23, 1)) + b"x"),
    "puback-short": packet(0x40, b"\x00\x0a"),
    "puback-code": packet(0x40, b"\x00\x0a\x10"),
    "puback-full": packet(0x40, b"\x00\x0a\x87" + REASON_PROPS),
    "pubrec-full": packet(0x50, b"\x00\x0a\x97" + REASON_PROPS),
    "pubrel-code": packet(0x62, b"\x00\x0a\x92"),
    "pubcomp-long": packet(0x70, b"\x00\x0a\x00\x00"),
    "subscribe": packet(0x82, b"\x00\x0a" + props(p_vbi(0x0B, 42), p_user("k", "v")) + s("a/+/c") + b"\x2d"
                        + s("$share/g/#") + b"\x12"),
    "suback": packet(0x90, b"\x00\x0a" + REASON_PROPS + b"\x00\x01\x02\x80\x83\x87\x8f\x91\x97\x9e\xa1\xa2"),
    "unsubscribe": packet(0xA2, b"\x00\x0a" + props(p_user("k", "v")) + s("a/+/c") + s("#")),
    "unsuback": packet(0xB0, b"\x00\x0a" + REASON_PROPS + b"\x00\x11\x80\x83\x87\x8f\x91"),
    "pingreq": packet(0xC0, b""),
    "pingresp": packet(0xD0, b""),
    "disconnect-short": packet(0xE0, b""),
    "disconnect-code": packet(0xE0, b"\x8e"),
    "disconnect-full": packet(0xE0, b"\x9c" + props(p_u32(0x11, 0), p_str(0x1C, "other:1883"), p_str(0x1F, "moved"),
                                                     p_user("k", "v"))),
    "auth-short": packet(0xF0, b""),
    "auth-full": packet(0xF0, b"\x18" + props(p_str(0x15, "SCRAM-SHA-256"), p_bin(0x16, b"\x01\x02\x03"),
                                               p_str(0x1F, "more"), p_user("k", "v"))),
}

# Sessions captured with a TCP proxy between the clients and mosquitto 2.0.11 (see
# Tests/SignalingMQTTTests/Codec/CodecCapturedPacketTests.swift, which holds the same bytes).
captured = {
    "paho-v5-client": "106f00044d51545405ee001e1d110000003c210010220004260003617070000a706f642d61726361646500067061686f2d351203000a746578742f706c61696e180000000500126465736b746f70732f64312f73746174757300076f66666c696e650005616c696365000673336372337482240001020b2a00087369676e616c2f230a00116465736b746f70732f2b2f737461747573013058000c7369676e616c2f6f666665723c0101020000001e0300106170706c69636174696f6e2f6a736f6e08000c7369676e616c2f7265706c7909000201022600016b0001762600016b0001777b22736470223a22763d30227d335a000c7369676e616c2f6f6666657200033c0101020000001e0300106170706c69636174696f6e2f6a736f6e08000c7369676e616c2f7265706c7909000201022600016b0001762600016b0001777b22736470223a22763d30227d40020001345a000c7369676e616c2f6f6666657200043c0101020000001e0300106170706c69636174696f6e2f6a736f6e08000c7369676e616c2f7265706c7909000201022600016b0001762600016b0001777b22736470223a22763d30227d6202000450020002700200023311000c7369676e616c2f6f6666657200050040020003a22000060000087369676e616c2f2300116465736b746f70732f2b2f737461747573c000e00700051100000000",
    "paho-v5-broker": "200900000622000a21001490050001000201305a000c7369676e616c2f6f666665723e0b2a01010300106170706c69636174696f6e2f6a736f6e08000c7369676e616c2f7265706c7909000201022600016b0001762600016b000177020000001e7b22736470223a22763d30227d335c000c7369676e616c2f6f6666657200013e0b2a01010300106170706c69636174696f6e2f6a736f6e08000c7369676e616c2f7265706c7909000201022600016b0001762600016b000177020000001e7b22736470223a22763d30227d4002000350020004345c000c7369676e616c2f6f6666657200023e0b2a01010300106170706c69636174696f6e2f6a736f6e08000c7369676e616c2f7265706c7909000201022600016b0001762600016b000177020000001e7b22736470223a22763d30227d70020004620200023313000c7369676e616c2f6f666665720003020b2a40020005b0050006000000d000",
    "paho-v3-client": "103e00044d51545404ee001e00067061686f2d3400126465736b746f70732f64312f73746174757300076f66666c696e650005616c69636500067333637233748221000100087369676e616c2f230200116465736b746f70732f2b2f73746174757301301b000c7369676e616c2f6f666665727b22736470223a22763d30227d331d000c7369676e616c2f6f6666657200037b22736470223a22763d30227d40020001341d000c7369676e616c2f6f6666657200047b22736470223a22763d30227d6202000450020002700200023310000c7369676e616c2f6f66666572000540020003a21f000600087369676e616c2f2300116465736b746f70732f2b2f737461747573c000e000",
    "paho-v3-broker": "20020000900400010201301b000c7369676e616c2f6f666665727b22736470223a22763d30227d321d000c7369676e616c2f6f6666657200017b22736470223a22763d30227d4002000350020004341d000c7369676e616c2f6f6666657200027b22736470223a22763d30227d70020004620200023210000c7369676e616c2f6f66666572000340020005b0020006d000",
    "mosquitto-pub-v5-client": "101000044d5154540502003c032100140000321b000a7369676e616c2f636c690001072600016100016268656c6c6fe000",
    "mosquitto-pub-v5-broker": "203500003222000a1200296175746f2d38414631373641452d324438412d303246342d444541442d3942353446394336413544312100144003000110",
    "mosquitto-pub-v3-client": "100c00044d5154540402003c00003413000a7369676e616c2f636c69000168656c6c6f62020001e000",
    "mosquitto-pub-v3-broker": "200200005002000170020001",
}


def main() -> None:
    SEEDS.mkdir(exist_ok=True)
    for old in SEEDS.iterdir():
        old.unlink()
    seeds: dict[str, bytes] = {}
    for name, data in v3.items():
        seeds[f"v3-{name}"] = data
    for name, data in v5.items():
        seeds[f"v5-{name}"] = data
    # Whole sessions: a server-side decoder (version unknown) needs CONNECT first.
    seeds["v3-session"] = v3["connect-full"] + b"".join(d for n, d in v3.items() if not n.startswith("connect"))
    seeds["v5-session"] = v5["connect-full"] + b"".join(d for n, d in v5.items() if not n.startswith("connect"))
    for name, text in captured.items():
        seeds[f"captured-{name}"] = bytes.fromhex(text)
    # Boundaries: remaining lengths 127/128, a 4-byte remaining length announcing more than arrives.
    seeds["v3-publish-127"] = packet(0x30, s("t") + b"\xa5" * 124)
    seeds["v3-publish-128"] = packet(0x30, s("t") + b"\xa5" * 125)
    seeds["v5-header-4-byte-length"] = b"\x30\xff\xff\xff\x7f" + s("t")
    for name, data in sorted(seeds.items()):
        (SEEDS / name).write_bytes(data)
    print(f"wrote {len(seeds)} seeds to {SEEDS}")


if __name__ == "__main__":
    main()
