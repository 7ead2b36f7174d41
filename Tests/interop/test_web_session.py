"""The web client plays a desktop: headless Chromium against desktop_standin.py (aiortc)
over the stand-in broker, per protocol.md."""

from __future__ import annotations

import json
import secrets
import struct
import time

import pytest

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from web_support import browser, desktop_standin, save_screenshot, web_stack  # noqa: F401 - fixtures


PLAY_TIMEOUT = 30.0


def inbound_video(browser) -> dict:
    return browser.module("""
        const s = window.podArcadeSession;
        if (!s || !s.pc) return null;
        const report = await s.pc.getStats();
        let video = null, audio = null, pair = null, local = null, remote = null, codec = null;
        const byId = new Map();
        report.forEach((r) => byId.set(r.id, r));
        report.forEach((r) => {
          if (r.type === 'inbound-rtp' && r.kind === 'video') video = r;
          if (r.type === 'inbound-rtp' && r.kind === 'audio') audio = r;
          if (r.type === 'transport' && r.selectedCandidatePairId) pair = byId.get(r.selectedCandidatePairId);
        });
        if (video && video.codecId) codec = byId.get(video.codecId);
        return {framesDecoded: video ? (video.framesDecoded || 0) : 0,
                codec: codec ? codec.mimeType : null,
                audioPackets: audio ? (audio.packetsReceived || 0) : 0,
                audioCodec: audio && audio.codecId ? byId.get(audio.codecId).mimeType : null,
                local: pair ? byId.get(pair.localCandidateId).address : null,
                remote: pair ? byId.get(pair.remoteCandidateId).address : null};
    """)


def start_session(stack, standin, browser) -> None:
    browser.get(stack.page("/"))
    card = browser.wait_for(
        lambda: browser.find_element(By.CSS_SELECTOR, f'[data-desktop-id="{standin.desktop_id}"]'),
        what="the stand-in in the list")
    card.click()
    browser.wait_for(lambda: browser.find_element(By.ID, "session-status").get_attribute("data-status") == "connected",
                     timeout=PLAY_TIMEOUT, what="the session to connect")
    browser.wait_for(lambda: (inbound_video(browser) or {}).get("framesDecoded", 0) > 0,
                     timeout=PLAY_TIMEOUT, what="decoded video frames")
    # The data channel (SCTP) may open after the first frames: input sent before is dropped.
    browser.wait_for(lambda: browser.js("return window.podArcadeSession.channel.readyState") == "open",
                     timeout=PLAY_TIMEOUT, what="the input data channel to open")


