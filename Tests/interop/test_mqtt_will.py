"""Last will, the same against mosquitto and ours.

The client with the will runs as a separate Python process
(``mqtt_helpers.py will-client``), so that it can be SIGKILLed: the broker
then sees the TCP connection end without DISCONNECT, as when a browser tab
or a desktop crashes.

The will is the one Pod Arcade uses for a session: ``disconnected`` on
``desktops/<d>/sessions/<s>/status`` (not retained here; retained session
topics are the subject of test_mqtt_pod_arcade_rules.py).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mqtt_helpers import (
    QUIET, RC_DISCONNECT_WITH_WILL, V5, V311, Broker, Will, clients, topic_root, will_client,
)

VERSIONS = [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")]
WILL_DELAY = 2
# How late a will (or a will after its delay) may arrive. mosquitto checks
# delayed wills once a second.
WILL_SLACK = 3.0


def session_will(delay: int | None = None) -> tuple[str, Will]:
    _, _, root = topic_root()
    status = f"{root}/status"
    return status, Will(status, b"disconnected", qos=1, retain=False, delay=delay)


@pytest.mark.parametrize("version", VERSIONS)
def test_will_published_when_client_is_killed(mqtt_broker: Broker, version: int, tmp_path: Path) -> None:
    status, will = session_will()
    with clients() as made:
        watcher = mqtt_broker.connected(version)
        made.append(watcher)
        watcher.subscribe_ok(status, qos=1)
        with will_client(mqtt_broker, version, mqtt_broker.user(), will, tmp_path / "will-client.log") as client:
            assert watcher.quiet(0.3) == [], "the will was published while its client was still connected"
            killed_at = client.kill()
            message = watcher.expect_one(status, timeout=WILL_SLACK)
        assert (message.payload, message.qos) == (b"disconnected", 1)
        assert message.at - killed_at < WILL_SLACK
        assert watcher.quiet() == [], "the will was published more than once"


@pytest.mark.parametrize("version", VERSIONS)
def test_no_will_after_clean_disconnect(mqtt_broker: Broker, version: int, tmp_path: Path) -> None:
    status, will = session_will()
    with clients() as made:
        watcher = mqtt_broker.connected(version)
        made.append(watcher)
        watcher.subscribe_ok(status, qos=1)
        with will_client(mqtt_broker, version, mqtt_broker.user(), will, tmp_path / "will-client.log") as client:
            client.send("disconnect")
            assert client.proc.stdout is not None
            assert client.proc.stdout.readline().strip() == "DISCONNECTED"
            assert client.proc.wait(5) == 0
        assert watcher.quiet(1.5) == [], "the will was published after a clean DISCONNECT"
        # The watcher still works, so the silence above means something.
        publisher = mqtt_broker.connected(version)
        made.append(publisher)
        publisher.publish_ok(status, b"closed", qos=1)
        assert watcher.expect_one(status).payload == b"closed"


def test_v5_disconnect_with_will_message_publishes_will(mqtt_broker: Broker) -> None:
    """MQTT 5: DISCONNECT with reason code 0x04 asks the server to publish
    the will anyway."""
    status, will = session_will()
    with clients() as made:
        watcher = mqtt_broker.connected(V5)
        made.append(watcher)
        watcher.subscribe_ok(status, qos=1)
        client = mqtt_broker.connected(V5, will=will)
        made.append(client)
        client.disconnect(reason_code=RC_DISCONNECT_WITH_WILL)
        assert watcher.expect_one(status, timeout=WILL_SLACK).payload == b"disconnected"


def test_v5_will_delay_is_honoured(mqtt_broker: Broker, tmp_path: Path) -> None:
    """Will Delay Interval 2 s with a session that outlives it: the will
    comes no earlier than 2 s after the connection is lost."""
    status, will = session_will(delay=WILL_DELAY)
    with clients() as made:
        watcher = mqtt_broker.connected(V5)
        made.append(watcher)
        watcher.subscribe_ok(status, qos=1)
        login = mqtt_broker.user()
        with will_client(mqtt_broker, V5, login, will, tmp_path / "will-client.log", session_expiry=60) as client:
            killed_at = client.kill()
            message = watcher.expect_one(status, timeout=WILL_DELAY + WILL_SLACK)
        waited = message.at - killed_at
        assert waited >= WILL_DELAY, f"the will came {waited:.2f} s after the kill, before its {WILL_DELAY} s delay"
        assert waited <= WILL_DELAY + WILL_SLACK
        assert message.payload == b"disconnected"
        # Clean up the session that the will client left behind.
        ender = mqtt_broker.connected(V5, login, clean_start=True)
        made.append(ender)


def test_v5_will_not_sent_when_client_reconnects_within_delay(mqtt_broker: Broker, tmp_path: Path) -> None:
    """MQTT-3.1.3-9: a new network connection to the session before the
    Will Delay Interval has passed cancels the will."""
    status, will = session_will(delay=WILL_DELAY)
    with clients() as made:
        watcher = mqtt_broker.connected(V5)
        made.append(watcher)
        watcher.subscribe_ok(status, qos=1)
        login = mqtt_broker.user()
        with will_client(mqtt_broker, V5, login, will, tmp_path / "will-client.log", session_expiry=60) as client:
            killed_at = client.kill()
            # Same client id, continuing the session (Clean Start 0).
            again = mqtt_broker.client(V5, login)
            made.append(again)
            connack = again.connect_ok(clean_start=False, session_expiry=60)
        assert time.monotonic() - killed_at < WILL_DELAY, "reconnecting took longer than the will delay"
        assert connack.session_present, "the session did not survive the killed connection"
        late = watcher.quiet(WILL_DELAY + WILL_SLACK)
        assert late == [], f"the will was published although the client came back within {WILL_DELAY} s"
        again.disconnect()
        assert watcher.quiet(QUIET) == [], "the will was published after the later clean DISCONNECT"


def test_v5_will_sent_when_session_ends_before_delay(mqtt_broker: Broker, tmp_path: Path) -> None:
    """The will waits for the delay or the end of the session, whichever
    comes first (MQTT 5, 3.1.3.2.2): Session Expiry 1 s, Will Delay 30 s."""
    status, will = session_will(delay=30)
    with clients() as made:
        watcher = mqtt_broker.connected(V5)
        made.append(watcher)
        watcher.subscribe_ok(status, qos=1)
        with will_client(mqtt_broker, V5, mqtt_broker.user(), will, tmp_path / "will-client.log",
                         session_expiry=1) as client:
            killed_at = client.kill()
            message = watcher.expect_one(status, timeout=1 + WILL_SLACK)
        assert message.at - killed_at <= 1 + WILL_SLACK
        assert message.payload == b"disconnected"
