"""Fixtures for the web client tests (Tests/interop/test_web_*.py).

``web_stack`` is the ONE place that decides what serves the page. Until
pod-arcade-server serves HTTP, it is a stand-in:

- Debian's mosquitto with a TCP listener (for desktops and the tests) and a
  WebSocket listener; with ``auth="psk"`` a password file and an ACL that
  imitate the Pod Arcade rules (see ``_mosquitto_auth_lines``);
- a Python HTTP server on a free loopback port serving
  ``Sources/ServerHost/WebClient`` (falling back to index.html for the
  single-page app's routes), ``GET /config.json``, and ``/mqtt``: a
  byte-for-byte splice of the WebSocket upgrade and everything after it to
  mosquitto's WebSocket listener, so the page talks to ``/mqtt`` on its own
  origin exactly as it will with the real server.

Switching to the real server means starting pod-arcade-server in
``_start_stack`` instead (HTTP_PORT, MQTT_PORT, AUTH_REQUIRED, CLIENT_PSK,
DESKTOP_PSK) and returning the same ``WebStack``.

``browser`` is headless Chromium through selenium, with the flags that make
WebRTC work on loopback (real-peers.md). ``desktop_standin`` starts
``desktop_standin.py`` (an aiortc desktop) as a separate process.

Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import conftest
import mqtt_helpers

REPO_ROOT = Path(__file__).resolve().parents[2]
WEB_ROOT = REPO_ROOT / "Sources" / "ServerHost" / "WebClient"
SCREENSHOT_DIR = REPO_ROOT / "Docs" / "screenshots"
HOST = "127.0.0.1"
WAIT = 15.0

# The MQTT user name the page sends with a PSK (js/auth.js PSK_USERNAME). protocol.md fixes
# only the password; mosquitto's password file cannot hold a ':' in a user name.
PSK_USERNAME = "psk-user"

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--window-size=1280,800",
)


@dataclasses.dataclass
class WebStack:
    """Where the page is served and how desktops and tests reach the broker."""

    url: str  # the page, e.g. http://127.0.0.1:PORT/
    auth: str  # none | psk | oidc
    mqtt_host: str
    mqtt_port: int  # MQTT over TCP, for desktops and the tests
    client_psk: str | None
    desktop_psk: str | None
    config: dict[str, Any]
    broker: mqtt_helpers.Broker
    log_paths: list[Path] = dataclasses.field(default_factory=list)
    drop_websockets: Callable[[], int] | None = None  # cuts the page's /mqtt connections
    backend: str = "standin"  # or "ours": pod-arcade-server

    def require_standin(self, why: str) -> None:
        """Skips the test when the real server serves the page (``why`` says what it lacks)."""
        if self.backend != "standin":
            pytest.skip(f"needs the stand-in: {why}")

    def page(self, path: str = "/") -> str:
        return self.url.rstrip("/") + path

    def desktop_client(self, desktop_id: str) -> mqtt_helpers.Client:
        """A connected MQTT 3.1.1 client logged in as desktop ``desktop_id``, with the
        desktop's will (``offline``, retained, on its status topic)."""
        login = mqtt_helpers.Login(f"desktop:{desktop_id}-{secrets.token_hex(3)}", desktop_id, self.desktop_psk)
        will = mqtt_helpers.Will(f"desktops/{desktop_id}/status", b"offline", qos=1, retain=True)
        return self.broker.connected(mqtt_helpers.V311, login, will=will)

    def user_client(self) -> mqtt_helpers.Client:
        """A connected MQTT 3.1.1 client logged in as a browser user."""
        login = mqtt_helpers.Login(f"user:test-{secrets.token_hex(3)}", PSK_USERNAME if self.client_psk else
                                   "user:anonymous", self.client_psk)
        return self.broker.connected(mqtt_helpers.V311, login)


# ---------------------------------------------------------------------------
# The HTTP stand-in
# ---------------------------------------------------------------------------

class _StandInHandler(SimpleHTTPRequestHandler):
    server: _StandInServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(WEB_ROOT), **kwargs)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        with open(self.server.log_path, "a") as log:
            log.write("%s %s\n" % (self.address_string(), format % args))

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        if path == "/mqtt":
            self._splice_websocket()
            return
        if path == "/config.json":
            body = json.dumps(self.server.config).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        # Single-page app: routes without a file extension get index.html.
        if "." not in path.rsplit("/", 1)[-1] and not (WEB_ROOT / path.lstrip("/")).is_file():
            self.path = "/index.html"
        super().do_GET()

    def guess_type(self, path: Any) -> str:
        if str(path).endswith(".js"):
            return "text/javascript"
        return super().guess_type(path)

    def _splice_websocket(self) -> None:
        if self.headers.get("Upgrade", "").lower() != "websocket":
            self.send_error(426, "WebSocket upgrade required")
            return
        try:
            upstream = socket.create_connection((HOST, self.server.ws_port), timeout=5)
        except OSError as error:
            self.send_error(502, f"broker unreachable: {error}")
            return
        request = [self.requestline] + [f"{name}: {value}" for name, value in self.headers.items()]
        upstream.sendall(("\r\n".join(request) + "\r\n\r\n").encode("latin-1"))
        upstream.settimeout(None)
        client = self.connection
        client.settimeout(None)
        self.close_connection = True
        sockets = [client, upstream]
        with self.server.lock:
            self.server.websockets.add(client)
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 1.0)
                if self.server.stopping.is_set():
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
        except OSError:
            return
        finally:
            with self.server.lock:
                self.server.websockets.discard(client)
            upstream.close()


