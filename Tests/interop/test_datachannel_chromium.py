"""Data channels between headless Chromium, offering as the Pod Arcade web client does (video,
audio, the negotiated `input` channel) plus an in-band channel, and our PeerConnection through
the echoing `webrtc-peer` tool: every size up to the negotiated maximum both ways, 10,000
ordered messages also under 5 % SCTP loss, and a peer that vanishes mid-stream while another
session goes on.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from media_helpers import connect_aiortc_offerer, start_aiortc, start_webrtc_peer
from test_media_chromium import negotiate
from web_support import browser  # noqa: F401 - fixture

CHAT_SETUP = "window.chat = window.pc.createDataChannel('chat', {protocol: 'text'});"

HELPERS = """
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pattern = (n, seed) => { const a = new Uint8Array(n); for (let i = 0; i < n; i++) a[i] = (i * 7 + seed) % 251; return a; };
const waitOpen = async (ch) => { const end = performance.now() + 20000; while (ch.readyState !== 'open' && performance.now() < end) await sleep(20); return ch.readyState; };
const same = (a, b) => typeof a === 'string' ? a === b
  : (b instanceof ArrayBuffer && a.length === b.byteLength && new Uint8Array(b).every((x, i) => x === a[i]));
"""

SIZES_SCRIPT = HELPERS + """
const max = window.pc.sctp.maxMessageSize;
const result = {max, channels: {}};
for (const ch of [window.input, window.chat]) {
  result.channels[ch.label] = {state: await waitOpen(ch)};
  const got = [];
  ch.binaryType = 'arraybuffer';
  ch.onmessage = (e) => got.push(e.data);
  const sent = [1, 18, 28, 16384, max].map((n, i) => pattern(n, i));
  sent.push('hello ✓', new Uint8Array(0));
  for (const m of sent) ch.send(m);
  const end = performance.now() + 20000;
  while (got.length < sent.length && performance.now() < end) await sleep(10);
  Object.assign(result.channels[ch.label], {
    id: ch.id, protocol: ch.protocol, received: got.length,
    intact: got.length === sent.length && sent.every((m, i) => same(m, got[i])),
    sizes: got.map((x) => typeof x === 'string' ? x.length : x.byteLength)});
}
return result;
"""

BURST_SCRIPT = HELPERS + """
const [count] = arguments;
const ch = window.input;
await waitOpen(ch);
const got = [];
ch.onmessage = (e) => got.push(e.data);
const start = performance.now();
for (let i = 0; i < count; i++) {
  while (ch.bufferedAmount > 256 * 1024) await sleep(1);
  ch.send('event ' + i);
}
const end = performance.now() + 90000;
while (got.length < count && performance.now() < end) await sleep(10);
return {count: got.length, in_order: got.every((m, i) => m === 'event ' + i),
        seconds: (performance.now() - start) / 1000};
"""

# Echo round trips, one message at a time: the input channel's latency as a player feels it.
PING_SCRIPT = HELPERS + """
const [count] = arguments;
const ch = window.input;
await waitOpen(ch);
let resolve = null;
ch.onmessage = () => { if (resolve) { const r = resolve; resolve = null; r(); } };
const rtts = [];
for (let i = 0; i < count; i++) {
  const answered = new Promise((r) => { resolve = r; });
  const start = performance.now();
  ch.send(new Uint8Array([0x01, i & 0xff, 0, 0, 0, 0, 0, 0]));
  await answered;
  rtts.push(performance.now() - start);
}
return rtts;
"""


def test_chromium_channels_echo_every_size_up_to_the_negotiated_maximum(tmp_path: Path, browser) -> None:  # noqa: F811
    ours = start_webrtc_peer(tmp_path)
    try:
        negotiate(browser, ours, extra_setup=CHAT_SETUP)
        result = browser.module(SIZES_SCRIPT, timeout=60)
        assert result["max"] == 262144, result  # both sides announce 256 KiB
        for label in ("input", "chat"):
            channel = result["channels"][label]
            assert channel["state"] == "open" and channel["intact"], (label, channel)
            assert channel["sizes"] == [1, 18, 28, 16384, 262144, len("hello ✓"), 0], channel
        assert result["channels"]["input"]["id"] == 0
        assert result["channels"]["input"]["protocol"] == "pod-arcade-input-v1"
        # We are the DTLS client (setup:active), Chromium the server: its in-band id is odd.
        assert result["channels"]["chat"]["id"] % 2 == 1, result
        ours.send(type="stats", session="default")
        stats = ours.wait_for("stats", 5, session="default")
        opened = [m for m in ours.seen if m.get("type") == "datachannel" and m.get("event") == "open"]
        assert {m["label"] for m in opened} == {"input", "chat"}, opened
        assert stats["dc_malformed_dcep"] == 0 and stats["dc_unknown_ppids"] == 0, stats
    finally:
        ours.stop()


@pytest.mark.parametrize("loss", [0.0, 0.05], ids=["no-loss", "5pct-loss"])
def test_chromium_10000_ordered_messages_each_way(tmp_path: Path, browser, loss: float) -> None:  # noqa: F811
    ours = start_webrtc_peer(tmp_path, "--drop-sctp", str(loss))
    try:
        negotiate(browser, ours)
        burst = browser.module(BURST_SCRIPT, 10000, timeout=120)
        assert burst["count"] == 10000 and burst["in_order"], burst
        ours.send(type="stats", session="default")
        stats = ours.wait_for("stats", 5, session="default")
        assert stats["dc_messages_received"] == 10000 and stats["dc_messages_sent"] == 10000, stats
        assert (stats["sctp_dropped_simulated"] > 0) == (loss > 0), stats
    finally:
        ours.stop()


def test_a_vanishing_peer_leaves_the_other_session_streaming(tmp_path: Path, browser) -> None:  # noqa: F811
    # aiortc (session "gone") and Chromium (session "stays") both connect to one webrtc-peer;
    # aiortc is killed mid-stream without a goodbye, then Chromium's input channel must keep
    # echoing and its video keep decoding, and our process must live on.
    ours = start_webrtc_peer(tmp_path)
    victim = start_aiortc(tmp_path, "--dc-check", "--dc-burst", "1000000")
    try:
        connect_aiortc_offerer(victim, ours, session="gone")
        ours.wait_for("sctp", 20, session="gone", state="connected")
        negotiate(browser, ours, session="stays")
        before = browser.module(PING_SCRIPT, 50, timeout=30)
        assert len(before) == 50
        time.sleep(0.5)  # aiortc is in its burst: SCTP traffic in flight on session "gone"
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(10)
        after = []
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:  # across our ICE consent timeout for "gone"
            after += browser.module(PING_SCRIPT, 20, timeout=30)
        assert len(after) >= 100, len(after)
        frames = browser.module("""
            for (const s of (await window.pc.getStats()).values())
              if (s.type === 'inbound-rtp' && s.kind === 'video') return s.framesDecoded;
            return 0;""")
        time.sleep(1)
        frames_later = browser.module("""
            for (const s of (await window.pc.getStats()).values())
              if (s.type === 'inbound-rtp' && s.kind === 'video') return s.framesDecoded;
            return 0;""")
        assert frames_later > frames, (frames, frames_later)
        assert ours.process.poll() is None, ours.log_tail()
        ours.send(type="stats", session="stays")
        stats = ours.wait_for("stats", 5, session="stays")
        assert stats["state"] == "connected", stats
    finally:
        victim.stop()
        ours.stop()
