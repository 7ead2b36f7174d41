"""A Pod Arcade desktop stand-in written with aiortc, for the web client tests.

It speaks protocol.md as a desktop does:

- MQTT 3.1.1 over TCP as client id ``desktop:<id>``, user name the id, password
  ``DESKTOP_PSK`` (environment) when set; will ``desktops/<id>/status`` = ``offline``
  (retained); publishes ``online`` (retained) and ``[]`` on ``desktops/<id>/ice-servers``.
- Answers each ``webrtc-offer`` of ``desktops/<id>/sessions/<sid>/``: a generated test
  pattern video track (H.264 preferred) and a 440 Hz tone, the pre-negotiated data channel
  ``input`` (id 0), and every local candidate also trickled on ``answer-ice-candidate``.
  Browser candidates from ``offer-ice-candidate`` are added as they come.
- Records what happens as JSON lines in ``--record``: ``online``, ``offer``, ``answer``,
  ``state`` (connection state), ``input`` (hex of every data channel message) and
  ``session-status`` (what the browser published). With ``--rumble`` it answers each
  keyboard press with a rumble message (0x05) for pad 0, so tests see the desktop-to-browser
  direction too.

Loopback only: aiortc skips 127.0.0.1 when gathering (real-peers.md), so the stand-in
gathers on 127.0.0.1 alone, and drops browser candidates that are not loopback addresses.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import ipaddress
import json
import math
import os
import re
import signal
import struct
import sys
import threading
import time
from typing import Any

import aioice.ice
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import AUDIO_PTIME, VIDEO_CLOCK_RATE, MediaStreamError
from aiortc.sdp import candidate_from_sdp

import av
import numpy


def _loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


aioice.ice.get_host_addresses = _loopback_only

_request_received = aioice.ice.Connection.request_received


def _loopback_requests_only(self: aioice.ice.Connection, message: Any, addr: tuple[str, int], protocol: Any) -> None:
    """Ignores connectivity checks from non-loopback sources: the browser may send them
    from another local interface, and answering would teach ICE a peer-reflexive candidate
    on that address."""
    if is_loopback(addr[0]):
        _request_received(self, message, addr, protocol)


aioice.ice.Connection.request_received = _loopback_requests_only

TOPIC = re.compile(r"^desktops/([a-z0-9-]+)/sessions/([A-Za-z0-9]+)/([a-z-]+)$")


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # an mDNS name or garbage: never contacted here


class TestPatternTrack(MediaStreamTrack):
    """Colour bars with a moving white block, 640x360 at 30 frames per second."""

    kind = "video"

    def __init__(self, width: int = 640, height: int = 360, fps: int = 30) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        colours = numpy.array([
            (235, 235, 235), (235, 235, 16), (16, 235, 235), (16, 235, 16),
            (235, 16, 235), (235, 16, 16), (16, 16, 235), (40, 40, 40),
        ], dtype=numpy.uint8)
        bars = numpy.repeat(colours, math.ceil(width / len(colours)), axis=0)[:width]
        self.base = numpy.repeat(bars[numpy.newaxis, :, :], height, axis=0)
        self.count = 0
        self.start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self.start is None:
            self.start = time.monotonic()
        due = self.start + self.count / self.fps
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        image = self.base.copy()
        x = (self.count * 8) % (self.width - 64)
        image[self.height // 2 - 32:self.height // 2 + 32, x:x + 64] = 255
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = int(self.count * VIDEO_CLOCK_RATE / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK_RATE)
        self.count += 1
        return frame


class ToneTrack(MediaStreamTrack):
    """A 440 Hz sine, 48 kHz stereo, 20 ms frames."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0, rate: int = 48000) -> None:
        super().__init__()
        self.frequency, self.rate = frequency, rate
        self.samples = int(AUDIO_PTIME * rate)
        self.sent = 0
        self.start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self.start is None:
            self.start = time.monotonic()
        delay = self.start + self.sent / self.rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t = (numpy.arange(self.samples) + self.sent) / self.rate
        mono = (numpy.sin(2 * math.pi * self.frequency * t) * 3000).astype(numpy.int16)
        stereo = numpy.repeat(mono, 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
        frame.sample_rate = self.rate
        frame.pts = self.sent
        frame.time_base = fractions.Fraction(1, self.rate)
        self.sent += self.samples
        return frame


class Session:
    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.pc: RTCPeerConnection | None = None
        self.pending: list[dict[str, Any]] = []
        self.answered = False


class StandIn:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.id = args.id
        self.loop = asyncio.get_running_loop()
        self.sessions: dict[str, Session] = {}
        self.record_lock = threading.Lock()
        self.connected = asyncio.Event()
        self.stopping = asyncio.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"desktop:{self.id}",
                                  protocol=mqtt.MQTTv311, clean_session=True)
        psk = os.environ.get("DESKTOP_PSK")
        self.client.username_pw_set(self.id, psk if psk else None)
        self.client.will_set(self.topic("status"), "offline", qos=1, retain=True)
        self.client.on_connect = self.on_connect
        self.client.on_message = self.on_message
        self.client.on_disconnect = self.on_disconnect

    def topic(self, *levels: str) -> str:
        return "/".join(["desktops", self.id, *levels])

    def record(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, "t": time.time(), **fields})
        with self.record_lock, open(self.args.record, "a") as out:
            out.write(line + "\n")
        print(line[:300], flush=True)

    # MQTT callbacks run on paho's thread; everything else runs on the asyncio loop.
    def on_connect(self, client: mqtt.Client, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            print(f"CONNECT refused: {reason}", flush=True)
            self.loop.call_soon_threadsafe(self.stopping.set)
            return
        client.subscribe([(self.topic("sessions", "+", "webrtc-offer"), 1),
                          (self.topic("sessions", "+", "offer-ice-candidate"), 1),
                          (self.topic("sessions", "+", "status"), 1)])
        client.publish(self.topic("ice-servers"), self.args.ice_servers, qos=1, retain=True)
        client.publish(self.topic("status"), "online", qos=1, retain=True).wait_for_publish(5)
        self.record("online")
        self.loop.call_soon_threadsafe(self.connected.set)

    def on_disconnect(self, *_: Any) -> None:
        print("MQTT disconnected", flush=True)

    def on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        match = TOPIC.match(message.topic)
        if not match or match.group(1) != self.id:
            return
        sid, kind = match.group(2), match.group(3)
        payload = bytes(message.payload)
        asyncio.run_coroutine_threadsafe(self.handle(sid, kind, payload, message.retain), self.loop)

    async def handle(self, sid: str, kind: str, payload: bytes, retained: bool) -> None:
        try:
            if kind == "webrtc-offer":
                await self.on_offer(sid, payload.decode())
            elif kind == "offer-ice-candidate":
                await self.on_candidate(sid, json.loads(payload))
            elif kind == "status":
                self.record("session-status", session=sid, status=payload.decode(errors="replace"), retained=retained)
                # "closed" is the browser leaving. "disconnected" may be only its broker
                # connection (the will) while the media still flows: the peer connection's
                # own state decides then.
                if payload == b"closed" and not retained:
                    await self.close_session(sid)
        except Exception as error:  # noqa: BLE001 - one bad message must not stop the desktop
            self.record("error", session=sid, kind=kind, error=repr(error))

    def publish(self, sid: str, kind: str, payload: str) -> None:
        self.client.publish(self.topic("sessions", sid, kind), payload, qos=1)

    async def on_offer(self, sid: str, sdp: str) -> None:
        session = self.sessions.setdefault(sid, Session(sid))
        if session.answered:
            self.record("offer-ignored", session=sid)  # a repeated offer: candidates come by trickle
            return
        session.answered = True
        self.record("offer", session=sid, sdp=sdp)
        sdp = "\r\n".join(
            line for line in sdp.replace("\r\n", "\n").split("\n")
            if not line.startswith("a=candidate:") or is_loopback(line.split()[4])
        )
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        session.pc = pc
        channel = pc.createDataChannel("input", negotiated=True, id=0, ordered=True,
                                       protocol="pod-arcade-input-v1")

        @channel.on("message")
        def on_input(message: bytes | str) -> None:
            data = message.encode() if isinstance(message, str) else bytes(message)
            self.record("input", session=sid, hex=data.hex(), text=isinstance(message, str))
            if self.args.echo:
                channel.send(data)
            if self.args.rumble and len(data) >= 2 and data[0] == 0x01 and data[1] & 1:
                channel.send(struct.pack("<BBfI", 0x05, 0, 0.75, 200))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            self.record("state", session=sid, state=pc.connectionState)
            if pc.connectionState in ("failed", "closed"):
                await self.close_session(sid)

        # Transceivers made before the offer is applied take its m-lines, so the codec
        # preference (H.264 only, as the Swift desktop sends) shapes the answer.
        video = pc.addTransceiver(TestPatternTrack(), direction="sendonly")
        codecs = RTCRtpSender.getCapabilities("video").codecs
        video.setCodecPreferences([c for c in codecs if c.mimeType in ("video/H264", "video/rtx")])
        pc.addTransceiver(ToneTrack(), direction="sendonly")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        for candidate in session.pending:
            await self.add_candidate(pc, candidate)
        session.pending.clear()
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
        local = pc.localDescription.sdp
        self.publish(sid, "webrtc-answer", local)
        self.record("answer", session=sid, sdp=local)
        self.trickle(sid, local)

    def trickle(self, sid: str, sdp: str) -> None:
        """Publishes every candidate of the answer on answer-ice-candidate (aiortc gathers
        before it answers, so they are in the SDP too; a desktop that trickles sends them
        this way)."""
        mid: str | None = None
        index = -1
        ufrag: str | None = None
        for line in sdp.replace("\r\n", "\n").split("\n"):
            if line.startswith("m="):
                index += 1
                mid = None
            elif line.startswith("a=mid:"):
                mid = line[len("a=mid:"):]
            elif line.startswith("a=ice-ufrag:"):
                ufrag = line[len("a=ice-ufrag:"):]
            elif line.startswith("a=candidate:") and index == 0:
                init = {"candidate": line[2:], "sdpMid": mid, "sdpMLineIndex": index, "usernameFragment": ufrag}
                self.publish(sid, "answer-ice-candidate", json.dumps(init))

    async def add_candidate(self, pc: RTCPeerConnection, init: dict[str, Any]) -> None:
        text = init.get("candidate") or ""
        if not text:
            return
        candidate = candidate_from_sdp(text.split(":", 1)[1] if text.startswith("candidate:") else text)
        if not is_loopback(candidate.ip):
            return
        candidate.sdpMid = init.get("sdpMid")
        candidate.sdpMLineIndex = init.get("sdpMLineIndex")
        await pc.addIceCandidate(candidate)

    async def on_candidate(self, sid: str, init: dict[str, Any]) -> None:
        session = self.sessions.setdefault(sid, Session(sid))
        self.record("offer-candidate", session=sid, candidate=init.get("candidate"))
        if session.pc is None or session.pc.remoteDescription is None:
            session.pending.append(init)
            return
        await self.add_candidate(session.pc, init)

    async def close_session(self, sid: str) -> None:
        session = self.sessions.pop(sid, None)
        if session and session.pc:
            await session.pc.close()

    async def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, self.stopping.set)
        self.client.connect(self.args.host, self.args.port, keepalive=30)
        self.client.loop_start()
        await self.stopping.wait()
        for sid in list(self.sessions):
            await self.close_session(sid)
        if self.client.is_connected():
            self.client.publish(self.topic("status"), "offline", qos=1, retain=True).wait_for_publish(2)
            self.client.disconnect()
        self.client.loop_stop()
        return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="MQTT over TCP")
    parser.add_argument("--id", required=True, help="desktop id ([a-z0-9-]+)")
    parser.add_argument("--record", required=True, help="JSON lines file for what happens")
    parser.add_argument("--echo", action="store_true", help="send every input message back")
    parser.add_argument("--rumble", action="store_true", help="answer key presses with a 0x05 rumble")
    parser.add_argument("--ice-servers", default="[]", help="JSON published on desktops/<id>/ice-servers")
    args = parser.parse_args(argv)
    if not is_loopback(socket_address(args.host)):
        parser.error("--host must be a loopback address")

    async def go() -> int:
        return await StandIn(args).run()

    return asyncio.run(go())


def socket_address(host: str) -> str:
    return "127.0.0.1" if host == "localhost" else host


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
