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


# ---------------------------------------------------------------------------
# MQTT brokers, for Tests/interop/test_mqtt_*.py
#
# ``mqtt_broker`` is parametrized over "mosquitto" (Debian's mosquitto,
# started here with a generated configuration on a free port, never the
# system service) and "ours" (pod-arcade-server's embedded broker on
# MQTT_PORT). Tests that check Pod Arcade's own rules take ``ours_mqtt_auth``
# and carry the ``ours`` marker. Every "ours" test is skipped unless enabled:
#
#   POD_ARCADE_MQTT=1 python3 -m pytest Tests/interop     (=0 turns it off)
#   python3 -m pytest Tests/interop --pod-arcade-mqtt      (--no-pod-arcade-mqtt)
#
# OURS_MQTT_DEFAULT applies when neither is given.
#
# POD_ARCADE_MQTT_SLOW=1 also runs checks that take minutes against
# mosquitto (it closes a connection that never sends CONNECT only after
# about 90 s).
# ---------------------------------------------------------------------------

OURS_MQTT_DEFAULT = True
_TRUE_WORDS = ("1", "true", "yes", "on")
_FALSE_WORDS = ("0", "false", "no", "off")
# Settings of pod-arcade-server that a developer's shell might carry; the
# MQTT fixtures set what they need and drop the rest.
_SERVER_SETTINGS = (
    "HTTP_PORT", "SERVE_TLS", "TLS_PORT", "TLS_CERT", "TLS_KEY", "MQTT_PORT", "STUN_PORT", "ICE_SERVERS",
    "AUTH_REQUIRED", "DESKTOP_PSK", "CLIENT_PSK", "OIDC_SERVER", "OIDC_CLIENT_ID", "LOG_LEVEL",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pod-arcade")
    group.addoption(
        "--pod-arcade-mqtt", dest="pod_arcade_mqtt", action="store_const", const=True, default=None,
        help="also run the MQTT tests against pod-arcade-server's own broker (env POD_ARCADE_MQTT=1)",
    )
    group.addoption(
        "--no-pod-arcade-mqtt", dest="pod_arcade_mqtt", action="store_const", const=False,
        help="skip the MQTT tests against pod-arcade-server's own broker (env POD_ARCADE_MQTT=0)",
    )


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE_WORDS:
        return True
    if value in _FALSE_WORDS:
        return False
    raise pytest.UsageError(f"{name}={value!r}: expected one of {', '.join(_TRUE_WORDS + _FALSE_WORDS)}")


def ours_mqtt_enabled(config: pytest.Config) -> bool:
    option = config.getoption("pod_arcade_mqtt", default=None)
    if option is not None:
        return bool(option)
    return _env_flag("POD_ARCADE_MQTT", OURS_MQTT_DEFAULT)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ours: runs against pod-arcade-server's own MQTT broker; skipped unless POD_ARCADE_MQTT=1 "
        "or --pod-arcade-mqtt",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ours_mqtt_enabled(config):
        return
    skip = pytest.mark.skip(
        reason="pod-arcade-server's MQTT broker is not enabled: set POD_ARCADE_MQTT=1 or pass --pod-arcade-mqtt"
    )
    for item in items:
        if item.get_closest_marker("ours") is not None:
            item.add_marker(skip)


def _mqtt_probe(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when the port accepts TCP and answers an MQTT 3.1.1 CONNECT with
    a CONNACK (accepted or refused: either way the broker is serving)."""
    client_id = f"user:ready-probe-{os.getpid()}".encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client_id).to_bytes(2, "big") + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(bytes([0x10, len(body)]) + body)
            answer = b""
            while len(answer) < 4:
                data = sock.recv(4 - len(answer))
                if not data:
                    return False
                answer += data
            if answer[0] != 0x20 or answer[1] != 0x02:
                return False
            if answer[3] == 0:
                sock.sendall(b"\xe0\x00")  # DISCONNECT
            return True
    except OSError:
        return False


def wait_until_mqtt_answering(server: RunningProcess, host: str = "127.0.0.1") -> None:
    """Polls with CONNECT until the broker answers with CONNACK."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if not server.alive():
            server.exit_expected = True
            pytest.fail(
                f"{server.name} exited with status {server.proc.returncode} before answering MQTT CONNECT "
                f"on {host} port {server.port} (its output is at the end of this report)"
            )
        if _mqtt_probe(host, server.port):
            return
        if time.monotonic() > deadline:
            server.exit_expected = True
            server.stop()
            pytest.fail(
                f"{server.name} did not answer an MQTT CONNECT on {host} port {server.port} within "
                f"{READY_TIMEOUT:.0f} s (its output is at the end of this report)"
            )
        time.sleep(0.1)


def _find_program(name: str, package: str) -> str:
    """Like require_tool, but also looks in the sbin folders (mosquitto is
    /usr/sbin/mosquitto, which a non-root PATH may lack)."""
    path = shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")
    if path is None:
        pytest.fail(f"`{name}` is not installed: install the Debian package {package} (`make deps` does)")
    return path


def _mqtt_helpers():
    try:
        import mqtt_helpers
    except ImportError as error:
        pytest.fail(str(error))
    return mqtt_helpers


@pytest.fixture
def start_mosquitto(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., RunningProcess]]:
    """Starts Debian's mosquitto on a free port of 127.0.0.1 with a
    configuration generated in the test's folder: no persistence file,
    log to its output. ``extra`` lines are appended to the configuration;
    ``anonymous`` sets allow_anonymous."""
    binary = _find_program("mosquitto", "mosquitto")
    started: list[RunningProcess] = []

    def start(extra: list[str] = (), anonymous: bool = True) -> RunningProcess:
        port = pick_free_udp_port(tcp_too=True)
        name = f"mosquitto-{len(started)}"
        lines = [
            "per_listener_settings false",
            f"listener {port} 127.0.0.1",
            f"allow_anonymous {'true' if anonymous else 'false'}",
            "persistence false",
            "log_dest stderr",  # unbuffered, so a failed test shows the latest lines
            "log_type all",
            "connection_messages true",
            "log_timestamp_format %H:%M:%S",
        ]
        if os.geteuid() == 0:
            # Started as root, mosquitto switches to the user "mosquitto",
            # who cannot read the password and ACL files in the test's
            # folder; "root" keeps it as it is.
            lines.append("user root")
        lines += list(extra)
        config = tmp_path / f"{name}.conf"
        config.write_text("\n".join(lines) + "\n")
        log_path = tmp_path / f"{name}.log"
        server = _start("mosquitto", [binary, "-c", str(config)], dict(os.environ), log_path, port)
        started.append(server)
        _register(request, server)
        wait_until_mqtt_answering(server)
        return server

    yield start
    _stop_all(started)


@pytest.fixture
def start_pod_arcade_mqtt(
    request: pytest.FixtureRequest, server_binary: Path, tmp_path: Path
) -> Iterator[Callable[..., RunningProcess]]:
    """Starts pod-arcade-server with only its MQTT listener
    (MQTT_PORT=<free> HTTP_PORT=-1 STUN_PORT=-1) plus ``extra_env``, and
    waits until it answers an MQTT CONNECT on 127.0.0.1."""
    started: list[RunningProcess] = []

    def start(**extra_env: str) -> RunningProcess:
        port = pick_free_udp_port(tcp_too=True)
        env = {k: v for k, v in os.environ.items() if k not in _SERVER_SETTINGS}
        env.update(MQTT_PORT=str(port), HTTP_PORT="-1", STUN_PORT="-1", LOG_LEVEL="debug", **extra_env)
        log_path = tmp_path / f"pod-arcade-server-mqtt-{len(started)}.log"
        server = _start("pod-arcade-server", [str(server_binary)], env, log_path, port)
        started.append(server)
        _register(request, server)
        wait_until_mqtt_answering(server)
        return server

    yield start
    _stop_all(started)


@pytest.fixture(params=["mosquitto", pytest.param("ours", marks=pytest.mark.ours)])
def mqtt_broker(request: pytest.FixtureRequest):
    """A broker for the broker-neutral MQTT tests, anonymous users allowed:
    mosquitto, or pod-arcade-server without AUTH_REQUIRED."""
    helpers = _mqtt_helpers()
    if request.param == "mosquitto":
        server = request.getfixturevalue("start_mosquitto")()
        return helpers.Broker("mosquitto", "127.0.0.1", server.port, server, has_sys_topics=True)
    server = request.getfixturevalue("start_pod_arcade_mqtt")()
    return helpers.Broker("ours", "127.0.0.1", server.port, server)


def _psk(kind: str) -> str:
    return f"{kind}-psk-{os.urandom(6).hex()}"


@pytest.fixture
def ours_mqtt_auth(start_pod_arcade_mqtt: Callable[..., RunningProcess]):
    """pod-arcade-server's broker with AUTH_REQUIRED=true and both PSKs set."""
    helpers = _mqtt_helpers()
    desktop_psk, client_psk = _psk("desktop"), _psk("client")
    server = start_pod_arcade_mqtt(AUTH_REQUIRED="true", DESKTOP_PSK=desktop_psk, CLIENT_PSK=client_psk)
    return helpers.Broker("ours", "127.0.0.1", server.port, server, desktop_psk=desktop_psk, client_psk=client_psk)


@pytest.fixture(params=["mosquitto", pytest.param("ours", marks=pytest.mark.ours)])
def restricted_mqtt_broker(request: pytest.FixtureRequest, tmp_path: Path):
    """A broker that checks passwords and who may publish where: ours with
    AUTH_REQUIRED=true, or mosquitto with a password file and an ACL that
    imitates the desktop rule (a desktop, whose user name is its id, may
    publish only below desktops/<its id>/; the browser user may publish
    below desktops/+/sessions/ and read everything below desktops/).
    The Broker's ``desktop_ids`` lists the desktop ids that may log in."""
    helpers = _mqtt_helpers()
    if request.param == "ours":
        broker = request.getfixturevalue("ours_mqtt_auth")
        broker.desktop_ids = []  # any desktop id is fine
        return broker
    desktop_psk, client_psk = _psk("desktop"), _psk("client")
    desktop_ids = [f"d-{os.urandom(3).hex()}" for _ in range(2)]
    user_name = "psk-user"  # mosquitto's password file cannot hold a ':' in a user name
    passwd = _find_program("mosquitto_passwd", "mosquitto")
    password_file = tmp_path / "mosquitto.passwd"
    for index, (name, password) in enumerate([(user_name, client_psk)] + [(d, desktop_psk) for d in desktop_ids]):
        argv = [passwd, "-b"] + (["-c"] if index == 0 else []) + [str(password_file), name, password]
        subprocess.run(argv, check=True, capture_output=True, timeout=30)
    acl_file = tmp_path / "mosquitto.acl"
    acl_file.write_text(
        "pattern readwrite desktops/%u/#\n"
        f"user {user_name}\n"
        "topic readwrite desktops/+/sessions/#\n"
        "topic read desktops/#\n"
    )
    server = request.getfixturevalue("start_mosquitto")(
        [f"password_file {password_file}", f"acl_file {acl_file}", "allow_zero_length_clientid false"],
        anonymous=False,
    )
    broker = helpers.Broker(
        "mosquitto", "127.0.0.1", server.port, server, desktop_psk=desktop_psk, client_psk=client_psk,
        has_sys_topics=True, user_name=user_name,
    )
    broker.desktop_ids = desktop_ids
    return broker
