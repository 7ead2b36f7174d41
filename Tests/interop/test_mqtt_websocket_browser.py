"""Headless Chromium (selenium) as the WebSocket peer of /mqtt: the browser's
own handshake with subprotocol "mqtt", binary frames both ways, over ws://
and wss:// (generated certificate, accepted by the browser's flag), and a
page served by the server itself, so the origin is the server's."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from http_interop import HttpServer, start_http_server

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
except ImportError as error:  # pragma: no cover - depends on the machine
    pytest.fail(f"selenium is needed ({error}): `make deps` installs it", pytrace=False)

# The browser connects, subscribes, publishes to the same topic and reports what came back.
SCRIPT = r"""
const [url, done] = [arguments[0], arguments[arguments.length - 1]];
const enc = new TextEncoder();
const str = s => { const b = enc.encode(s); return [b.length >> 8, b.length & 255, ...b]; };
const packet = (first, body) => {
  const len = []; let n = body.length;
  do { let d = n % 128; n = Math.floor(n / 128); len.push(n > 0 ? d | 128 : d); } while (n > 0);
  return new Uint8Array([first, ...len, ...body]);
};
const topic = "desktops/browser-desk/sessions/s1/status";
const connect = packet(0x10, [...str("MQTT"), 4, 0x82, 0, 30, ...str("user:browser-" + Date.now()), ...str("user:anonymous")]);
const subscribe = packet(0x82, [0, 1, ...str("desktops/browser-desk/#"), 0]);
const publish = packet(0x30, [...str(topic), ...enc.encode("connecting")]);
const ws = new WebSocket(url, "mqtt");
ws.binaryType = "arraybuffer";
let seen = [];
ws.onopen = () => ws.send(connect);
ws.onerror = () => done({error: "websocket error", protocol: ws.protocol});
ws.onmessage = ev => {
  const bytes = new Uint8Array(ev.data);
  seen.push(bytes[0]);
  if (bytes[0] === 0x20) { ws.send(subscribe); }
  else if (bytes[0] === 0x90) { ws.send(publish); }
  else if ((bytes[0] & 0xf0) === 0x30) {
    done({protocol: ws.protocol, connack: seen[0], payload: new TextDecoder().decode(bytes.slice(2 + 2 + topic.length)), seen});
    ws.close();
  }
};
setTimeout(() => done({error: "timeout", seen, protocol: ws.protocol}), 8000);
"""


@pytest.fixture
def start_http(request: pytest.FixtureRequest, server_binary: Path, tmp_path: Path) -> Iterator[Callable[..., HttpServer]]:
    yield from start_http_server(request, server_binary, tmp_path)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.fail("chromium and chromedriver are needed: install the Debian packages chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--ignore-certificate-errors", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_script_timeout(15)
    yield driver
    driver.quit()


@pytest.mark.parametrize("tls", [pytest.param(False, id="ws"), pytest.param(True, id="wss")])
def test_chromium_speaks_mqtt_over_the_websocket_endpoint(start_http: Callable[..., HttpServer], browser, tls: bool) -> None:
    server = start_http(tls=tls)
    port = server.tls_port if tls else server.http_port
    scheme = "https" if tls else "http"
    browser.get(f"{scheme}://127.0.0.1:{port}/")
    assert "Pod Arcade" in browser.title
    result = browser.execute_async_script(SCRIPT, f"{'wss' if tls else 'ws'}://127.0.0.1:{port}/mqtt")
    assert "error" not in result, result
    assert result["protocol"] == "mqtt"
    assert result["connack"] == 0x20
    assert result["payload"] == "connecting"
