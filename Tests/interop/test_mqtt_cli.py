"""mosquitto_pub and mosquitto_sub (Debian mosquitto-clients) against the
broker, MQTT 3.1.1 and 5: another client implementation than paho."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from mqtt_helpers import Broker, Login, token, topic_root

VERSIONS = [pytest.param("mqttv311", id="v311"), pytest.param("mqttv5", id="v5")]
# mosquitto_sub's exit status when -W runs out.
SUB_TIMED_OUT = 27


def require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not installed: install the Debian package {package} (`make deps` does)")
    return path


def cli_args(broker: Broker, version: str, login: Login) -> list[str]:
    args = ["-h", broker.host, "-p", str(broker.port), "-V", version, "-i", login.client_id]
    if login.username is not None:
        args += ["-u", login.username]
    if login.password is not None:
        args += ["-P", login.password]
    return args


def publish(broker: Broker, version: str, topic: str, *message: str, qos: int = 1, retain: bool = False,
            login: Login | None = None) -> None:
    """``message``: ("-m", text) or ("-n",) for an empty payload."""
    argv = [require_tool("mosquitto_pub", "mosquitto-clients")] + cli_args(broker, version, login or broker.user())
    argv += ["-t", topic, "-q", str(qos), *message] + (["-r"] if retain else [])
    result = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, f"mosquitto_pub failed ({result.returncode}): {result.stderr}"


def subscriber(broker: Broker, version: str, topic: str, log_path: Path, wait: int = 10,
               debug: bool = False) -> subprocess.Popen[str]:
    argv = [require_tool("mosquitto_sub", "mosquitto-clients")] + cli_args(broker, version, broker.user())
    argv += ["-t", topic, "-q", "1", "-C", "1", "-W", str(wait), "-F", "MSG %r %q %t %p"]
    if debug:
        # -d prints the protocol steps to stdout, which stdio buffers when it
        # is a pipe: stdbuf makes it line-buffered.
        argv = [require_tool("stdbuf", "coreutils"), "-oL"] + argv + ["-d"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=open(log_path, "ab"), text=True,
                            start_new_session=True)


def wait_subscribed(proc: subprocess.Popen[str]) -> list[str]:
    """With -d, mosquitto_sub says "Subscribed (mid: 1): <qos>" once the
    SUBACK is in; returns the lines read so far."""
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("Subscribed"):
            return lines
    proc.kill()
    raise AssertionError(f"mosquitto_sub did not subscribe: {lines}")


def messages(proc: subprocess.Popen[str], timeout: float = 15) -> tuple[int, list[str]]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, [line for line in out.splitlines() if line.startswith("MSG ")]


@pytest.mark.parametrize("version", VERSIONS)
def test_mosquitto_sub_receives_what_mosquitto_pub_sends(mqtt_broker: Broker, version: str, tmp_path: Path) -> None:
    _, _, root = topic_root()
    topic = f"{root}/webrtc-offer"
    text = f"v=0 offer {token()} with spaces"
    proc = subscriber(mqtt_broker, version, topic, tmp_path / "mosquitto_sub.log", debug=True)
    try:
        wait_subscribed(proc)
        publish(mqtt_broker, version, topic, "-m", text, qos=1)
        status, got = messages(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert status == 0, f"mosquitto_sub exited with {status}"
    assert got == [f"MSG 0 1 {topic} {text}"]


@pytest.mark.parametrize("version", VERSIONS)
def test_retained_with_mosquitto_pub_r(mqtt_broker: Broker, version: str, tmp_path: Path) -> None:
    """mosquitto_pub -r leaves a retained message after it disconnects;
    mosquitto_pub -r -n clears it. The publisher is a desktop retaining its
    status, as a real one does (Pod Arcade clears a browser's retained
    session topics when it disconnects, so those would not stay)."""
    desktop_id, _, _ = topic_root()
    desktop = mqtt_broker.desktop(desktop_id)
    topic = f"desktops/{desktop_id}/status"
    publish(mqtt_broker, version, topic, "-m", "online", qos=1, retain=True, login=desktop)

    status, got = messages(subscriber(mqtt_broker, version, topic, tmp_path / "sub-1.log"))
    assert status == 0 and got == [f"MSG 1 1 {topic} online"], \
        f"a later mosquitto_sub did not get the retained message (exit {status}): {got}"

    publish(mqtt_broker, version, topic, "-n", qos=1, retain=True, login=desktop)
    status, got = messages(subscriber(mqtt_broker, version, topic, tmp_path / "sub-2.log", wait=2))
    assert got == [] and status == SUB_TIMED_OUT, \
        f"the retained message is still there after mosquitto_pub -r -n (exit {status}): {got}"
