"""Where an echo round trip goes, read off the wire (issue 6, Measure).

`Capture` runs tcpdump on the loopback interface while Chromium pings an answerer over a data
channel; `split` reads the capture back and divides every ping-echo cycle at the two datagrams
that carry it:

    ping leaves Chromium --A--> echo leaves the answerer --C--> next ping leaves Chromium

A is the answerer's share (its receive, DTLS, SCTP, echo and send, plus two loopback hops of
a few microseconds); C is Chromium's share (the echo through its network thread and SCTP stack
to the page's `onmessage`, the script's next `send`, and back down to the socket). The
JavaScript round trip is about A plus C, so C alone bounds from below what any answerer, even
one that took no time at all, could measure against this browser.

The datagrams are told apart without decrypting anything (RFC 7983 §7, first byte):
- the answerer is the endpoint that sends SRTP (first byte 128-191) — it streams video and audio
  during the measurement, Chromium only receives;
- a ping or an echo is a DTLS application-data record (first byte 23) big enough to hold an SCTP
  DATA chunk: an 8-byte message in an SCTP packet is a 73-byte record with AES-GCM, 89 with a
  SACK bundled, while a bare SACK or a heartbeat acknowledgement is smaller (`DATA_SIZES`).
`split` returns the size histogram of the application-data records too, so a run shows whether
that cut was right.
"""

from __future__ import annotations

import collections
import os
import signal
import statistics
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

DATA_SIZES = range(70, 161)  # UDP payload bytes of a DTLS record holding an 8-byte DATA chunk


class Capture:
    """tcpdump on `lo`, UDP only, 96-byte snapshots with nanosecond timestamps."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.process = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-n", "-U", "-s", "96", "--time-stamp-precision", "nano",
             "-w", str(path), "udp"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # tcpdump says "listening on lo" once its socket is open; nothing before that is seen.
        line = self.process.stderr.readline() if self.process.stderr else ""
        if "listening on" not in line:
            self.process.kill()
            raise RuntimeError(f"tcpdump did not start: {line.strip()}")

    def stop(self) -> None:
        # tcpdump hands packets over in blocks retired after its 1 s buffer timeout; a SIGINT
        # before then loses the last block's packets.
        time.sleep(1.2)
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Datagram:
    time_ns: int
    source: tuple[str, int]
    payload: bytes  # up to the snapshot length
    length: int     # the UDP payload's full length


def read_pcap(path: Path) -> list[Datagram]:
    """The UDP datagrams of a pcap file (Ethernet or Linux cooked link layer, IPv4 or IPv6)."""
    data = path.read_bytes()
    if len(data) < 24:
        return []
    magic = struct.unpack_from("<I", data, 0)[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    else:
        endian = ">"
        magic = struct.unpack_from(">I", data, 0)[0]
    nano = magic == 0xA1B23C4D
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    link_header = {1: 14, 113: 16, 276: 20}.get(linktype)
    if link_header is None:
        raise ValueError(f"pcap link type {linktype} not handled")
    datagrams = []
    offset = 24
    while offset + 16 <= len(data):
        seconds, fraction, captured, _ = struct.unpack_from(endian + "IIII", data, offset)
        offset += 16
        frame = data[offset:offset + captured]
        offset += captured
        time_ns = seconds * 1_000_000_000 + (fraction if nano else fraction * 1000)
        ip = frame[link_header:]
        if not ip:
            continue
        version = ip[0] >> 4
        if version == 4 and len(ip) >= 20 and ip[9] == 17:
            header = (ip[0] & 0x0F) * 4
            address = ".".join(str(b) for b in ip[12:16])
        elif version == 6 and len(ip) >= 40 and ip[6] == 17:
            header = 40
            address = ip[8:24].hex()
        else:
            continue
        udp = ip[header:]
        if len(udp) < 8:
            continue
        source_port, _, udp_length = struct.unpack_from(">HHH", udp, 0)
        datagrams.append(Datagram(time_ns, (address, source_port), udp[8:], udp_length - 8))
    return datagrams


@dataclass
class Split:
    answerer_ms: list[float] = field(default_factory=list)   # A: ping -> echo on the wire
    chromium_ms: list[float] = field(default_factory=list)   # C: echo -> next ping on the wire
    sizes: dict[tuple[str, int], int] = field(default_factory=dict)  # (direction, size) -> count
    skipped: int = 0                                          # data-sized records out of turn

    def add(self, other: "Split") -> None:
        """Adds another session's cycles and counts to these."""
        self.answerer_ms += other.answerer_ms
        self.chromium_ms += other.chromium_ms
        self.skipped += other.skipped
        for key, count in other.sizes.items():
            self.sizes[key] = self.sizes.get(key, 0) + count


def split(datagrams: list[Datagram]) -> Split:
    srtp_bytes: collections.Counter = collections.Counter()
    for d in datagrams:
        if d.payload and 128 <= d.payload[0] <= 191:
            srtp_bytes[d.source] += d.length
    if not srtp_bytes:
        raise ValueError("no SRTP in the capture: cannot tell the answerer from Chromium")
    answerer = srtp_bytes.most_common(1)[0][0]
    result = Split()
    sizes: collections.Counter = collections.Counter()
    last_ping: int | None = None
    last_echo: int | None = None
    for d in datagrams:
        if not d.payload or d.payload[0] != 23:
            continue
        from_answerer = d.source == answerer
        sizes[("answerer" if from_answerer else "chromium", d.length)] += 1
        if d.length not in DATA_SIZES:
            continue
        if not from_answerer:
            if last_echo is not None and last_ping is None:
                result.chromium_ms.append((d.time_ns - last_echo) / 1e6)
            elif last_ping is not None:
                result.skipped += 1  # two pings in a row: a retransmission or a heartbeat
            last_ping, last_echo = d.time_ns, None
        else:
            if last_ping is not None:
                result.answerer_ms.append((d.time_ns - last_ping) / 1e6)
                last_ping, last_echo = None, d.time_ns
            else:
                result.skipped += 1
    result.sizes = dict(sizes)
    return result


def describe(name: str, result: Split) -> str:
    common = sorted(result.sizes.items(), key=lambda item: -item[1])[:6]
    histogram = ", ".join(f"{who} {size} B x{count}" for (who, size), count in common)
    return (f"  {name:6} on the wire: answerer share median {statistics.median(result.answerer_ms):6.3f} ms,"
            f" Chromium share median {statistics.median(result.chromium_ms):6.3f} ms"
            f" ({len(result.answerer_ms)} cycles, {result.skipped} records out of turn)\n"
            f"         application-data records by size: {histogram}")


if __name__ == "__main__":
    import sys
    for argument in sys.argv[1:]:
        print(describe(os.path.basename(argument), split(read_pcap(Path(argument)))))
