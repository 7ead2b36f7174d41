"""aiortc as the browser stand-in (offerer) or as the reference desktop (answerer), speaking
the same JSON lines on stdin/stdout as our `webrtc-peer` tool, for the media interop tests
and the offer-to-DTLS benchmark.

Offerer (the browser's role, protocol.md "WebRTC session"): recvonly H.264 video, recvonly Opus
audio and the pre-negotiated `input` data channel, all BUNDLEd. It prints
``{"type": "offer", "sdp": ...}`` once gathering is complete, takes ``answer`` and
``candidate`` lines, decodes what arrives and prints ``media`` lines (frames decoded, picture
size, audio samples, the tone's dominant frequency) and ``state`` lines.

Answerer (``--answer``): the desktop's role with aiortc, sending a generated picture and tone;
it prints ``answer`` and a ``dtls`` line when its DTLS transport is connected, with the
milliseconds since the offer arrived (``offer_to_dtls_ms``).

Loopback only: aioice is limited to 127.0.0.1 (aiortc skips loopback when gathering,
real-peers.md), and the ICE server list is explicitly empty.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import math
import sys
import time
from typing import Any

import aioice.ice
import av
import numpy
from aiortc import (MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCRtpSender,
                    RTCSessionDescription)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"] if use_ipv4 else []


def say(**message: Any) -> None:
    message.setdefault("t_ms", round(time.monotonic() * 1000, 3))
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def lines(queue: "asyncio.Queue[dict]") -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            await queue.put({"type": "close"})
            return
        line = line.strip()
        if line:
            await queue.put(json.loads(line))


def prefer_h264(pc: RTCPeerConnection) -> None:
    for transceiver in pc.getTransceivers():
        if transceiver.kind == "video":
            codecs = [c for c in RTCRtpSender.getCapabilities("video").codecs
                      if c.mimeType in ("video/H264", "video/rtx")]
            transceiver.setCodecPreferences(codecs)


class Receiver:
    """Pulls decoded frames from a remote track and keeps counts."""

    def __init__(self) -> None:
        self.frames = 0
        self.size = (0, 0)
        self.samples = 0
        self.audio: list[numpy.ndarray] = []
        self.first_frame_ms: float | None = None

    async def video(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.frames += 1
            self.size = (frame.width, frame.height)
            if self.first_frame_ms is None:
                self.first_frame_ms = time.monotonic() * 1000
                say(type="first-frame", width=frame.width, height=frame.height)

    async def sound(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.samples += frame.samples
            if len(self.audio) < 150:  # three seconds of 20 ms frames
                self.audio.append(frame.to_ndarray().reshape(-1))

    def dominant_frequency(self) -> float:
        if not self.audio:
            return 0.0
        pcm = numpy.concatenate(self.audio[25:]).astype(numpy.float64)  # skip the first 0.5 s
        left = pcm[0::2] if pcm.size % 2 == 0 else pcm
        if left.size < 4800:
            return 0.0
        spectrum = numpy.abs(numpy.fft.rfft(left * numpy.hanning(left.size)))
        return float(numpy.argmax(spectrum) * 48000 / left.size)


async def offerer(args: argparse.Namespace) -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = Receiver()
    if not args.no_video:
        pc.addTransceiver("video", direction="recvonly")
        prefer_h264(pc)
    if not args.no_audio:
        pc.addTransceiver("audio", direction="recvonly")
    channel = pc.createDataChannel("input", negotiated=True, id=0, ordered=True,
                                   protocol="pod-arcade-input-v1")
    tasks: list[asyncio.Task] = []
    if args.dc_check:
        # An in-band channel (DCEP open) beside the negotiated one; both are checked once open.
        chat = pc.createDataChannel("chat", protocol="text")
        tasks.append(asyncio.ensure_future(check_data_channels([channel, chat], args)))

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        tasks.append(asyncio.ensure_future(receiver.video(track) if track.kind == "video"
                                           else receiver.sound(track)))

    @pc.on("connectionstatechange")
    def on_state() -> None:
        say(type="state", state=pc.connectionState)

    @pc.on("iceconnectionstatechange")
    def on_ice_state() -> None:  # Benchmarks/media-offer-bench.py times the offerer's own ICE
        say(type="ice", state=pc.iceConnectionState)

    await pc.setLocalDescription(await pc.createOffer())
    say(type="offer", sdp=pc.localDescription.sdp)
    queue: asyncio.Queue[dict] = asyncio.Queue()
    reader = asyncio.ensure_future(lines(queue))

    async def report() -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                tone_hz = round(receiver.dominant_frequency(), 1)
            except Exception as error:  # reported, never fatal to the peer
                print(f"tone analysis failed: {error!r}", file=sys.stderr)
                tone_hz = 0.0
            say(type="media", frames=receiver.frames, width=receiver.size[0], height=receiver.size[1],
                audio_samples=receiver.samples, tone_hz=tone_hz)

    reporter = asyncio.ensure_future(report())
    try:
        while True:
            message = await queue.get()
            kind = message.get("type")
            if kind == "answer":
                try:
                    await pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type="answer"))
                    say(type="answer-accepted")
                except Exception as error:  # the test asserts on this line
                    say(type="answer-refused", error=f"{type(error).__name__}: {error}")
            elif kind == "candidate" and message.get("candidate"):
                candidate = candidate_from_sdp(message["candidate"].removeprefix("candidate:"))
                candidate.sdpMid = message.get("sdpMid")
                candidate.sdpMLineIndex = message.get("sdpMLineIndex")
                if candidate.ip == "127.0.0.1" or candidate.ip.startswith("127."):
                    await pc.addIceCandidate(candidate)
            elif kind == "close":
                break
    finally:
        reporter.cancel()
        reader.cancel()
        say(type="media", frames=receiver.frames, width=receiver.size[0], height=receiver.size[1],
            audio_samples=receiver.samples, tone_hz=round(receiver.dominant_frequency(), 1), final=True)
        await pc.close()
        for task in tasks:
            task.cancel()


def pattern(size: int, seed: int) -> bytes:
    return bytes((i * 7 + seed) % 251 for i in range(size))


async def check_data_channels(channels: list, args: argparse.Namespace) -> None:
    """Against our echoing webrtc-peer: every size in order on each channel, then a burst of
    ``args.dc_burst`` small messages on the first (the ordered ``input`` channel); prints one
    ``dc-result`` line."""
    inboxes = {}
    for ch in channels:
        inbox: asyncio.Queue = asyncio.Queue()
        inboxes[ch.label] = inbox
        ch.on("message", inbox.put_nowait)
    result: dict[str, Any] = {"type": "dc-result", "channels": {}}
    try:
        for ch in channels:
            while ch.readyState != "open":
                await asyncio.sleep(0.02)
        result["ids"] = {ch.label: ch.id for ch in channels}
        sizes = [1, 18, 28, 16384, args.dc_max]
        for ch in channels:
            sent = [pattern(size, seed) for seed, size in enumerate(sizes)] + ["hello ✓", b""]
            for message in sent:
                ch.send(message)
            echoed = [await asyncio.wait_for(inboxes[ch.label].get(), 20) for _ in sent]
            result["channels"][ch.label] = {
                "intact": echoed == sent,
                "sizes": [len(m) for m in echoed],
            }
        first = channels[0]
        burst = [f"event {i}" for i in range(args.dc_burst)]
        started = time.monotonic()
        for message in burst:
            while first.bufferedAmount > 256 * 1024:
                await asyncio.sleep(0.001)
            first.send(message)
        echoed = []
        deadline = time.monotonic() + args.dc_burst_seconds
        try:
            while len(echoed) < len(burst):
                echoed.append(await asyncio.wait_for(inboxes[first.label].get(),
                                                     max(0.01, deadline - time.monotonic())))
        except asyncio.TimeoutError:
            pass
        if len(echoed) < len(burst):
            sctp = first.transport
            result["sctp_state"] = {
                "last_received_tsn": getattr(sctp, "_last_received_tsn", None),
                "streams": {sid: [len(st.reassembly), st.sequence_number,
                                  [(c.tsn, c.stream_seq, c.flags) for c in st.reassembly[:3]]]
                            for sid, st in getattr(sctp, "_inbound_streams", {}).items()},
                "rwnd": getattr(sctp, "_advertised_rwnd", None),
                "sack_misordered": len(getattr(sctp, "_sack_misordered", [])),
            }
        result["burst"] = {"count": len(echoed), "in_order": echoed == burst[:len(echoed)],
                           "seconds": round(time.monotonic() - started, 3),
                           "buffered_amount": first.bufferedAmount}
    except Exception as error:  # reported to the test, never fatal to the peer
        result["error"] = f"{type(error).__name__}: {error}"
    say(**result)


class PatternTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self.start is None:
            self.start = time.monotonic()
        delay = self.start + self.count / 30 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        image = numpy.full((360, 640, 3), (self.count * 4) % 256, dtype=numpy.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = self.count * 3000, fractions.Fraction(1, 90000)
        self.count += 1
        return frame


class ToneTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.samples = 0
        self.start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.start is None:
            self.start = time.monotonic()
        delay = self.start + self.samples / 48000 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t = (numpy.arange(960) + self.samples) / 48000
        mono = (numpy.sin(2 * math.pi * 440 * t) * 8000).astype(numpy.int16)
        frame = av.AudioFrame.from_ndarray(numpy.repeat(mono, 2).reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = 48000, self.samples, fractions.Fraction(1, 48000)
        self.samples += 960
        return frame


def echo(channel) -> None:
    """Sends every message that arrives on ``channel`` back on it."""
    channel.on("message", channel.send)


async def answerer(args: argparse.Namespace) -> None:
    queue: asyncio.Queue[dict] = asyncio.Queue()
    reader = asyncio.ensure_future(lines(queue))
    pc: RTCPeerConnection | None = None
    try:
        while True:
            message = await queue.get()
            kind = message.get("type")
            if kind == "offer":
                received = time.monotonic()
                pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))

                @pc.on("connectionstatechange")
                def on_state() -> None:
                    say(type="state", state=pc.connectionState)

                await pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type="offer"))
                # Data channels echo, as our webrtc-peer does (the echo benchmark's reference).
                echo(pc.createDataChannel("input", negotiated=True, id=0, ordered=True,
                                          protocol="pod-arcade-input-v1"))
                pc.on("datachannel", echo)
                for transceiver in pc.getTransceivers():
                    if transceiver.kind == "video":
                        transceiver.sender.replaceTrack(PatternTrack())
                        transceiver.direction = "sendonly"
                    elif transceiver.kind == "audio":
                        transceiver.sender.replaceTrack(ToneTrack())
                        transceiver.direction = "sendonly"
                prefer_h264(pc)
                await pc.setLocalDescription(await pc.createAnswer())
                dtls = pc.getTransceivers()[0].sender.transport

                @dtls.on("statechange")
                def on_dtls() -> None:
                    if dtls.state == "connected":
                        say(type="dtls", state="connected",
                            offer_to_dtls_ms=round((time.monotonic() - received) * 1000, 3))

                say(type="answer", sdp=pc.localDescription.sdp)
            elif kind == "close":
                break
    finally:
        reader.cancel()
        if pc is not None:
            await pc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answer", action="store_true", help="answer an offer instead of making one")
    parser.add_argument("--no-video", action="store_true")
    parser.add_argument("--no-audio", action="store_true")
    parser.add_argument("--dc-check", action="store_true",
                        help="offerer: open an in-band channel too and check echoed messages on both")
    parser.add_argument("--dc-max", type=int, default=65536, help="largest message of the check")
    parser.add_argument("--dc-burst", type=int, default=10000, help="small messages of the burst")
    parser.add_argument("--dc-burst-seconds", type=float, default=40, help="how long to wait for the burst's echoes")
    args = parser.parse_args()
    asyncio.run(answerer(args) if args.answer else offerer(args))


if __name__ == "__main__":
    main()