def test_the_page_plays_the_standin_and_reports_its_session_status(web_stack, browser, desktop_standin) -> None:
    desktop_id = f"standin-{secrets.token_hex(3)}"
    stack = web_stack(auth="psk", desktop_ids=[desktop_id])
    standin = desktop_standin(stack, desktop_id)
    watcher = stack.user_client()
    watcher.subscribe_ok(f"desktops/{desktop_id}/sessions/+/status", qos=1)
    try:
        browser.get(stack.page("/"))
        browser.wait_for(lambda: browser.find_element(By.ID, "psk"), what="the key prompt").send_keys(stack.client_psk)
        browser.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
        start_session(stack, standin, browser)

        stats = inbound_video(browser)
        assert stats["codec"] == "video/H264", stats
        assert stats["local"] == "127.0.0.1" and stats["remote"] == "127.0.0.1", stats
        browser.wait_for(lambda: inbound_video(browser)["audioPackets"] > 0, what="audio packets")
        assert inbound_video(browser)["audioCodec"] == "audio/opus"

        # The offer the desktop saw: recvonly video, recvonly audio and SCTP, BUNDLEd.
        (offer,) = [r for r in standin.events("offer")]
        sdp = offer["sdp"]
        assert "m=video" in sdp and "m=audio" in sdp and "m=application" in sdp and "a=group:BUNDLE" in sdp
        assert sdp.count("a=recvonly") == 2, sdp
        # H.264 is the first video codec offered, and Opus asks for stereo.
        lines = sdp.split("\r\n")
        video_line = next(line for line in lines if line.startswith("m=video"))
        first = video_line.split()[3]
        assert any(line.startswith(f"a=rtpmap:{first} H264/90000") for line in lines), video_line
        assert any(line.startswith(f"a=fmtp:{first} ") and "packetization-mode=1" in line
                   and "profile-level-id=42e01f" in line for line in lines)
        opus = next(line.split()[0].split(":")[1] for line in lines if " opus/48000/2" in line)
        assert any(line.startswith(f"a=fmtp:{opus} ") and "stereo=1" in line for line in lines)
        session_id = offer["session"]
        assert session_id.isalnum() and len(session_id) <= 32

        # The browser trickled its candidates as JSON RTCIceCandidateInit.
        assert standin.events("offer-candidate"), "no offer-ice-candidate arrived"

        # The session status went new -> connecting -> connected, retained.
        statuses = [m for m in watcher.collect(10, timeout=3) if m.topic.endswith(f"/{session_id}/status")]
        values = [m.payload.decode() for m in statuses]
        assert values[:1] == ["new"] and "connecting" in values and values[-1] == "connected", values

        # The metrics overlay shows the path and frames.
        browser.find_element(By.ID, "metrics-button").click()
        browser.wait_for(lambda: browser.find_element(By.ID, "metric-path").text == "Direct", what="path Direct")
        browser.wait_for(lambda: int(browser.find_element(By.ID, "metric-decoded").text) > 0, what="decoded count")
        browser.wait_for(lambda: browser.find_element(By.ID, "metric-codec").text == "H264", what="codec H264")
        browser.wait_for(lambda: browser.find_element(By.ID, "metric-bitrate").text not in ("", "–"), what="bitrate")
        browser.wait_for(lambda: browser.find_element(By.ID, "metric-rtt").text.endswith("ms"), what="round trip")

        # Session statistics go to stats/<stat> (every 5 s; here at once).
        stats_watcher = stack.user_client()
        stats_watcher.subscribe_ok(f"desktops/{desktop_id}/sessions/{session_id}/stats/#", qos=0)
        browser.js("window.podArcadeSession._publishStats()")
        published = {m.topic.rsplit("/", 1)[-1]: m.payload.decode() for m in stats_watcher.collect(6, timeout=5)}
        stats_watcher.stop()
        assert published.get("path") == "direct", published
        assert int(published["frames-decoded"]) > 0 and float(published["rtt-ms"]) >= 0, published
        assert set(published) >= {"path", "frames-decoded", "frames-dropped", "rtt-ms", "bitrate-kbps"}, published

        # Back to the list: the session says closed (retained) and disconnects cleanly.
        browser.find_element(By.ID, "back-button").click()
        browser.wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".desktop-card"), what="the list again")
        closed = [m for m in watcher.collect(10, timeout=3) if m.topic.endswith(f"/{session_id}/status")]
        assert [m.payload.decode() for m in closed][-1:] == ["closed"], closed
    finally:
        watcher.stop()


def test_the_sessions_will_says_disconnected_when_the_browser_vanishes(web_stack, browser, desktop_standin) -> None:
    desktop_id = f"will-{secrets.token_hex(3)}"
    stack = web_stack(auth="none")
    standin = desktop_standin(stack, desktop_id)
    watcher = stack.user_client()
    watcher.subscribe_ok(f"desktops/{desktop_id}/sessions/+/status", qos=1)
    try:
        start_session(stack, standin, browser)
        watcher.drain()
        browser.driver.quit()  # no DISCONNECT: the broker publishes the will
        message = watcher.expect_one(timeout=15)
        assert message.payload == b"disconnected", message
    finally:
        watcher.stop()