class _StandInServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, ws_port: int, config: dict[str, Any], log_path: Path) -> None:
        super().__init__((HOST, 0), _StandInHandler)
        self.ws_port = ws_port
        self.config = config
        self.log_path = log_path
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.websockets: set[socket.socket] = set()

    def drop_websockets(self) -> int:
        """Cuts every spliced /mqtt connection (no WebSocket close frame): a network loss
        as the page sees it. Returns how many were cut."""
        with self.lock:
            cut = list(self.websockets)
        for sock in cut:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(cut)


def _mosquitto_auth_lines(tmp_path: Path, client_psk: str, desktop_psk: str, desktop_ids: list[str]) -> list[str]:
    """A password file (the browser user and each desktop id) and an ACL: a desktop, whose
    user name is its id, may write only below desktops/<id>/; the browser may write session
    topics and read everything below desktops/ and server/."""
    passwd = conftest._find_program("mosquitto_passwd", "mosquitto")
    password_file = tmp_path / "web-mosquitto.passwd"
    entries = [(PSK_USERNAME, client_psk)] + [(d, desktop_psk) for d in desktop_ids]
    for index, (name, password) in enumerate(entries):
        argv = [passwd, "-b"] + (["-c"] if index == 0 else []) + [str(password_file), name, password]
        subprocess.run(argv, check=True, capture_output=True, timeout=30)
    acl_file = tmp_path / "web-mosquitto.acl"
    acl_file.write_text(
        "pattern readwrite desktops/%u/#\n"
        "pattern read server/#\n"
        f"user {PSK_USERNAME}\n"
        "topic readwrite desktops/+/sessions/#\n"
        "topic read desktops/#\n"
        "topic read server/#\n"
    )
    return [f"password_file {password_file}", f"acl_file {acl_file}"]


WEB_BACKEND_ENV = "POD_ARCADE_WEB_BACKEND"  # "ours" (default) or "standin"


def web_backend() -> str:
    value = os.environ.get(WEB_BACKEND_ENV, "ours").strip().lower() or "ours"
    if value not in ("standin", "ours"):
        raise pytest.UsageError(f"{WEB_BACKEND_ENV}={value!r}: expected standin or ours")
    return value


