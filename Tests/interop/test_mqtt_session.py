"""Persistent sessions, the same against mosquitto and ours: MQTT 3.1.1
clean session 0, MQTT 5 clean start 0 with a session expiry interval, and
taking a session over. (The original web client connects with clean
session 0, so these matter for browsers that reconnect.)"""

from __future__ import annotations

import time

import pytest

from mqtt_helpers import V5, V311, Broker, Client, clients, topic_root

VERSIONS = [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")]
QUEUED = 5


def persistent(broker: Broker, version: int, login=None, session_expiry: int | None = 300) -> tuple[Client, bool]:
    """Connects with clean session 0 (3.1.1) / clean start 0 and a session
    expiry interval (5); returns the client and Session Present."""
    client = broker.client(version, login, clean=False)
    connack = client.connect_ok(clean_start=False, session_expiry=session_expiry if version == V5 else None)
    return client, connack.session_present


@pytest.mark.parametrize("version", VERSIONS)
def test_messages_queued_for_a_disconnected_persistent_session(mqtt_broker: Broker, version: int) -> None:
    _, _, root = topic_root()
    topic = f"{root}/offer-ice-candidate"
    login = mqtt_broker.user()
    with clients() as made:
        first, present = persistent(mqtt_broker, version, login)
        made.append(first)
        assert not present, "a new client id must not find a session"
        first.subscribe_ok(topic, qos=1)
        first.disconnect()

        publisher = mqtt_broker.connected(version)
        made.append(publisher)
        payloads = [f"queued {i}".encode() for i in range(QUEUED)]
        for payload in payloads:
            publisher.publish_ok(topic, payload, qos=1)

        again, present = persistent(mqtt_broker, version, login)
        made.append(again)
        assert present, "Session Present must be 1 when the session was kept"
        received = again.expect(QUEUED)
        assert [m.payload for m in received] == payloads, "queued messages lost or reordered"
        assert {m.qos for m in received} == {1}
        assert again.quiet() == []
        # The subscription is part of the session, too.
        publisher.publish_ok(topic, b"live", qos=1)
        assert again.expect_one(topic).payload == b"live"


@pytest.mark.parametrize("version", VERSIONS)
def test_clean_session_discards_the_old_one(mqtt_broker: Broker, version: int) -> None:
    _, _, root = topic_root()
    topic = f"{root}/stats/clean"
    login = mqtt_broker.user()
    with clients() as made:
        first, _ = persistent(mqtt_broker, version, login)
        made.append(first)
        first.subscribe_ok(topic, qos=1)
        first.disconnect()
        publisher = mqtt_broker.connected(version)
        made.append(publisher)
        publisher.publish_ok(topic, b"for the old session", qos=1)

        clean = mqtt_broker.client(version, login, clean=True)
        made.append(clean)
        connack = clean.connect_ok(clean_start=True)
        assert not connack.session_present
        assert clean.quiet() == [], "a clean session got messages queued for the old one"
        publisher.publish_ok(topic, b"after", qos=1)
        assert clean.quiet() == [], "a clean session kept the old session's subscription"


def test_v5_session_expiry_zero_keeps_no_session(mqtt_broker: Broker) -> None:
    """MQTT 5 with Clean Start 0 but no Session Expiry Interval (0): the
    session ends with the network connection."""
    _, _, root = topic_root()
    topic = f"{root}/stats/expiry0"
    login = mqtt_broker.user()
    with clients() as made:
        first, _ = persistent(mqtt_broker, V5, login, session_expiry=None)
        made.append(first)
        first.subscribe_ok(topic, qos=1)
        first.disconnect()
        publisher = mqtt_broker.connected(V5)
        made.append(publisher)
        publisher.publish_ok(topic, b"nobody", qos=1)
        again, present = persistent(mqtt_broker, V5, login, session_expiry=None)
        made.append(again)
        assert not present, "a session with expiry interval 0 outlived its connection"
        assert again.quiet() == []


def test_v5_session_expires(mqtt_broker: Broker) -> None:
    _, _, root = topic_root()
    topic = f"{root}/stats/expiry1"
    login = mqtt_broker.user()
    with clients() as made:
        first, _ = persistent(mqtt_broker, V5, login, session_expiry=1)
        made.append(first)
        first.subscribe_ok(topic, qos=1)
        first.disconnect()
        time.sleep(3.0)
        again, present = persistent(mqtt_broker, V5, login, session_expiry=60)
        made.append(again)
        assert not present, "the session outlived its 1 s expiry interval by 2 s"


@pytest.mark.parametrize("version", VERSIONS)
def test_same_client_id_takes_the_session_over(mqtt_broker: Broker, version: int) -> None:
    """MQTT-3.1.4-2 (3.1.1: MQTT-3.1.4-2 too): a second connection with the
    same client id disconnects the first."""
    _, _, root = topic_root()
    topic = f"{root}/stats/takeover"
    login = mqtt_broker.user()
    with clients() as made:
        first, _ = persistent(mqtt_broker, version, login)
        made.append(first)
        first.subscribe_ok(topic, qos=1)
        second, present = persistent(mqtt_broker, version, login)
        made.append(second)
        assert present, "the second connection did not get the first one's session"
        assert first.closed.wait(5), "the first connection was not closed when its client id connected again"
        if version == V5 and first.disconnect_reason is not None:
            # 0x8E Session taken over, when the broker says why.
            assert first.disconnect_reason >= 0x80
        publisher = mqtt_broker.connected(version)
        made.append(publisher)
        publisher.publish_ok(topic, b"to the new connection", qos=1)
        assert second.expect_one(topic).payload == b"to the new connection"