def test_key_and_mouse_bytes_the_page_sends_arrive_at_the_desktop_intact(web_stack, browser, desktop_standin) -> None:
    desktop_id = f"input-{secrets.token_hex(3)}"
    stack = web_stack(auth="none")
    standin = desktop_standin(stack, desktop_id, "--rumble")
    start_session(stack, standin, browser)

    browser.wait_for(lambda: browser.find_element(By.ID, "play-button"), what="the play button").click()
    browser.wait_for(lambda: "capturing" in browser.find_element(By.ID, "session").get_attribute("class"),
                     what="input capture")
    ActionChains(browser.driver).key_down("q").key_up("q").key_down(Keys.SHIFT).send_keys("a").key_up(Keys.SHIFT) \
        .send_keys(Keys.RETURN).perform()  # RETURN is the code "Enter"; selenium's ENTER is "NumpadEnter"
    stage = browser.find_element(By.ID, "stage")
    ActionChains(browser.driver).move_to_element(stage).click().context_click().perform()
    ActionChains(browser.driver).move_by_offset(12, -7).perform()

    expected = [
        "01011800", "01001800",  # KeyQ (24) down, up
        "01033200", "01032600", "01022600", "01003200",  # Shift (50) down, A (38) down and up with shift, Shift up
        "01012400", "01002400",  # Enter (36)
    ]
    def keyboard_hex():
        return [r["hex"] for r in standin.events("input") if r["hex"].startswith("01")]
    browser.wait_for(lambda: len(keyboard_hex()) >= len(expected), what="keyboard messages at the desktop")
    assert keyboard_hex() == expected

    def mouse():
        return [bytes.fromhex(r["hex"]) for r in standin.events("input") if r["hex"].startswith("02")]

    def buttons():
        return [m[1] for m in mouse() if m[2:] == bytes(16)]  # button changes carry no motion
    browser.wait_for(lambda: len(buttons()) >= 4, what="mouse button messages at the desktop")
    assert all(len(m) == 18 for m in mouse())
    assert buttons()[:4] == [1, 0, 2, 0], buttons()  # left down, up, right down, up

    # Relative motion as little-endian float32 dx, dy (pointer lock's movementX/Y).
    def motions():
        return [struct.unpack("<ffff", m[2:]) for m in mouse() if m[2:] != bytes(16)]
    browser.wait_for(lambda: (12.0, -7.0, 0.0, 0.0) in motions(), what="a motion of (12, -7)")

    # The desktop answered each key press with a rumble message: decoded, and counted as
    # dropped because headless Chromium has no gamepad to shake.
    browser.wait_for(
        lambda: browser.js("return window.podArcadeSession.counters.dropped")
        .get("rumble-no-actuator", 0) == 4, what="four rumble messages handled")


def test_the_session_page_is_screenshotted_while_playing(web_stack, browser, desktop_standin) -> None:
    desktop_id = "living-room-pc"
    stack = web_stack(auth="none")
    standin = desktop_standin(stack, desktop_id)
    start_session(stack, standin, browser)
    browser.find_element(By.ID, "metrics-button").click()
    browser.wait_for(lambda: browser.find_element(By.ID, "metric-bitrate").text not in ("", "–"), what="bitrate")
    browser.wait_for(lambda: browser.find_element(By.ID, "metric-fps").text not in ("", "–"), what="frame rate")
    time.sleep(1.0)
    path = save_screenshot(browser, "session.png")
    assert path.stat().st_size > 10_000


def test_holding_escape_releases_capture_and_a_short_press_goes_to_the_desktop(web_stack, browser, desktop_standin) -> None:
    desktop_id = f"esc-{secrets.token_hex(3)}"
    stack = web_stack(auth="none")
    standin = desktop_standin(stack, desktop_id)
    start_session(stack, standin, browser)
    # Capture without pointer lock (as when the browser refuses it), so that only the page's
    # own Esc timer can end it.
    browser.js("window.podArcadeCapture._setCapturing(true)")
    press = "document.dispatchEvent(new KeyboardEvent(arguments[0], {code: 'Escape', key: 'Escape', bubbles: true}))"
    browser.js(press, "keydown")
    time.sleep(0.3)
    browser.js(press, "keyup")
    time.sleep(1.0)
    assert browser.js("return window.podArcadeCapture.capturing") is True

    browser.js(press, "keydown")
    browser.wait_for(lambda: browser.js("return window.podArcadeCapture.capturing") is False, timeout=3,
                     what="capture to end after holding Esc")
    def keys():
        return [r["hex"] for r in standin.events("input") if r["hex"].startswith("01")]
    # The short press, then the held Esc released by the page when capture ended.
    browser.wait_for(lambda: keys() == ["01010900", "01000900", "01010900", "01000900"], what="Esc bytes")
    # Once released, keys no longer go to the desktop.
    browser.js(press, "keyup")
    browser.js("document.dispatchEvent(new KeyboardEvent('keydown', {code: 'KeyA', bubbles: true}))")
    time.sleep(0.5)
    assert len(keys()) == 4


