"""Fixtures for the interop tests: free ports, our server, coturn.

Every process started here writes its output to a file under the test's
temporary directory; when a test fails, the end of each file is added to
the failure report. Processes are stopped with SIGTERM, then SIGKILL.

Environment:
  POD_ARCADE_BIN_DIR  folder holding pod-arcade-server (default .build/debug)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import stunwire

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK_HOSTS = ("127.0.0.1", "::1")
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
LOG_TAIL_BYTES = 20_000


def pick_free_udp_port(tcp_too: bool = False, exclude: tuple[int, ...] = ()) -> int:
    """A UDP port that is free on every IPv4 and IPv6 address (so also on
    127.0.0.1 and ::1), and, with ``tcp_too``, free for TCP as well.

    The port is released before it is returned; the kernel hands out
    ephemeral ports at random, so a clash with the next bind is unlikely.
    """
    last_error: OSError | None = None
    for _ in range(200):
        probes: list[socket.socket] = []
        try:
            v4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            probes.append(v4)
            v4.bind(("0.0.0.0", 0))
            port = v4.getsockname()[1]
            if port in exclude:
                continue
            wanted = [(socket.AF_INET6, socket.SOCK_DGRAM)]
            if tcp_too:
                wanted += [(socket.AF_INET, socket.SOCK_STREAM), (socket.AF_INET6, socket.SOCK_STREAM)]
            for family, kind in wanted:
                sock = socket.socket(family, kind)
                probes.append(sock)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
            return port
        except OSError as error:
            last_error = error
        finally:
            for sock in probes:
                sock.close()
    raise RuntimeError(f"no free UDP port on IPv4 and IPv6 (last error: {last_error})")


def check_ipv6_loopback() -> None:
    """Fails the test with a clear message when ::1 cannot be used."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError as error:
        pytest.fail(f"IPv6 loopback ::1 is not usable on this machine ({error}); the IPv6 tests need it")


