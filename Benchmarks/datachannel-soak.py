"""Data-channel soak: one long session, headless Chromium against our `webrtc-peer`, echoing
8-byte messages on the input channel as Benchmarks/datachannel-bench.py does, in chunks, to
show whether the round trip or the answerer's memory drifts as the messages add up. A player's
input channel carries hundreds of messages a second for hours; a cost that grows with each
message never shows in a 2,000-ping benchmark.

Prints per chunk the median and p99 round trip and webrtc-peer's VmRSS, then the drift: the
last chunk's median over the first's, and the RSS growth per 10,000 messages after the first
chunk (which includes warm-up allocations).

Usage: python3 Benchmarks/datachannel-soak.py [chunks] [pings per chunk]   (default 8 10000;
POD_ARCADE_BIN_DIR: the binaries, e.g. .build/release)
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "interop"))

from media_helpers import start_webrtc_peer  # noqa: E402

# The echo measurement itself (page, offer, ping loop) is the benchmark's.
_spec = importlib.util.spec_from_file_location("datachannel_bench", ROOT / "Benchmarks" / "datachannel-bench.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def resident_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def main() -> None:
    chunks = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    pings = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    bench.PAGE_URL = bench.serve_isolated_page()
    medians: list[float] = []
    memory: list[int] = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        from web_support import _launch_browser  # noqa: PLC0415
        page = _launch_browser(tmp)
        peer = start_webrtc_peer(tmp, name="ours")
        try:
            bench.connect(page, peer)
            for chunk in range(chunks):
                rtts = page.module(bench.PING, pings, timeout=900)
                medians.append(statistics.median(rtts))
                memory.append(resident_kb(peer.process.pid))
                print(f"chunk {chunk + 1}/{chunks} (messages {chunk * pings + 1}-{(chunk + 1) * pings}):"
                      f" median {medians[-1]:.3f} ms  p99 {bench.percentile(rtts, 0.99):.3f} ms"
                      f"  webrtc-peer VmRSS {memory[-1]} kB", flush=True)
        finally:
            peer.stop()
            page.driver.quit()
    print(f"drift: last chunk's median / first's {medians[-1] / medians[0]:.2f};"
          f" VmRSS {(memory[-1] - memory[0]) / max(1, (chunks - 1) * pings / 10000):+.0f} kB per 10,000 messages"
          f" after the first chunk")


if __name__ == "__main__":
    main()