def test_the_session_uses_the_server_and_the_desktop_ice_servers(web_stack, browser, desktop_standin) -> None:
    desktop_id = f"ice-{secrets.token_hex(3)}"
    server_list = [{"urls": ["stun:127.0.0.1:3478"]}]
    desktop_list = [{"urls": "turn:127.0.0.1:3479?transport=udp", "username": "u", "credential": "p"}]
    stack = web_stack(auth="none", ice_servers=server_list)
    standin = desktop_standin(stack, desktop_id, "--ice-servers", json.dumps(desktop_list))
    start_session(stack, standin, browser)
    got = browser.js("return window.podArcadeSession.pc.getConfiguration().iceServers")
    urls = [server["urls"] for server in got]
    assert urls in ([["stun:127.0.0.1:3478"], ["turn:127.0.0.1:3479?transport=udp"]],
                    [["stun:127.0.0.1:3478"], "turn:127.0.0.1:3479?transport=udp"]), got
    assert got[1]["username"] == "u" and got[1]["credential"] == "p"


def test_a_desktop_that_is_not_online_is_reported_at_once_and_one_that_leaves_too(web_stack, browser, desktop_standin) -> None:
    stack = web_stack(auth="none")
    browser.get(stack.page("/desktops/nobody-here"))
    message = browser.wait_for(lambda: browser.find_element(By.ID, "session-error").text, timeout=5,
                               what="the offline message")
    assert message == "nobody-here is not online right now."

    desktop_id = f"leaves-{secrets.token_hex(3)}"
    standin = desktop_standin(stack, desktop_id)
    start_session(stack, standin, browser)
    standin.process.exit_expected = True
    standin.process.proc.kill()  # its will says offline
    browser.wait_for(lambda: any("went offline" in t.text for t in browser.find_elements(By.CSS_SELECTOR, ".toast")),
                     what="the went-offline notice")


FAKE_PADS = """
    const pad = (index) => ({
      index, id: `Fake pad ${index}`, connected: true, mapping: 'standard', timestamp: 0,
      buttons: Array.from({length: 17}, () => ({pressed: false, touched: false, value: 0})),
      axes: [0, 0, 0, 0],
      vibrationActuator: {effects: [], playEffect(type, params) { this.effects.push([type, params]); return Promise.resolve('complete'); }},
    });
    window.fakePads = [0, 1, 2, 3, 4].map(pad);
    Object.defineProperty(navigator, 'getGamepads', {value: () => window.fakePads, configurable: true});
"""


def test_gamepads_are_polled_sent_on_change_and_rumble_reaches_the_pad(web_stack, browser, desktop_standin) -> None:
    desktop_id = f"pads-{secrets.token_hex(3)}"
    stack = web_stack(auth="none")
    standin = desktop_standin(stack, desktop_id, "--rumble")
    start_session(stack, standin, browser)
    browser.js(FAKE_PADS)

    def pads():
        return [bytes.fromhex(r["hex"]) for r in standin.events("input") if r["hex"].startswith("04")]
    # Five pads connected: the first four get slots 0-3, one message each while nothing changes.
    browser.wait_for(lambda: len(pads()) >= 4, what="the first state of four pads")
    time.sleep(0.5)
    assert sorted(p[1] for p in pads()) == [0, 1, 2, 3]
    assert all(p == struct.pack("<BBBBffffff", 4, p[1], 0, 0, 0, 0, 0, 0, 0, 0) for p in pads())

    # Pad 2 presses south (A) and start and pushes its left stick: one more message.
    browser.js("""
        const p = window.fakePads[2];
        p.buttons[0] = {pressed: true, touched: true, value: 1};
        p.buttons[9] = {pressed: true, touched: true, value: 1};
        p.axes = [0.5, -1, 0, 0];
        p.buttons[7] = {pressed: true, touched: true, value: 0.25};
    """)
    browser.wait_for(lambda: len(pads()) == 5, what="the changed pad")
    assert pads()[-1] == struct.pack("<BBBBffffff", 4, 2, 0b10, 0b10, 0.5, -1, 0, 0, 0, 0.25)
    time.sleep(0.3)
    assert len(pads()) == 5

    # Pad 2 is unplugged: its slot is let go of (all released), and the fifth pad, which was
    # waiting with north held, takes the slot.
    browser.js("""
        window.fakePads[4].buttons[3] = {pressed: true, touched: true, value: 1};
        const gone = window.fakePads[2];
        window.fakePads = window.fakePads.filter((p) => p !== gone);
        const event = new Event('gamepaddisconnected');
        event.gamepad = gone;
        window.dispatchEvent(event);
    """)
    browser.wait_for(lambda: len(pads()) == 7, what="the release and the new pad in slot 2")
    assert pads()[5:] == [struct.pack("<BBBBffffff", 4, 2, 0, 0, 0, 0, 0, 0, 0, 0),
                          struct.pack("<BBBBffffff", 4, 2, 0b1, 0, 0, 0, 0, 0, 0, 0)]

    # A key press makes the stand-in send rumble for pad 0: the first fake pad shakes.
    browser.js("window.podArcadeCapture._setCapturing(true)")
    browser.js("document.dispatchEvent(new KeyboardEvent('keydown', {code: 'KeyA', bubbles: true}))")
    effects = browser.wait_for(lambda: browser.js("return window.fakePads[0].vibrationActuator.effects"),
                               what="a rumble effect")
    assert effects == [["dual-rumble", {"startDelay": 0, "duration": 200, "strongMagnitude": 0.75,
                                        "weakMagnitude": 0.75}]]
    browser.js("document.dispatchEvent(new KeyboardEvent('keyup', {code: 'KeyA', bubbles: true}))")


