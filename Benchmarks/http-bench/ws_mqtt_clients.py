#!/usr/bin/env python3
"""Idle MQTT-over-WebSocket clients for Benchmarks/http-bench.sh (issue 7).

Opens --clients connections to ws://HOST:PORT/mqtt, each with its own
WebSocket handshake (RFC 6455 section 4.1, subprotocol "mqtt" as MQTT 3.1.1
section 6 asks) and one MQTT 3.1.1 CONNECT (client id "user:bench-<n>",
clean session, keep-alive --keepalive) in one masked binary frame (RFC 6455
section 5.3: client frames are masked). A client counts as connected only if
the server answered 101 with Sec-WebSocket-Protocol: mqtt and the right
Sec-WebSocket-Accept, then sent a binary frame holding CONNACK with return
code 0 (MQTT 3.1.1 section 3.2.2.3). With --subscribe each client then
subscribes to desktops/+/status at QoS 1, as the web client's desktop list
does, and must get a SUBACK granting QoS 0 or 1. --stage stops each
connection earlier (TCP only, one /healthz keep-alive request, or the
WebSocket upgrade without MQTT), to see what each layer costs.

At most --batch handshakes are in progress at once. With --pid the tool
reads that process's VmRSS from /proc/PID/status before the first
connection, --settle seconds after the last CONNACK ("with"), and at the end
of the --hold ("held"); it then checks that every connection is still open
(no close frame, no EOF), closes them all with an MQTT DISCONNECT and a
WebSocket close, and prints one JSON object (with --json) or a summary.

Only loopback targets are accepted. Exit status: 0 all clients connected and
stayed, 1 some did not (the JSON says how many), 2 bad arguments.
"""

import argparse
import asyncio
import base64
import hashlib
import ipaddress
import json
import os
import resource
import struct
import sys
import time

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3


def vmrss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def mqtt_string(text):
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def remaining_length(n):
    """MQTT 3.1.1 section 2.2.3 variable-length integer."""
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(client_id, keepalive):
    # MQTT 3.1.1 section 3.1: protocol name "MQTT", level 4, flags: clean session.
    variable = mqtt_string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", keepalive)
    payload = mqtt_string(client_id)
    body = variable + payload
    return bytes([0x10]) + remaining_length(len(body)) + body


def subscribe_packet(packet_id, topic_filter, qos):
    # MQTT 3.1.1 section 3.8: fixed header flags 0b0010.
    body = struct.pack("!H", packet_id) + mqtt_string(topic_filter) + bytes([qos])
    return bytes([0x82]) + remaining_length(len(body)) + body


DISCONNECT = bytes([0xE0, 0x00])


def ws_frame(opcode, payload):
    """One masked, final client frame (RFC 6455 section 5.2)."""
    head = bytearray([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head.append(0x80 | n)
    elif n < 65536:
        head.append(0x80 | 126)
        head += struct.pack("!H", n)
    else:
        head.append(0x80 | 127)
        head += struct.pack("!Q", n)
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes(head) + mask + masked


async def read_ws_frame(reader):
    """Reads one server frame; returns (opcode, payload). Server frames are unmasked."""
    b0, b1 = await reader.readexactly(2)
    opcode = b0 & 0x0F
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    mask = await reader.readexactly(4) if b1 & 0x80 else None
    payload = await reader.readexactly(n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, payload


class MQTTStream:
    """MQTT packets from the binary WebSocket messages of one connection."""

    def __init__(self, reader):
        self.reader = reader
        self.buffer = b""

    async def packet(self):
        while True:
            parsed = self._parse()
            if parsed is not None:
                return parsed
            opcode, payload = await read_ws_frame(self.reader)
            if opcode == 0x8:
                raise ConnectionError("close frame from the server")
            if opcode in (0x2, 0x0):
                self.buffer += payload
            elif opcode in (0x9, 0xA):
                continue  # ping/pong: none expected (the server sends no pings)
            else:
                raise ConnectionError(f"unexpected WebSocket opcode {opcode}")

    def _parse(self):
        if len(self.buffer) < 2:
            return None
        length, multiplier, i = 0, 1, 1
        while True:
            if i >= len(self.buffer):
                return None
            byte = self.buffer[i]
            length += (byte & 0x7F) * multiplier
            multiplier *= 128
            i += 1
            if not byte & 0x80:
                break
            if i > 4:
                raise ConnectionError("malformed remaining length")
        if len(self.buffer) < i + length:
            return None
        header, body = self.buffer[0], self.buffer[i:i + length]
        self.buffer = self.buffer[i + length:]
        return header, body


class Client:
    def __init__(self, index, stage):
        self.index = index
        self.stage = stage
        self.reader = None
        self.writer = None
        self.closed_by_server = False
        self.error = None

    async def open(self, host, port, keepalive, subscribe, timeout, stage="connect"):
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), timeout)
        hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if stage == "tcp":
            return
        if stage == "http":
            # One keep-alive request, then the connection stays open and idle.
            self.writer.write(f"GET /healthz HTTP/1.1\r\nHost: {hostport}\r\n\r\n".encode())
            head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
            if not head.startswith(b"HTTP/1.1 200"):
                raise ConnectionError(f"/healthz answered {head.splitlines()[0]!r}")
            await asyncio.wait_for(self.reader.readuntil(b"ok\n"), timeout)
            return
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            "GET /mqtt HTTP/1.1\r\n"
            f"Host: {hostport}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: mqtt\r\n"
            "\r\n")
        self.writer.write(request.encode())
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.decode("latin-1").split("\r\n")
        if not lines[0].startswith("HTTP/1.1 101"):
            raise ConnectionError(f"handshake answered {lines[0]!r}")
        fields = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                fields[name.strip().lower()] = value.strip()
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
        if fields.get("sec-websocket-accept") != accept:
            raise ConnectionError("wrong Sec-WebSocket-Accept")
        if fields.get("sec-websocket-protocol", "").lower() != "mqtt":
            raise ConnectionError("server did not select subprotocol mqtt")
        self.mqtt = MQTTStream(self.reader)
        if stage == "websocket":
            return
        self.writer.write(ws_frame(0x2, connect_packet(f"user:bench-{self.index}", keepalive)))
        header, body = await asyncio.wait_for(self.mqtt.packet(), timeout)
        if header != 0x20 or len(body) != 2:
            raise ConnectionError(f"expected CONNACK, got packet type {header >> 4}")
        if body[1] != 0:
            raise ConnectionError(f"CONNACK return code {body[1]}")
        if subscribe:
            self.writer.write(ws_frame(0x2, subscribe_packet(1, "desktops/+/status", 1)))
            while True:
                header, body = await asyncio.wait_for(self.mqtt.packet(), timeout)
                if header >> 4 == 3:
                    continue  # a retained status, if a desktop is online
                if header != 0x90 or body[:2] != b"\x00\x01" or len(body) != 3 or body[2] > 1:
                    raise ConnectionError(f"bad SUBACK {header:#x} {body.hex()}")
                break

    async def watch(self):
        """Reads until the server closes; nothing should arrive while idle."""
        try:
            if self.stage in ("tcp", "http"):
                if await self.reader.read(1) == b"":
                    raise ConnectionError("EOF")
                raise ConnectionError("unexpected bytes on an idle connection")
            while True:
                header, _ = await self.mqtt.packet()
                if header >> 4 == 3:
                    continue
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            self.closed_by_server = True

    async def close(self):
        if self.stage in ("tcp", "http"):
            self.writer.close()
            return
        try:
            if self.stage == "connect":
                self.writer.write(ws_frame(0x2, DISCONNECT))
            self.writer.write(ws_frame(0x8, struct.pack("!H", 1000)))
            await self.writer.drain()
        except (ConnectionError, OSError):
            pass
        self.writer.close()


