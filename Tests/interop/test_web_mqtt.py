"""The page's own MQTT 3.1.1 client (js/mqtt.js), in headless Chromium: the codec byte for
byte (OASIS MQTT 3.1.1), packet reassembly, and the client against mosquitto over the
WebSocket at /mqtt (QoS 0 and 1, retained, will, keep-alive, reconnection)."""

from __future__ import annotations

import secrets
import struct
import time

import pytest

from web_support import browser, static_page, web_stack  # noqa: F401 - fixtures

import mqtt_helpers


def mqtt(page, body: str, *args):
    return page.module("const m = await import('/js/mqtt.js'); const bytes = (a) => Array.from(a);" + body, *args)


def utf8(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">H", len(data)) + data


def test_connect_carries_will_user_name_and_password(static_page) -> None:
    got = mqtt(static_page, """
        return bytes(m.encodeConnect({clientId: 'user:abc', keepAlive: 30, username: 'u', password: 'p',
                                      will: {topic: 'w/t', payload: 'bye', qos: 1, retain: true}}));
    """)
    body = utf8("MQTT") + bytes([4, 0xEE]) + struct.pack(">H", 30)
    body += utf8("user:abc") + utf8("w/t") + utf8("bye") + utf8("u") + utf8("p")
    assert bytes(got) == bytes([0x10, len(body)]) + body


def test_connect_without_credentials_sets_only_clean_session(static_page) -> None:
    got = mqtt(static_page, "return bytes(m.encodeConnect({clientId: 'user:x', keepAlive: 0}));")
    body = utf8("MQTT") + bytes([4, 0x02, 0, 0]) + utf8("user:x")
    assert bytes(got) == bytes([0x10, len(body)]) + body


def test_a_password_without_a_user_name_is_refused(static_page) -> None:
    with pytest.raises(AssertionError, match="user name"):
        mqtt(static_page, "return m.encodeConnect({clientId: 'user:x', password: 'p'});")


def test_publish_subscribe_and_acknowledgements_are_encoded_as_the_standard_says(static_page) -> None:
    got = mqtt(static_page, """
        return [bytes(m.encodePublish({topic: 'a/b', payload: 'hi'})),
                bytes(m.encodePublish({topic: 'a/b', payload: new Uint8Array([0, 255]), qos: 1, retain: true, packetId: 0x1234})),
                bytes(m.encodePublish({topic: 'a', payload: '', qos: 1, dup: true, packetId: 1})),
                bytes(m.encodeSubscribe(7, [{filter: 'desktops/+/status', qos: 1}, {filter: 'server/#', qos: 0}])),
                bytes(m.encodeUnsubscribe(8, ['desktops/+/status'])),
                bytes(m.encodePuback(0xBEEF)), bytes(m.PINGREQ), bytes(m.DISCONNECT)];
    """)
    assert bytes(got[0]) == bytes([0x30, 7]) + utf8("a/b") + b"hi"
    assert bytes(got[1]) == bytes([0x33, 9]) + utf8("a/b") + b"\x12\x34" + b"\x00\xff"
    assert bytes(got[2]) == bytes([0x3A, 5]) + utf8("a") + b"\x00\x01"
    subscribe = b"\x00\x07" + utf8("desktops/+/status") + b"\x01" + utf8("server/#") + b"\x00"
    assert bytes(got[3]) == bytes([0x82, len(subscribe)]) + subscribe
    unsubscribe = b"\x00\x08" + utf8("desktops/+/status")
    assert bytes(got[4]) == bytes([0xA2, len(unsubscribe)]) + unsubscribe
    assert bytes(got[5]) == b"\x40\x02\xbe\xef"
    assert bytes(got[6]) == b"\xc0\x00"
    assert bytes(got[7]) == b"\xe0\x00"


@pytest.mark.parametrize(("length", "encoded"), [
    (0, [0x00]), (127, [0x7F]), (128, [0x80, 0x01]), (16_383, [0xFF, 0x7F]),
    (16_384, [0x80, 0x80, 0x01]), (2_097_151, [0xFF, 0xFF, 0x7F]),
    (2_097_152, [0x80, 0x80, 0x80, 0x01]), (268_435_455, [0xFF, 0xFF, 0xFF, 0x7F]),
])
def test_remaining_length_matches_the_table_of_section_2_2_3(static_page, length: int, encoded: list[int]) -> None:
    assert mqtt(static_page, "return m.encodeRemainingLength(arguments[0]);", length) == encoded


def test_a_remaining_length_beyond_four_bytes_cannot_be_encoded(static_page) -> None:
    with pytest.raises(AssertionError, match="RangeError"):
        mqtt(static_page, "return m.encodeRemainingLength(268435456);")