def test_after_losing_the_broker_the_session_says_where_it_is_again(web_stack, browser, desktop_standin) -> None:
    desktop_id = f"drop-{secrets.token_hex(3)}"
    stack = web_stack(auth="none", backend="standin")
    stack.require_standin("cuts the WebSocket in its HTTP splice")
    standin = desktop_standin(stack, desktop_id)
    watcher = stack.user_client()
    watcher.subscribe_ok(f"desktops/{desktop_id}/sessions/+/status", qos=1)
    try:
        start_session(stack, standin, browser)
        watcher.drain()
        assert stack.drop_websockets() == 1
        # The will says "disconnected"; once reconnected, the page says "connected" again while
        # the media, which never went through the broker, keeps flowing. A "connected" the page
        # published just before the cut may still be on its way: skip it, not the will.
        deadline = time.monotonic() + 10
        first = watcher.expect_one(timeout=10)
        while first.payload == b"connected" and time.monotonic() < deadline:
            first = watcher.expect_one(timeout=max(0.1, deadline - time.monotonic()))
        assert first.payload == b"disconnected"
        second = watcher.expect_one(timeout=20)
        assert second.payload == b"connected"
        before = inbound_video(browser)["framesDecoded"]
        browser.wait_for(lambda: inbound_video(browser)["framesDecoded"] > before, what="more frames")
        assert browser.find_element(By.ID, "session-status").get_attribute("data-status") == "connected"
    finally:
        watcher.stop()


def test_a_touch_on_the_picture_arrives_in_video_pixels(web_stack, browser, desktop_standin) -> None:
    desktop_id = f"touch-{secrets.token_hex(3)}"
    stack = web_stack(auth="none")
    standin = desktop_standin(stack, desktop_id)
    start_session(stack, standin, browser)
    browser.wait_for(lambda: browser.find_element(By.ID, "play-button"), what="the play button").click()
    browser.wait_for(lambda: browser.js("return document.getElementById('session-overlay').hidden"), what="no overlay")
    # The picture's size is known once the first frame is decoded, which may come a moment later.
    browser.wait_for(lambda: browser.js("return document.getElementById('remote-video').videoWidth") > 0,
                     what="the first decoded frame")
    box = browser.js("""
        const v = document.getElementById('remote-video'); const r = v.getBoundingClientRect();
        return {left: r.left, top: r.top, width: r.width, height: r.height, vw: v.videoWidth, vh: v.videoHeight};
    """)
    assert (box["vw"], box["vh"]) == (640, 360)
    scale = min(box["width"] / 640, box["height"] / 360)
    left = box["left"] + (box["width"] - 640 * scale) / 2
    top = box["top"] + (box["height"] - 360 * scale) / 2
    x, y = left + 100.5 * scale, top + 50.5 * scale  # the middle of video pixel (100, 50)
    for kind in ("touchStart", "touchEnd"):
        points = [{"x": x, "y": y}] if kind == "touchStart" else []
        browser.driver.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    def touches():
        return [r["hex"] for r in standin.events("input") if r["hex"].startswith("03")]
    browser.wait_for(lambda: len(touches()) >= 2, what="two touch messages")
    assert touches()[:2] == [struct.pack("<BBHH", 3, 0, 100, 50).hex(), struct.pack("<BBHH", 3, 1, 100, 50).hex()]