@pytest.fixture
def web_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., WebStack]]:
    """``web_stack(auth="none"|"psk", desktop_ids=[...], config=None, ice_servers=None)`` -> ``WebStack``.

    ``desktop_ids`` are the desktops that may log in (the stand-in's password file needs
    them; the real server accepts any id with the desktop PSK). ``config`` overrides the
    /config.json document (the OIDC tests use it; stand-in only). ``ice_servers`` is the
    retained ``server/ice-servers`` list (the real server's ``ICE_SERVERS``).

    By default pod-arcade-server serves everything (HTTP_PORT, MQTT_PORT, AUTH_REQUIRED,
    CLIENT_PSK, DESKTOP_PSK, ICE_SERVERS); ``backend="standin"`` (or a custom ``config``) asks for
    the Python server + mosquitto stand-in, for tests that cut the page's WebSocket or read the
    broker's log. ``POD_ARCADE_WEB_BACKEND=standin`` runs everything against the stand-in."""
    servers: list[_StandInServer] = []
    ours: list[conftest.RunningProcess] = []

    def start(auth: str = "none", desktop_ids: list[str] = (), config: dict[str, Any] | None = None,
              ice_servers: list[dict[str, Any]] | None = None, backend: str | None = None) -> WebStack:
        client_psk = f"client-{secrets.token_hex(6)}" if auth == "psk" else None
        desktop_psk = f"desktop-{secrets.token_hex(6)}" if auth == "psk" else None
        # A custom /config.json (the OIDC page tests) or a broker the test can cut behind the
        # page needs the stand-in; everything else runs against pod-arcade-server.
        chosen = backend or ("standin" if config is not None else web_backend())
        if chosen == "ours":
            return _start_ours(request, tmp_path, ours, auth, client_psk, desktop_psk, ice_servers)
        ws_port = conftest.pick_free_udp_port(tcp_too=True)
        extra = [f"listener {ws_port} {HOST}", "protocol websockets"]
        if auth == "psk":
            extra = _mosquitto_auth_lines(tmp_path, client_psk, desktop_psk, list(desktop_ids)) + extra
        mosquitto = request.getfixturevalue("start_mosquitto")(extra, anonymous=auth != "psk")
        document = config if config is not None else {"auth_method": auth}
        log_path = tmp_path / f"http-standin-{len(servers)}.log"
        log_path.write_text("")
        server = _StandInServer(ws_port, document, log_path)
        threading.Thread(target=server.serve_forever, name="http-standin", daemon=True).start()
        servers.append(server)
        broker = mqtt_helpers.Broker(
            "mosquitto", HOST, mosquitto.port, mosquitto, desktop_psk=desktop_psk, client_psk=client_psk,
            user_name=PSK_USERNAME if auth == "psk" else None, desktop_ids=list(desktop_ids),
        )
        stack = WebStack(
            url=f"http://{HOST}:{server.server_address[1]}/", auth=auth, mqtt_host=HOST,
            mqtt_port=mosquitto.port, client_psk=client_psk, desktop_psk=desktop_psk, config=document,
            broker=broker, log_paths=[mosquitto.log_path, log_path], drop_websockets=server.drop_websockets,
        )
        if ice_servers is not None:
            # What the server does with ICE_SERVERS; the stand-in's ACL lets the user write server/#
            # only in the anonymous setup, so publish as a user there and refuse otherwise.
            if auth != "none":
                raise ValueError("the stand-in publishes server/ice-servers only with auth none")
            publisher = stack.user_client()
            publisher.publish_ok("server/ice-servers", json.dumps(ice_servers), qos=1, retain=True)
            publisher.stop()
        return stack

    yield start
    for server in servers:
        server.stopping.set()
        server.shutdown()
        server.server_close()
    conftest._stop_all(ours)


def _start_ours(request: pytest.FixtureRequest, tmp_path: Path, started: list[conftest.RunningProcess],
                auth: str, client_psk: str | None, desktop_psk: str | None,
                ice_servers: list[dict[str, Any]] | None) -> WebStack:
    """pod-arcade-server serving the page, /config.json and /mqtt on HTTP_PORT and MQTT over
    TCP on MQTT_PORT (for the desktops and the tests)."""
    binary = request.getfixturevalue("server_binary")
    http_port = conftest.pick_free_udp_port(tcp_too=True)
    mqtt_port = conftest.pick_free_udp_port(tcp_too=True, exclude=(http_port,))
    env = {k: v for k, v in os.environ.items() if k not in conftest._SERVER_SETTINGS}
    env.update(HTTP_PORT=str(http_port), MQTT_PORT=str(mqtt_port), STUN_PORT="-1", LOG_LEVEL="debug")
    if auth == "psk":
        env.update(AUTH_REQUIRED="true", CLIENT_PSK=client_psk, DESKTOP_PSK=desktop_psk)
    elif auth != "none":
        raise ValueError(f"auth {auth!r} is not set up for the real server here")
    if ice_servers is not None:
        env["ICE_SERVERS"] = json.dumps(ice_servers)
    log_path = tmp_path / f"pod-arcade-server-web-{len(started)}.log"
    server = conftest._start("pod-arcade-server", [str(binary)], env, log_path, mqtt_port)
    started.append(server)
    conftest._register(request, server)
    conftest.wait_until_mqtt_answering(server)
    url = f"http://{HOST}:{http_port}/"
    deadline = time.monotonic() + conftest.READY_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(url + "config.json", timeout=1) as response:
                document = json.load(response)
            break
        except (OSError, ValueError) as error:
            if time.monotonic() > deadline or not server.alive():
                server.exit_expected = True
                pytest.fail(f"pod-arcade-server did not serve {url}config.json ({error})")
            time.sleep(0.1)
    broker = mqtt_helpers.Broker("ours", HOST, mqtt_port, server, desktop_psk=desktop_psk, client_psk=client_psk,
                                 user_name=PSK_USERNAME if auth == "psk" else None)
    return WebStack(url=url, auth=auth, mqtt_host=HOST, mqtt_port=mqtt_port, client_psk=client_psk,
                    desktop_psk=desktop_psk, config=document, broker=broker, log_paths=[log_path],
                    backend="ours")


# ---------------------------------------------------------------------------
# The browser
# ---------------------------------------------------------------------------