def test_packets_are_reassembled_when_they_arrive_one_byte_at_a_time(static_page) -> None:
    got = mqtt(static_page, """
        const stream = [...m.encodePublish({topic: 'x/y', payload: 'z'.repeat(300), qos: 1, packetId: 5}),
                        0x20, 0x02, 0x00, 0x00,  // CONNACK
                        0xd0, 0x00];             // PINGRESP
        const reader = new m.PacketReader();
        const packets = [];
        for (const b of stream) packets.push(...reader.push(Uint8Array.of(b)));
        const pub = m.decodePublish(packets[0].flags, packets[0].body);
        return {types: packets.map((p) => p.type), topic: pub.topic, qos: pub.qos, id: pub.packetId,
                size: pub.payload.length, connack: m.decodeConnack(packets[1].body), left: reader.buffer.length};
    """)
    assert got == {"types": [3, 2, 13], "topic": "x/y", "qos": 1, "id": 5, "size": 300,
                   "connack": {"sessionPresent": False, "returnCode": 0}, "left": 0}


def test_several_packets_in_one_frame_and_one_split_across_frames(static_page) -> None:
    got = mqtt(static_page, """
        const a = m.encodePublish({topic: 't', payload: 'one'});
        const b = m.encodePublish({topic: 't', payload: 'two'});
        const both = new Uint8Array([...a, ...b, ...a.subarray(0, 3)]);
        const reader = new m.PacketReader();
        const first = reader.push(both).length;
        const second = reader.push(a.subarray(3)).length;
        return [first, second];
    """)
    assert got == [2, 1]


@pytest.mark.parametrize(("stream", "error"), [
    ([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], "longer than four bytes"),
    ([0x30, 0xFF, 0xFF, 0xFF, 0x7F], "too large"),
])
def test_a_malformed_stream_is_a_protocol_error(static_page, stream: list[int], error: str) -> None:
    with pytest.raises(AssertionError, match=error):
        mqtt(static_page, "new m.PacketReader().push(new Uint8Array(arguments[0]));", stream)


@pytest.mark.parametrize(("body", "error"), [
    ([0x00], "CONNACK"),
])
def test_a_short_connack_is_a_protocol_error(static_page, body: list[int], error: str) -> None:
    with pytest.raises(AssertionError, match=error):
        mqtt(static_page, "m.decodeConnack(new Uint8Array(arguments[0]));", body)


@pytest.mark.parametrize(("flags", "body", "error"), [
    (0x06, list(utf8("a")), "QoS 3"),
    (0x00, [0x00, 0x09, 0x61], "past the packet"),
    (0x02, list(utf8("a")) + [0x00], "packet id"),
])
def test_a_malformed_publish_is_a_protocol_error(static_page, flags: int, body: list[int], error: str) -> None:
    with pytest.raises(AssertionError, match=error):
        mqtt(static_page, "m.decodePublish(arguments[0], new Uint8Array(arguments[1]));", flags, body)


@pytest.mark.parametrize(("topic_filter", "topic", "matches"), [
    ("desktops/+/status", "desktops/a/status", True),
    ("desktops/+/status", "desktops/a/b/status", False),
    ("desktops/+/status", "desktops/status", False),
    ("desktops/#", "desktops", True),
    ("desktops/#", "desktops/a/sessions/s/status", True),
    ("#", "anything/at/all", True),
    ("#", "$SYS/broker/uptime", False),
    ("+/status", "$SYS/status", False),
    ("server/ice-servers", "server/ice-servers", True),
    ("server/ice-servers", "server/ice-servers/x", False),
    ("a/+", "a/", True),
])
def test_topic_filters_match_as_section_4_7_says(static_page, topic_filter: str, topic: str, matches: bool) -> None:
    assert mqtt(static_page, "return m.topicMatches(arguments[0], arguments[1]);", topic_filter, topic) is matches


# ---------------------------------------------------------------------------
# The client against mosquitto over /mqtt
# ---------------------------------------------------------------------------

def open_client(browser, name: str = "c", keep_alive: int = 30, will: dict | None = None, **extra) -> None:
    browser.module("""
        const m = await import('/js/mqtt.js');
        const [name, keepAlive, will, extra] = arguments;
        const url = location.origin.replace('http', 'ws') + '/mqtt';
        const client = new m.MqttClient({url, clientId: 'user:' + name + Math.random().toString(36).slice(2, 8),
                                         username: 'user:anonymous', keepAlive, will: will || undefined, ...extra});
        window.got = window.got || {};
        window.events = window.events || {};
        window.got[name] = [];
        window.events[name] = [];
        client.addEventListener('message', (e) => window.got[name].push([e.detail.topic, e.detail.text(), e.detail.retain]));
        for (const type of ['connect', 'offline', 'reconnecting', 'error']) {
          client.addEventListener(type, () => window.events[name].push(type));
        }
        window.clients = window.clients || {};
        window.clients[name] = client;
        await client.connect();
    """, name, keep_alive, will, extra)


def received(browser, name: str = "c") -> list:
    return browser.js("return (window.got || {})[arguments[0]] || [];", name)