def test_volume_mute_full_screen_and_the_metrics_toggle(web_stack, browser, desktop_standin) -> None:
    desktop_id = f"ctl-{secrets.token_hex(3)}"
    stack = web_stack(auth="none")
    standin = desktop_standin(stack, desktop_id)
    start_session(stack, standin, browser)
    video = "document.getElementById('remote-video')"

    browser.js("const v = document.getElementById('volume'); v.value = '0.3'; v.dispatchEvent(new Event('input'));")
    assert browser.js(f"return {video}.volume") == pytest.approx(0.3)
    assert browser.js("return localStorage.getItem('pod-arcade.volume')") == "0.3"
    browser.find_element(By.ID, "mute-button").click()
    assert browser.js(f"return {video}.muted") is True
    assert browser.find_element(By.ID, "mute-button").get_attribute("aria-label") == "Unmute"
    browser.find_element(By.ID, "mute-button").click()
    assert browser.js(f"return {video}.muted") is False

    assert browser.find_element(By.ID, "metrics").get_attribute("hidden") is not None
    browser.find_element(By.ID, "metrics-button").click()
    assert browser.find_element(By.ID, "metrics").get_attribute("hidden") is None
    assert browser.find_element(By.ID, "metrics-button").get_attribute("aria-pressed") == "true"

    browser.find_element(By.ID, "fullscreen-button").click()
    browser.wait_for(lambda: browser.js("return document.fullscreenElement && document.fullscreenElement.id") == "session",
                     what="full screen")
    # The label follows the fullscreenchange event, which may come a moment after the element.
    browser.wait_for(lambda: browser.find_element(By.ID, "fullscreen-button").get_attribute("aria-label")
                     == "Leave full screen", what="the button to say Leave full screen")
    browser.find_element(By.ID, "fullscreen-button").click()
    browser.wait_for(lambda: browser.js("return document.fullscreenElement") is None, what="leaving full screen")

    # Settings are remembered for the next session.
    browser.refresh()
    browser.wait_for(lambda: browser.find_elements(By.ID, "remote-video"), what="the session page again")
    assert browser.js(f"return {video}.volume") == pytest.approx(0.3)
    assert browser.find_element(By.ID, "metrics").get_attribute("hidden") is None


def test_a_desktop_that_never_answers_fails_the_session_with_a_message(web_stack, browser) -> None:
    stack = web_stack(auth="none")
    desktop_id = f"mute-{secrets.token_hex(3)}"
    desktop = stack.desktop_client(desktop_id)  # online, but it answers nothing
    desktop.publish_ok(f"desktops/{desktop_id}/status", "online", qos=1, retain=True)
    desktop.subscribe_ok(f"desktops/{desktop_id}/sessions/+/#", qos=1)
    try:
        browser.get(stack.page("/"))
        got = browser.module("""
            const { Session } = await import('/js/session.js');
            const s = new Session({desktopId: arguments[0], answerTimeoutMs: 1500, username: 'user:anonymous'});
            const problems = [];
            s.addEventListener('problem', (e) => problems.push(e.detail));
            await s.start();
            const started = Date.now();
            while (s.status !== 'failed' && Date.now() - started < 5000) await new Promise((r) => setTimeout(r, 50));
            const result = {status: s.status, problems, session: s.sessionId};
            await s.close();
            return result;
        """, desktop_id)
        assert got["status"] == "failed"
        assert got["problems"] == [{"message": f"{desktop_id} did not answer. Is it running and connected?", "fatal": True}]
        seen = [(m.topic.rsplit("/", 1)[-1], m.payload) for m in desktop.collect(50, timeout=2)]
        assert ("webrtc-offer" in [t for t, _ in seen]) and ("status", b"failed") in seen, seen
        assert ("status", b"closed") == seen[-1]
    finally:
        desktop.stop()
