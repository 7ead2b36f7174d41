"""Pod Arcade's own broker rules (shared/spec/protocol.md, MQTT part),
against ours only: pod-arcade-server started with AUTH_REQUIRED=true and
both PSKs (the ``ours_mqtt_auth`` fixture). Skipped unless
POD_ARCADE_MQTT=1 or --pod-arcade-mqtt.

Each refusal test also shows that the allowed neighbour of the refused
action works, so a broker without the rule fails it, and so does one that
refuses everything.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mqtt_helpers import (
    OURS_WRONG_PSK, QUIET, RC_NOT_AUTHORIZED, V5, V311, Broker, Client, Login, Will,
    clients, connect_refused, token, will_client,
)

pytestmark = pytest.mark.ours

VERSIONS = [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")]
FORGED = b"forged"


@pytest.fixture
def broker(ours_mqtt_auth: Broker) -> Broker:
    return ours_mqtt_auth


def desktop_id() -> str:
    return f"d-{token(3)}"


def session_id() -> str:
    return f"s{token(6)}"


def refused_publish(client: Client, broker: Broker, topic: str, retain: bool = False) -> Client:
    """Publishes FORGED to ``topic`` at QoS 1 and checks the broker refused
    it the way its protocol version allows: MQTT 5 PUBACK 0x87 or a closed
    connection; 3.1.1 a PUBACK (no reason codes there) or a closed
    connection. Returns a connected client with the same login (a new one
    if the broker closed the connection)."""
    outcome = client.publish(topic, FORGED, qos=1, retain=retain)
    if client.version == V5:
        assert outcome in (RC_NOT_AUTHORIZED, None), (
            f"{client.name} publishing to {topic!r}: expected PUBACK 0x87 Not authorized or a closed "
            f"connection, got 0x{outcome:02x}"
        )
    if outcome is None or client.closed.is_set():
        client.stop()
        client = broker.connected(client.version, client.login)
    return client


def assert_not_delivered(watcher: Client, within: float = QUIET) -> None:
    forged = [m.topic for m in watcher.quiet(within) if m.payload == FORGED]
    assert not forged, f"a refused publication was delivered on {forged}"


# ---------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_right_psks_accepted(broker: Broker, version: int) -> None:
    with clients() as made:
        made.append(broker.connected(version, broker.desktop(desktop_id())))
        made.append(broker.connected(version, broker.user()))


WRONG = {
    "desktop with a wrong PSK": lambda b: b.desktop(desktop_id(), password=f"wrong-{token()}"),
    "desktop with CLIENT_PSK": lambda b: b.desktop(desktop_id(), password=b.client_psk),
    "desktop without a password": lambda b: Login(f"desktop:{(d := desktop_id())}", d, None),
    "user with a wrong PSK": lambda b: b.user(password=f"wrong-{token()}"),
    "user with DESKTOP_PSK": lambda b: b.user(password=b.desktop_psk),
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", list(WRONG))
def test_wrong_psk_refused(broker: Broker, version: int, case: str) -> None:
    code = connect_refused(broker, version, WRONG[case](broker))
    want = OURS_WRONG_PSK[version]
    assert code == want, f"{case}: CONNACK 0x{code:02x}, expected 0x{want:02x}"


@pytest.mark.parametrize("version", VERSIONS)
def test_user_without_password_refused(broker: Broker, version: int) -> None:
    login = broker.user()
    login.password = None
    code = connect_refused(broker, version, login)
    assert code in {V311: (4, 5), V5: (0x86, 0x87)}[version], f"CONNACK 0x{code:02x}"


# ---------------------------------------------------------------------------
# Who may publish where
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("suffix", ["status", "ice-servers", "sessions/{s}/webrtc-answer",
                                    "sessions/{s}/answer-ice-candidate"])
def test_desktop_cannot_publish_as_another_desktop(broker: Broker, version: int, suffix: str) -> None:
    mine, other, session = desktop_id(), desktop_id(), session_id()
    with clients() as made:
        watcher = broker.connected(version)
        made.append(watcher)
        watcher.subscribe_ok("desktops/#", qos=1)
        desktop = broker.connected(version, broker.desktop(mine))
        made.append(desktop)

        desktop = refused_publish(desktop, broker, f"desktops/{other}/{suffix.format(s=session)}")
        made.append(desktop)
        own = f"desktops/{mine}/{suffix.format(s=session)}"
        desktop.publish_ok(own, b"own", qos=1)
        message = watcher.expect_one()
        assert (message.topic, message.payload) == (own, b"own"), \
            f"expected only the desktop's own publication, got {message.topic}={message.payload!r}"
        assert_not_delivered(watcher)


USER_FORBIDDEN = {
    "desktop status": "desktops/{d}/status",
    "desktop ice-servers": "desktops/{d}/ice-servers",
    "webrtc-answer": "desktops/{d}/sessions/{s}/webrtc-answer",
    "answer-ice-candidate": "desktops/{d}/sessions/{s}/answer-ice-candidate",
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("what", list(USER_FORBIDDEN))
def test_user_cannot_publish_desktop_topics(broker: Broker, version: int, what: str) -> None:
    desktop, session = desktop_id(), session_id()
    with clients() as made:
        # The desktop itself listens below its id, as a real one does.
        watcher = broker.connected(version, broker.desktop(desktop))
        made.append(watcher)
        watcher.subscribe_ok(f"desktops/{desktop}/#", qos=1)
        user = broker.connected(version)
        made.append(user)

        user = refused_publish(user, broker, USER_FORBIDDEN[what].format(d=desktop, s=session), retain=True)
        made.append(user)
        allowed = [f"desktops/{desktop}/sessions/{session}/{name}" for name in ("webrtc-offer", "offer-ice-candidate")]
        for topic in allowed:
            user.publish_ok(topic, b"allowed", qos=1)
        got = watcher.expect(2)
        assert [(m.topic, m.payload) for m in got] == [(t, b"allowed") for t in allowed], \
            f"expected only the user's allowed publications, got {[(m.topic, m.payload) for m in got]}"
        assert_not_delivered(watcher)
        # Nor was it kept as a retained message.
        later = broker.connected(version)
        made.append(later)
        later.subscribe_ok(f"desktops/{desktop}/#", qos=1)
        assert_not_delivered(later)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("who", ["user", "desktop"])
def test_nobody_publishes_server_topics(broker: Broker, version: int, who: str) -> None:
    with clients() as made:
        watcher = broker.connected(version)
        made.append(watcher)
        watcher.subscribe_ok("server/#", "desktops/#", qos=1)
        watcher.quiet()  # the server's own retained server/ice-servers, if any
        mine = desktop_id()
        login = broker.desktop(mine) if who == "desktop" else broker.user()
        client = broker.connected(version, login)
        made.append(client)
        for topic in ("server/ice-servers", f"server/{token()}"):
            client = refused_publish(client, broker, topic, retain=True)
            made.append(client)
        sentinel = f"desktops/{mine}/status" if who == "desktop" else f"desktops/{mine}/sessions/s1/webrtc-offer"
        client.publish_ok(sentinel, b"sentinel", qos=1)
        message = watcher.expect_one()
        assert (message.topic, message.payload) == (sentinel, b"sentinel"), \
            f"a {who}'s publication below server/ was delivered ({message.topic})"
        assert_not_delivered(watcher)
        later = broker.connected(version)
        made.append(later)
        later.subscribe_ok("server/#", qos=1)
        assert_not_delivered(later)


OUTSIDE = ["foo/bar", "$foo/bar", "$SYS/broker/version", "desktops", "desktopsx/a/status", "/desktops/a/status",
           "Desktops/a/status", "server"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("who", ["user", "desktop"])
def test_topics_outside_the_tree_refused(broker: Broker, version: int, who: str) -> None:
    with clients() as made:
        # Whatever of these filters the broker lets a user subscribe to
        # (ours refuses them all), and the tree for the sentinel.
        outside = broker.connected(version)
        watcher = broker.connected(version)
        made += [outside, watcher]
        outside.subscribe(("#", 1), ("$foo/#", 1), ("$SYS/#", 1), ("/#", 1), ("+/a/status", 1))
        watcher.subscribe_ok("desktops/#", qos=1)
        outside.quiet()
        watcher.quiet()
        mine = desktop_id()
        login = broker.desktop(mine) if who == "desktop" else broker.user()
        client = broker.connected(version, login)
        made.append(client)
        for topic in OUTSIDE:
            client = refused_publish(client, broker, topic)
            made.append(client)
        sentinel = f"desktops/{mine}/status" if who == "desktop" else f"desktops/{mine}/sessions/s1/webrtc-offer"
        client.publish_ok(sentinel, b"sentinel", qos=1)
        message = watcher.expect_one()
        assert (message.topic, message.payload) == (sentinel, b"sentinel"), \
            f"a publication outside desktops/ was delivered ({message.topic})"
        assert_not_delivered(watcher)
        assert_not_delivered(outside)


# ---------------------------------------------------------------------------
# Retained session topics
# ---------------------------------------------------------------------------

def retained_below(broker: Broker, version: int, topic_filter: str) -> dict[str, bytes]:
    """What a fresh subscriber gets as retained messages on ``topic_filter``."""
    client = broker.connected(version)
    try:
        client.subscribe_ok(topic_filter, qos=1)
        return {m.topic: m.payload for m in client.quiet() if m.retain}
    finally:
        client.disconnect()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("how", ["clean DISCONNECT", "SIGKILL"])
def test_retained_session_topics_cleared_when_client_leaves(
    broker: Broker, version: int, how: str, tmp_path: Path
) -> None:
    """A browser publishes its session's status retained; when it goes away
    (cleanly, or killed so that its retained will fires as the original web
    client's does), a new subscriber finds nothing retained for that
    session. Another session's and the desktop's retained topics stay."""
    desktop = desktop_id()
    leaving, staying = session_id(), session_id()
    base = f"desktops/{desktop}"
    gone = {f"{base}/sessions/{leaving}/status": b"connected", f"{base}/sessions/{leaving}/stats/fps": b"60"}
    kept = {f"{base}/sessions/{staying}/status": b"connected", f"{base}/status": b"online"}
    with clients() as made:
        desktop_client = broker.connected(version, broker.desktop(desktop))
        made.append(desktop_client)
        desktop_client.publish_ok(f"{base}/status", b"online", qos=1, retain=True)
        other_user = broker.connected(version)
        made.append(other_user)
        other_user.publish_ok(f"{base}/sessions/{staying}/status", b"connected", qos=1, retain=True)

        if how == "clean DISCONNECT":
            user = broker.connected(version)
            made.append(user)
            for topic, payload in gone.items():
                user.publish_ok(topic, payload, qos=1, retain=True)
            before = retained_below(broker, version, f"{base}/#")
            user.disconnect()
        else:
            will = Will(f"{base}/sessions/{leaving}/status", b"disconnected", qos=1, retain=True)
            with will_client(broker, version, broker.user(), will, tmp_path / "will-client.log", clean=False,
                             retained=[(t, p.decode()) for t, p in gone.items()]) as process:
                before = retained_below(broker, version, f"{base}/#")
                process.kill()
        assert before == {**gone, **kept}, f"retained messages while the session's client was connected: {before}"

        deadline = time.monotonic() + 3.0
        while True:
            after = retained_below(broker, version, f"{base}/#")
            if after == kept or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert after == kept, (
            f"after the session's client left ({how}), retained below {base}/ is {after}; "
            f"expected only the other session's and the desktop's {kept}"
        )


@pytest.mark.parametrize("version", VERSIONS)
def test_desktop_status_stays_retained_after_desktop_dies(broker: Broker, version: int, tmp_path: Path) -> None:
    """The desktop's retained status is not a session topic: after a
    desktop is killed, its retained will ``offline`` stays for browsers to
    see, and so does its retained ice-servers."""
    desktop = desktop_id()
    base = f"desktops/{desktop}"
    will = Will(f"{base}/status", b"offline", qos=1, retain=True)
    retained = [(f"{base}/status", "online"), (f"{base}/ice-servers", "[]")]
    with will_client(broker, version, broker.desktop(desktop), will, tmp_path / "will-client.log",
                     retained=retained) as process:
        assert retained_below(broker, version, f"{base}/#") == {f"{base}/status": b"online", f"{base}/ice-servers": b"[]"}
        process.kill()
    deadline = time.monotonic() + 3.0
    while True:
        after = retained_below(broker, version, f"{base}/#")
        if after.get(f"{base}/status") == b"offline" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert after == {f"{base}/status": b"offline", f"{base}/ice-servers": b"[]"}, \
        f"retained below {base}/ after the desktop was killed: {after}"