class Browser:
    """A selenium Chrome driver plus helpers to wait and to run module code in the page."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def __getattr__(self, name: str) -> Any:
        return getattr(self.driver, name)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = WAIT, what: str = "condition") -> Any:
        """Polls ``predicate`` every 50 ms until it returns something truthy."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                value = predicate()
                if value:
                    return value
            except Exception as error:  # noqa: BLE001 - elements come and go while the page renders
                last_error = error
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}"
                             + (f" (last error: {last_error})" if last_error else "")
                             + f"\nbrowser console:\n{self.console_text()}")

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def module(self, body: str, *args: Any, timeout: float = WAIT) -> Any:
        """Runs ``body`` as an async function in the page (``await import(...)`` works);
        ``args`` are ``arguments`` there. Returns its result; raises on a thrown error."""
        self.driver.set_script_timeout(timeout)
        script = (
            "const done = arguments[arguments.length - 1];"
            "const args = Array.prototype.slice.call(arguments, 0, -1);"
            f"(async (...arguments) => {{ {body} }})(...args)"
            ".then((value) => done({ok: true, value}), (error) => done({ok: false, error: String(error && error.stack || error)}));"
        )
        result = self.driver.execute_async_script(script, *args)
        if not result["ok"]:
            raise AssertionError(f"script failed in the browser: {result['error']}")
        return result["value"]

    def console_text(self) -> str:
        try:
            entries = self.driver.get_log("browser")
        except Exception as error:  # noqa: BLE001
            return f"(no console log: {error})"
        return "\n".join(f"{e.get('level')} {e.get('message')}" for e in entries[-60:]) or "(empty)"


def _launch_browser(profile_dir: Path) -> Browser:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        pytest.fail(f"the Python package selenium is not installed ({error}): `make deps` installs it")
    chromium = shutil.which("chromium") or conftest.require_tool("chromium", "chromium")
    chromedriver = shutil.which("chromedriver") or conftest.require_tool("chromedriver", "chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=chromedriver, log_output=str(profile_dir / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_window_size(1280, 800)
    return Browser(driver)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """Headless Chromium (Debian's chromium and chromium-driver) through selenium."""
    launched = _launch_browser(tmp_path)
    yield launched
    launched.driver.quit()


@pytest.fixture(scope="module")
def static_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One browser for a whole test module, on the page served without a broker (for tests
    that only import the page's modules, such as the input encoder's)."""
    folder = tmp_path_factory.mktemp("static-page")
    log_path = folder / "http-standin.log"
    log_path.write_text("")
    server = _StandInServer(0, {"auth_method": "none"}, log_path)
    threading.Thread(target=server.serve_forever, name="http-standin", daemon=True).start()
    launched = _launch_browser(folder)
    try:
        launched.get(f"http://{HOST}:{server.server_address[1]}/")
        launched.wait_for(lambda: launched.js("return document.querySelector('.brand') !== null"), what="the page")
        yield launched
    finally:
        launched.driver.quit()
        server.stopping.set()
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------------
# The desktop stand-in (desktop_standin.py, aiortc)
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class StandIn:
    process: conftest.RunningProcess
    desktop_id: str
    record_path: Path

    def records(self) -> list[dict[str, Any]]:
        """What desktop_standin.py wrote: one JSON object per line."""
        try:
            lines = self.record_path.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("event") == kind]


@pytest.fixture
def desktop_standin(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., StandIn]]:
    """``desktop_standin(stack, desktop_id)`` starts desktop_standin.py against the stack's
    broker and waits until it has published ``online``."""
    started: list[conftest.RunningProcess] = []

    def start(stack: WebStack, desktop_id: str, *extra_args: str) -> StandIn:
        record_path = tmp_path / f"standin-{desktop_id}.jsonl"
        argv = [sys.executable, str(Path(__file__).with_name("desktop_standin.py")),
                "--host", stack.mqtt_host, "--port", str(stack.mqtt_port), "--id", desktop_id,
                "--record", str(record_path), *extra_args]
        env = dict(os.environ)
        if stack.desktop_psk:
            env["DESKTOP_PSK"] = stack.desktop_psk
        log_path = tmp_path / f"standin-{desktop_id}.log"
        process = conftest._start(f"desktop_standin {desktop_id}", argv, env, log_path, stack.mqtt_port)
        started.append(process)
        conftest._register(request, process)
        standin = StandIn(process, desktop_id, record_path)
        deadline = time.monotonic() + WAIT
        while not standin.events("online"):
            if not process.alive():
                process.exit_expected = True
                pytest.fail(f"desktop_standin.py exited with {process.proc.returncode}:\n{process.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"desktop_standin.py did not come online within {WAIT:.0f} s:\n{process.log_tail()}")
            time.sleep(0.05)
        return standin

    yield start
    conftest._stop_all(started)


def save_screenshot(browser: Browser, name: str) -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / name
    browser.driver.save_screenshot(str(path))
    return path