async def run(args):
    pid = args.pid
    result = {"mode": "ws-idle", "stage": args.stage, "clients": args.clients}
    if pid:
        result["rss_before_kb"] = vmrss_kb(pid)
    clients = [Client(i, args.stage) for i in range(args.clients)]
    gate = asyncio.Semaphore(args.batch)
    errors = {}

    async def open_one(client):
        async with gate:
            try:
                await client.open(args.host, args.port, args.keepalive, args.subscribe,
                                  args.timeout, args.stage)
            except (ConnectionError, OSError, asyncio.TimeoutError,
                    asyncio.IncompleteReadError, UnicodeDecodeError) as error:
                client.error = f"{type(error).__name__}: {error}"
                errors[client.error] = errors.get(client.error, 0) + 1
                if client.writer:
                    client.writer.close()

    start = time.monotonic()
    await asyncio.gather(*(open_one(c) for c in clients))
    elapsed = time.monotonic() - start
    good = [c for c in clients if c.error is None]
    result["connected"] = len(good)
    result["connect_seconds"] = round(elapsed, 3)
    result["connects_per_s"] = round(len(good) / elapsed) if elapsed > 0 else 0
    watchers = [asyncio.create_task(c.watch()) for c in good]
    await asyncio.sleep(args.settle)
    if pid:
        result["rss_with_kb"] = vmrss_kb(pid)
    await asyncio.sleep(max(0.0, args.hold - args.settle))
    if pid:
        result["rss_held_kb"] = vmrss_kb(pid)
    still = [c for c in good if not c.closed_by_server]
    result["still_connected"] = len(still)
    for task in watchers:
        task.cancel()
    await asyncio.gather(*watchers, return_exceptions=True)
    await asyncio.gather(*(c.close() for c in good), return_exceptions=True)
    if pid:
        await asyncio.sleep(args.settle)
        result["rss_after_close_kb"] = vmrss_kb(pid)
        if good:
            result["bytes_per_conn"] = round(
                (result["rss_held_kb"] - result["rss_before_kb"]) * 1024 / args.clients)
    if errors:
        result["errors"] = errors
    result["tool_cpu_s"] = round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 2)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100, help="handshakes in progress at once")
    parser.add_argument("--keepalive", type=int, default=60, help="MQTT keep-alive seconds")
    parser.add_argument("--hold", type=float, default=5.0, help="seconds connected, from the last CONNACK")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds before the 'with' reading")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-step timeout, seconds")
    parser.add_argument("--subscribe", action="store_true", help="subscribe to desktops/+/status like the page")
    parser.add_argument("--stage", choices=["tcp", "http", "websocket", "connect"], default="connect",
                        help="how far each connection goes (diagnosis): TCP only, one HTTP/1.1 "
                             "keep-alive request, the WebSocket upgrade, or MQTT CONNECT (default)")
    parser.add_argument("--pid", type=int, help="process whose VmRSS to read")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        if not ipaddress.ip_address(args.host).is_loopback:
            raise ValueError
    except ValueError:
        print(f"--host must be a loopback address, not {args.host}", file=sys.stderr)
        return 2
    if args.clients < 1 or args.batch < 1 or args.hold < args.settle:
        print("need --clients >= 1, --batch >= 1, --hold >= --settle", file=sys.stderr)
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.clients + 256
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            print(f"open files limit {hard} < {need}: raise ulimit -Hn", file=sys.stderr)
            return 2
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    result = asyncio.run(run(args))
    ok = result["connected"] == args.clients and result["still_connected"] == args.clients
    if args.json:
        print(json.dumps(result, separators=(",", ":")))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
