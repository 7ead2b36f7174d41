"""An aioice agent speaking the ice-peer JSON-lines protocol on stdin/stdout.

The same protocol as our `ice-peer` executable (Sources/ice-peer), so a test
can pair any two of them, in one namespace or across network namespaces, by
relaying lines between the two processes (ice_helpers.py).

Output lines (one JSON object each, "t" = ms since start, monotonic):
  {"type": "local-credentials", "ufrag": ..., "pwd": ...}
  {"type": "local-candidate", "candidate": "candidate:..."}
  {"type": "gathering-complete"}
  {"type": "state", "state": "connected", "elapsed_ms": <since first remote candidate>}
  {"type": "selected", "local": {"type": "host", ...}, "remote": {...}}
  {"type": "data", "data": <base64>}
  {"type": "error", "message": ...}
Input lines:
  {"type": "remote-credentials", "ufrag": ..., "pwd": ...}
  {"type": "remote-candidate", "candidate": "candidate:..."}
  {"type": "end-of-candidates"}
  {"type": "send", "data": <base64>}
  {"type": "close"}
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time

import aioice
from aioice import Candidate

START = time.monotonic()


def emit(kind: str, **fields) -> None:
    fields["type"] = kind
    fields["t"] = round((time.monotonic() - START) * 1000, 3)
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def describe(candidate: Candidate) -> dict:
    return {"type": candidate.type, "address": candidate.host, "port": candidate.port,
            "transport": candidate.transport.lower()}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["controlling", "controlled"], required=True)
    parser.add_argument("--loopback", action="store_true",
                        help="offer 127.0.0.1 as a host candidate (aioice skips loopback otherwise)")
    parser.add_argument("--stun", help="host:port of a STUN server")
    parser.add_argument("--turn", help="host:port of a TURN server")
    parser.add_argument("--turn-transport", default="udp")
    parser.add_argument("--turn-username")
    parser.add_argument("--turn-password")
    parser.add_argument("--relay-only", action="store_true")
    parser.add_argument("--echo", action="store_true", help="send received data back")
    parser.add_argument("--no-ipv6", action="store_true")
    args = parser.parse_args()

    if args.loopback:
        original = aioice.ice.get_host_addresses

        def with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
            found = original(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
            return (["127.0.0.1"] if use_ipv4 else []) + found

        aioice.ice.get_host_addresses = with_loopback

    def hostport(text: str | None):
        if not text:
            return None
        host, port = text.rsplit(":", 1)
        return (host.strip("[]"), int(port))

    connection = aioice.Connection(
        ice_controlling=args.role == "controlling",
        stun_server=hostport(args.stun),
        turn_server=hostport(args.turn),
        turn_username=args.turn_username,
        turn_password=args.turn_password,
        turn_transport=args.turn_transport,
        use_ipv6=not args.no_ipv6,
        transport_policy=aioice.TransportPolicy.RELAY if args.relay_only else aioice.TransportPolicy.ALL,
    )
    emit("local-credentials", ufrag=connection.local_username, pwd=connection.local_password)

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    first_remote: list[float] = []
    connect_task: asyncio.Task | None = None
    have_credentials = asyncio.Event()

    async def run_connect() -> None:
        await have_credentials.wait()
        emit("state", state="checking")
        try:
            await connection.connect()
        except Exception as error:  # noqa: BLE001 - reported to the test
            emit("state", state="failed", message=str(error))
            return
        elapsed = (time.monotonic() - first_remote[0]) * 1000 if first_remote else None
        emit("state", state="connected", elapsed_ms=elapsed)
        pair = connection._nominated.get(1)
        if pair is not None:
            emit("selected", local=describe(pair.local_candidate), remote=describe(pair.remote_candidate))
        while True:
            try:
                data = await connection.recv()
            except ConnectionError:
                emit("state", state="closed")
                return
            emit("data", data=base64.b64encode(data).decode())
            if args.echo:
                await connection.send(data)

    async def gather() -> None:
        await connection.gather_candidates()
        for candidate in connection.local_candidates:
            emit("local-candidate", candidate="candidate:" + candidate.to_sdp())
        emit("gathering-complete")

    gather_task = asyncio.create_task(gather())
    while True:
        line = await reader.readline()
        if not line:
            break
        message = json.loads(line)
        kind = message["type"]
        if kind == "remote-credentials":
            connection.remote_username = message["ufrag"]
            connection.remote_password = message["pwd"]
            await gather_task
            have_credentials.set()
            if connect_task is None:
                connect_task = asyncio.create_task(run_connect())
        elif kind == "remote-candidate":
            if not first_remote:
                first_remote.append(time.monotonic())
            text = message["candidate"]
            if text.startswith("candidate:"):
                text = text[len("candidate:"):]
            try:
                await connection.add_remote_candidate(Candidate.from_sdp(text))
            except ValueError as error:
                emit("error", message=f"bad remote candidate: {error}")
        elif kind == "end-of-candidates":
            await connection.add_remote_candidate(None)
        elif kind == "send":
            await connection.send(base64.b64decode(message["data"]))
        elif kind == "close":
            break
    await connection.close()
    emit("state", state="closed")


if __name__ == "__main__":
    asyncio.run(main())