@dataclass
class RunningProcess:
    """A child process whose output goes to ``log_path``."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    port: int
    exit_expected: bool = field(default=False)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError as error:
            return f"(cannot read {self.log_path}: {error})"
        if len(data) > LOG_TAIL_BYTES:
            data = b"[...]\n" + data[-LOG_TAIL_BYTES:]
        return data.decode("utf-8", "replace") or "(empty)"

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; returns the exit status."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


def _start(name: str, argv: list[str], env: dict[str, str], log_path: Path, port: int) -> RunningProcess:
    # Append mode, so that a program that also writes its own log to
    # log_path (coturn's --log-file) does not overwrite our copy of its output.
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=log_path.parent,
            start_new_session=True,
        )
    return RunningProcess(name, proc, log_path, port)


def wait_until_answering(server: RunningProcess, hosts: tuple[str, ...] = LOOPBACK_HOSTS) -> None:
    """Polls with Binding requests until the server answers on every host."""
    deadline = time.monotonic() + READY_TIMEOUT
    pending = list(hosts)
    while pending:
        if not server.alive():
            server.exit_expected = True  # reported here, not again at teardown
            pytest.fail(
                f"{server.name} exited with status {server.proc.returncode} before answering STUN "
                f"on port {server.port} (its output is at the end of this report)"
            )
        if time.monotonic() > deadline:
            server.exit_expected = True
            server.stop()
            pytest.fail(
                f"{server.name} did not answer a STUN Binding request on {pending[0]} port "
                f"{server.port} within {READY_TIMEOUT:.0f} s (its output is at the end of this report)"
            )
        if stunwire.probe(pending[0], server.port, timeout=0.2) is not None:
            pending.pop(0)
        else:
            time.sleep(0.1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attaches the output of the test's processes to a failed test's report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for process in getattr(item, "interop_processes", []):
            report.sections.append((f"{process.name} output ({process.log_path})", process.log_tail()))


def _register(request: pytest.FixtureRequest, process: RunningProcess) -> None:
    processes = getattr(request.node, "interop_processes", None)
    if processes is None:
        processes = []
        request.node.interop_processes = processes
    processes.append(process)


def _stop_all(processes: list[RunningProcess]) -> None:
    crashed = [p for p in processes if not p.exit_expected and not p.alive()]
    for process in processes:
        process.stop()
    if crashed:
        names = ", ".join(f"{p.name} (status {p.proc.returncode})" for p in crashed)
        pytest.fail(f"exited on its own during the test: {names} (output at the end of this report)")


@pytest.fixture
def free_udp_port() -> int:
    """A UDP port free on both 127.0.0.1 and ::1 (and every other address)."""
    return pick_free_udp_port()


@pytest.fixture(scope="session")
def server_binary() -> Path:
    bin_dir = Path(os.environ.get("POD_ARCADE_BIN_DIR", REPO_ROOT / ".build" / "debug"))
    binary = bin_dir / "pod-arcade-server"
    if not os.access(binary, os.X_OK):
        pytest.fail(
            f"{binary} does not exist or is not executable: run `make build` first "
            "(or point POD_ARCADE_BIN_DIR at the folder that holds pod-arcade-server)"
        )
    return binary


@pytest.fixture
def start_pod_arcade(
    request: pytest.FixtureRequest, server_binary: Path, tmp_path: Path
) -> Iterator[Callable[..., RunningProcess]]:
    """Starts pod-arcade-server with only its STUN listener (HTTP and MQTT off).

    Call it with a port (or -1 to disable STUN) and ``wait=True`` to block
    until it answers STUN on 127.0.0.1 and ::1.
    """
    started: list[RunningProcess] = []

    def start(stun_port: int, wait: bool = True, **extra_env: str) -> RunningProcess:
        env = dict(os.environ)
        env.update(STUN_PORT=str(stun_port), HTTP_PORT="-1", MQTT_PORT="-1", LOG_LEVEL="debug", **extra_env)
        log_path = tmp_path / f"pod-arcade-server-{len(started)}.log"
        server = _start("pod-arcade-server", [str(server_binary)], env, log_path, stun_port)
        started.append(server)
        _register(request, server)
        if wait:
            wait_until_answering(server)
        return server

    yield start
    _stop_all(started)


@pytest.fixture
def pod_arcade(start_pod_arcade: Callable[..., RunningProcess]) -> RunningProcess:
    """pod-arcade-server answering STUN on a free port, IPv4 and IPv6."""
    check_ipv6_loopback()
    return start_pod_arcade(pick_free_udp_port())


def require_tool(name: str, package: str) -> str:
    """The path of a command, or a failed test naming the package to install."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not installed: install the Debian package {package} (`make deps` does)")
    return path


@pytest.fixture
def coturn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningProcess]:
    """coturn as a plain STUN server (``--stun-only``) on loopback, a
    reference to check the test harness against."""
    turnserver = require_tool("turnserver", "coturn")
    check_ipv6_loopback()
    port = pick_free_udp_port(tcp_too=True)
    # coturn also opens an "alternative" port for RFC 5780; keep it on a
    # free port of our choosing even though --no-rfc5780 leaves it unused.
    alt_port = pick_free_udp_port(tcp_too=True, exclude=(port,))
    log_path = tmp_path / "turnserver.log"
    argv = [turnserver, "-n", "--stun-only", "--no-cli", "--no-tls", "--no-dtls", "--no-rfc5780"]
    argv += ["--listening-ip", "127.0.0.1", "--listening-ip", "::1"]
    argv += ["--listening-port", str(port), "--alt-listening-port", str(alt_port)]
    argv += ["--db", str(tmp_path / "turndb"), "--pidfile", str(tmp_path / "turnserver.pid")]
    argv += ["--log-file", str(log_path), "--simple-log", "--no-stdout-log"]
    server = _start("turnserver", argv, dict(os.environ), log_path, port)
    _register(request, server)
    wait_until_answering(server)
    yield server
    _stop_all([server])


@pytest.fixture(scope="session")
def aioice_stun():
    """aioice's STUN module, or a failed test saying how to get it."""
    try:
        from aioice import stun
    except ImportError as error:
        pytest.fail(f"the Python package aioice is not installed ({error}): `make deps` installs it")
    return stun