def test_the_client_subscribes_receives_retained_and_round_trips_qos_1(web_stack, browser) -> None:
    stack = web_stack(auth="none")
    root = f"desktops/m-{secrets.token_hex(3)}"
    desktop = stack.desktop_client(root.split("/")[1])
    desktop.publish_ok(f"{root}/status", "online", qos=1, retain=True)
    browser.get(stack.page("/"))
    open_client(browser)
    codes = browser.module("return await window.clients.c.subscribe(arguments[0], 1);", f"{root}/#")
    assert codes == [1]
    browser.wait_for(lambda: received(browser) == [[f"{root}/status", "online", True]], what="the retained status")

    browser.module("await window.clients.c.publish(arguments[0], 'qos1', {qos: 1});", f"{root}/sessions/s1/webrtc-offer")
    browser.module("await window.clients.c.publish(arguments[0], 'qos0');", f"{root}/sessions/s1/offer-ice-candidate")
    browser.wait_for(lambda: len(received(browser)) == 3, what="both messages back")
    assert received(browser)[1:] == [[f"{root}/sessions/s1/webrtc-offer", "qos1", False],
                                     [f"{root}/sessions/s1/offer-ice-candidate", "qos0", False]]

    # A large payload spans many WebSocket frames and TCP segments on the way in.
    big = "x" * 60_000
    desktop.publish_ok(f"{root}/big", big, qos=1)
    browser.wait_for(lambda: len(received(browser)) == 4, what="the large message")
    assert browser.js("const g = window.got.c; return g[g.length - 1][1].length;") == 60_000

    browser.module("await window.clients.c.unsubscribe(arguments[0]);", f"{root}/#")
    desktop.publish_ok(f"{root}/after", "ignored", qos=1)
    time.sleep(0.5)
    assert len(received(browser)) == 4
    desktop.stop()


def test_the_client_sends_pingreq_to_keep_an_idle_connection(web_stack, browser) -> None:
    stack = web_stack(auth="none", backend="standin")
    stack.require_standin("reads mosquitto's log for PINGREQ")
    browser.get(stack.page("/"))
    open_client(browser, keep_alive=1)
    time.sleep(3.2)
    log = stack.broker.process.log_path.read_text()
    pings = [line for line in log.splitlines() if "Received PINGREQ from user:c" in line]
    assert len(pings) >= 2, log[-2000:]
    assert browser.js("return window.clients.c.connected") is True


def test_the_will_is_published_when_the_connection_dies_and_not_after_close(web_stack, browser) -> None:
    stack = web_stack(auth="none", backend="standin")
    stack.require_standin("cuts the WebSocket in its HTTP splice")
    topic = f"desktops/w-{secrets.token_hex(3)}/sessions/s1/status"
    watcher = stack.user_client()
    watcher.subscribe_ok(topic, qos=1)
    browser.get(stack.page("/"))
    will = {"topic": topic, "payload": "disconnected", "qos": 1, "retain": True}
    open_client(browser, "dies", will=will, reconnect=False)
    open_client(browser, "closes", will=will)
    browser.module("window.clients.closes.close();")
    assert watcher.quiet(0.7) == []
    assert stack.drop_websockets() >= 1  # the closed client's splice may already be gone
    message = watcher.expect_one(topic, timeout=10)
    assert message.payload == b"disconnected" and message.retain is False  # live delivery
    watcher.stop()


def test_the_client_reconnects_and_resubscribes_after_the_connection_is_cut(web_stack, browser) -> None:
    stack = web_stack(auth="none", backend="standin")
    stack.require_standin("cuts the WebSocket in its HTTP splice")
    root = f"desktops/r-{secrets.token_hex(3)}"
    desktop = stack.desktop_client(root.split("/")[1])
    browser.get(stack.page("/"))
    open_client(browser)
    browser.module("await window.clients.c.subscribe(arguments[0], 1);", f"{root}/#")
    assert stack.drop_websockets() >= 1
    browser.wait_for(lambda: browser.js("return window.events.c").count("connect") >= 2, timeout=20,
                     what="a reconnection")
    assert "offline" in browser.js("return window.events.c")
    time.sleep(0.3)
    desktop.publish_ok(f"{root}/status", "online", qos=1)
    browser.wait_for(lambda: [f"{root}/status", "online", False] in received(browser), what="a message after resubscribing")
    desktop.stop()


def test_a_refused_connect_is_final_and_says_why(web_stack, browser) -> None:
    stack = web_stack(auth="psk")
    browser.get(stack.page("/"))
    got = browser.module("""
        const m = await import('/js/mqtt.js');
        const url = location.origin.replace('http', 'ws') + '/mqtt';
        const client = new m.MqttClient({url, clientId: 'user:refused', username: 'psk-user', password: 'wrong'});
        try { await client.connect(); return 'connected'; }
        catch (e) { return {name: e.name, code: e.code, auth: e.isAuthFailure, closed: client.closed}; }
    """)
    assert got["name"] == "MqttConnectError" and got["auth"] is True and got["closed"] is True
    assert got["code"] in (mqtt_helpers.V311_BAD_USER_NAME_OR_PASSWORD, mqtt_helpers.V311_NOT_AUTHORIZED)
