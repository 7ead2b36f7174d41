"""The page's input encoder (js/input.js) checked byte for byte against protocol.md,
running in headless Chromium: the test imports the module in the page and compares what it
returns with bytes built here with struct from the table in protocol.md."""

from __future__ import annotations

import struct

import pytest

from web_support import static_page  # noqa: F401 - fixture


@pytest.fixture
def page(static_page):
    return static_page


def run(page, body: str, *args):
    """Runs ``body`` with ``input`` (js/input.js) and ``keymap`` in scope; Uint8Arrays in the
    result come back as lists of ints."""
    return page.module(
        "const input = await import('/js/input.js');"
        "const keymap = await import('/js/keymap.js');"
        "const bytes = (a) => a === null ? null : Array.from(a);"
        + body,
        *args,
    )


def keyboard(flags: int, keycode: int) -> list[int]:
    return list(struct.pack("<BBH", 0x01, flags, keycode))


@pytest.mark.parametrize(("code", "xkb"), [
    ("Escape", 9), ("Digit1", 10), ("Digit0", 19), ("Minus", 20), ("Backspace", 22), ("Tab", 23),
    ("KeyQ", 24), ("KeyP", 33), ("Enter", 36), ("ControlLeft", 37), ("KeyA", 38), ("KeyL", 46),
    ("Backquote", 49), ("ShiftLeft", 50), ("KeyZ", 52), ("KeyM", 58), ("Slash", 61), ("ShiftRight", 62),
    ("AltLeft", 64), ("Space", 65), ("CapsLock", 66), ("F1", 67), ("F10", 76), ("F11", 95), ("F12", 96),
    ("NumpadEnter", 104), ("ControlRight", 105), ("AltRight", 108), ("Home", 110), ("ArrowUp", 111),
    ("ArrowLeft", 113), ("ArrowRight", 114), ("ArrowDown", 116), ("Delete", 119), ("MetaLeft", 133),
    ("MetaRight", 134), ("ContextMenu", 135), ("IntlBackslash", 94), ("Numpad0", 90), ("NumpadAdd", 86),
])
def test_keyboard_codes_are_xkb_keycodes(page, code: str, xkb: int) -> None:
    got = run(page, "return bytes(input.encodeKeyboard({code: arguments[0], pressed: true}));", code)
    assert got == keyboard(0x01, xkb)


def test_every_us_layout_key_has_a_keycode(page) -> None:
    codes = [f"Key{c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"] + [f"Digit{d}" for d in range(10)]
    codes += [f"F{n}" for n in range(1, 13)] + [f"Numpad{d}" for d in range(10)]
    codes += ["Escape", "Minus", "Equal", "Backspace", "Tab", "BracketLeft", "BracketRight", "Enter",
              "ControlLeft", "Semicolon", "Quote", "Backquote", "ShiftLeft", "Backslash", "Comma", "Period",
              "Slash", "ShiftRight", "NumpadMultiply", "AltLeft", "Space", "CapsLock", "NumLock", "ScrollLock",
              "NumpadSubtract", "NumpadAdd", "NumpadDecimal", "NumpadEnter", "ControlRight", "NumpadDivide",
              "PrintScreen", "AltRight", "Home", "ArrowUp", "PageUp", "ArrowLeft", "ArrowRight", "End",
              "ArrowDown", "PageDown", "Insert", "Delete", "Pause", "MetaLeft", "MetaRight", "ContextMenu"]
    assert len(codes) == 104
    got = run(page, "return arguments[0].map((c) => keymap.xkbKeycode(c));", codes)
    missing = [code for code, value in zip(codes, got) if value is None]
    assert missing == []
    assert len(set(got)) == len(codes), "two keys share a keycode"


@pytest.mark.parametrize(("modifiers", "flags"), [
    ({}, 0x00),
    ({"pressed": True}, 0x01),
    ({"shift": True}, 0x02),
    ({"control": True}, 0x04),
    ({"alt": True}, 0x08),
    ({"meta": True}, 0x10),
    ({"capsLock": True}, 0x20),
    ({"pressed": True, "shift": True, "control": True, "alt": True, "meta": True, "capsLock": True}, 0x3F),
])
def test_keyboard_modifier_bits(page, modifiers: dict, flags: int) -> None:
    got = run(page, "return bytes(input.encodeKeyboard({code: 'KeyA', ...arguments[0]}));", modifiers)
    assert got == keyboard(flags, 38)


def test_a_dom_keyboard_event_is_encoded_with_its_modifiers(page) -> None:
    got = run(page, """
        const down = new KeyboardEvent('keydown', {code: 'Digit1', shiftKey: true, ctrlKey: true});
        const up = new KeyboardEvent('keyup', {code: 'Digit1', altKey: true, metaKey: true});
        return [bytes(input.encodeKeyboardEvent(down)), bytes(input.encodeKeyboardEvent(up))];
    """)
    assert got == [keyboard(0x07, 10), keyboard(0x18, 10)]


def test_an_unknown_key_code_is_not_encoded(page) -> None:
    got = run(page, """
        return [input.encodeKeyboard({code: 'NoSuchKey', pressed: true}),
                input.encodeKeyboard({code: '', pressed: true}),
                input.encodeKeyboard({code: 'toString', pressed: true})];
    """)
    assert got == [None, None, None]


@pytest.mark.parametrize(("mouse", "expected"), [
    ({}, struct.pack("<BBffff", 0x02, 0, 0, 0, 0, 0)),
    ({"buttons": 1, "dx": 1.5, "dy": -2.25}, struct.pack("<BBffff", 0x02, 1, 1.5, -2.25, 0, 0)),
    ({"buttons": 2}, struct.pack("<BBffff", 0x02, 2, 0, 0, 0, 0)),
    ({"buttons": 4, "wheelX": -3, "wheelY": 120}, struct.pack("<BBffff", 0x02, 4, 0, 0, -3, 120)),
    ({"buttons": 0xFF, "dx": 1e6, "dy": 0.1}, struct.pack("<BBffff", 0x02, 7, 1e6, 0.1, 0, 0)),
])
def test_mouse_messages_are_bits_and_little_endian_floats(page, mouse: dict, expected: bytes) -> None:
    got = run(page, "return bytes(input.encodeMouse(arguments[0]));", mouse)
    assert bytes(got) == expected
    assert len(got) == 18


def test_mouse_floats_never_carry_nan_or_infinity(page) -> None:
    got = run(page, "return bytes(input.encodeMouse({dx: NaN, dy: Infinity, wheelX: -Infinity, wheelY: 'x'}));")
    assert bytes(got) == struct.pack("<BBffff", 0x02, 0, 0, 0, 0, 0)


def test_wheel_deltas_are_converted_to_pixels(page) -> None:
    got = run(page, """
        return [input.wheelPixels({deltaX: 0, deltaY: 3, deltaMode: 1}),
                input.wheelPixels({deltaX: 1, deltaY: 0, deltaMode: 2}),
                input.wheelPixels({deltaX: 4, deltaY: -100, deltaMode: 0})];
    """)
    assert got == [{"wheelX": 0, "wheelY": 120}, {"wheelX": 800, "wheelY": 0}, {"wheelX": 4, "wheelY": -100}]


@pytest.mark.parametrize(("touch", "expected"), [
    ({"phase": "start", "x": 10, "y": 20}, struct.pack("<BBHH", 0x03, 0, 10, 20)),
    ({"phase": "end", "x": 1919, "y": 1079}, struct.pack("<BBHH", 0x03, 1, 1919, 1079)),
    ({"phase": "start", "x": -5, "y": 70000}, struct.pack("<BBHH", 0x03, 0, 0, 65535)),
    ({"phase": "start", "x": 10.6, "y": 0.4}, struct.pack("<BBHH", 0x03, 0, 11, 0)),
])
def test_touch_messages(page, touch: dict, expected: bytes) -> None:
    assert bytes(run(page, "return bytes(input.encodeTouch(arguments[0]));", touch)) == expected


def test_a_touch_with_an_unknown_phase_is_not_encoded(page) -> None:
    assert run(page, "return input.encodeTouch({phase: 'move', x: 1, y: 1});") is None


def test_touch_points_are_mapped_into_the_letterboxed_video(page) -> None:
    # A 1920x1080 video shown in a 1000x1000 box: 562.5 px high, 218.75 px bars above and below.
    got = run(page, """
        const box = {left: 0, top: 0, width: 1000, height: 1000};
        const video = {width: 1920, height: 1080};
        return [input.videoCoordinates({x: 500, y: 500}, box, video),
                input.videoCoordinates({x: 0, y: 218.75}, box, video),
                input.videoCoordinates({x: 999.9, y: 781}, box, video),
                input.videoCoordinates({x: 500, y: 100}, box, video),
                input.videoCoordinates({x: 5, y: 5}, box, {width: 0, height: 0})];
    """)
    assert got == [{"x": 960, "y": 540}, {"x": 0, "y": 0}, {"x": 1919, "y": 1079}, None, None]


# Standard mapping button indices, in protocol.md's bit order.
BYTE2 = [3, 0, 2, 1, 4, 5, 10, 11]  # north, south, west, east, LB, RB, L3, R3
BYTE3 = [8, 9, 12, 13, 14, 15, 16]  # select, start, up, down, left, right, mode


def gamepad_bytes(index: int, pressed: set[int], axes: list[float], lt: float, rt: float) -> bytes:
    b2 = sum(1 << bit for bit, button in enumerate(BYTE2) if button in pressed)
    b3 = sum(1 << bit for bit, button in enumerate(BYTE3) if button in pressed)
    return struct.pack("<BBBBffffff", 0x04, index, b2, b3, *axes, lt, rt)


def pad(pressed: set[int], axes: list[float], lt: float = 0.0, rt: float = 0.0) -> dict:
    buttons = [{"pressed": i in pressed, "value": 1.0 if i in pressed else 0.0} for i in range(17)]
    buttons[6] = {"pressed": lt > 0.5, "value": lt}
    buttons[7] = {"pressed": rt > 0.5, "value": rt}
    return {"buttons": buttons, "axes": axes}


@pytest.mark.parametrize("button", range(17))
def test_each_gamepad_button_sets_its_bit(page, button: int) -> None:
    got = run(page, "return bytes(input.encodeGamepad(0, arguments[0]));", pad({button}, [0, 0, 0, 0]))
    if button in (6, 7):  # the triggers are analog values, not bits
        expected = gamepad_bytes(0, set(), [0, 0, 0, 0], 0.0, 0.0)
    else:
        expected = gamepad_bytes(0, {button}, [0, 0, 0, 0], 0.0, 0.0)
    assert bytes(got) == expected
    assert len(got) == 28


def test_gamepad_axes_and_triggers_are_floats_in_range(page) -> None:
    state = pad({0, 9, 12}, [-1.0, 0.5, 0.25, -0.75], lt=0.5, rt=1.0)
    got = run(page, "return bytes(input.encodeGamepad(3, arguments[0]));", state)
    assert bytes(got) == gamepad_bytes(3, {0, 9, 12}, [-1.0, 0.5, 0.25, -0.75], 0.5, 1.0)
    clamped = pad(set(), [-3.0, 2.0, 0.0, 0.0], lt=1.5, rt=-0.5)
    got = run(page, "return bytes(input.encodeGamepad(1, arguments[0]));", clamped)
    assert bytes(got) == gamepad_bytes(1, set(), [-1.0, 1.0, 0.0, 0.0], 1.0, 0.0)


def test_a_real_gamepad_object_shape_is_accepted(page) -> None:
    # Chromium's Gamepad objects are not constructible; this mimics one with plain
    # GamepadButton-like objects and a missing mode button (pads without a guide button).
    got = run(page, """
        const buttons = Array.from({length: 16}, (_, i) => ({pressed: i === 1, touched: false, value: i === 1 ? 1 : 0}));
        return bytes(input.encodeGamepad(2, {buttons, axes: [0, 0, 0, 0], mapping: 'standard'}));
    """)
    assert bytes(got) == gamepad_bytes(2, {1}, [0, 0, 0, 0], 0, 0)


def test_a_gamepad_index_outside_0_to_3_is_not_encoded(page) -> None:
    got = run(page, """
        const pad = {buttons: [], axes: []};
        return [input.encodeGamepad(4, pad), input.encodeGamepad(-1, pad), input.encodeGamepad(1.5, pad)];
    """)
    assert got == [None, None, None]


@pytest.mark.parametrize(("message", "expected"), [
    (struct.pack("<BBfI", 0x05, 0, 0.75, 250), {"ok": True, "rumble": {"pad": 0, "intensity": 0.75, "durationMs": 250}}),
    (struct.pack("<BBfI", 0x05, 3, 1.0, 0), {"ok": True, "rumble": {"pad": 3, "intensity": 1, "durationMs": 0}}),
    (struct.pack("<BBfI", 0x05, 1, 7.0, 10), {"ok": True, "rumble": {"pad": 1, "intensity": 1, "durationMs": 10}}),
    (struct.pack("<BBfI", 0x05, 1, 0.5, 10) + b"extra", {"ok": True, "rumble": {"pad": 1, "intensity": 0.5, "durationMs": 10}}),
    (b"", {"ok": False, "reason": "empty"}),
    (b"\x05", {"ok": False, "reason": "too-short"}),
    (struct.pack("<BBf", 0x05, 0, 0.5), {"ok": False, "reason": "too-short"}),
    (struct.pack("<BBfI", 0x05, 4, 0.5, 10), {"ok": False, "reason": "bad-pad"}),
    (struct.pack("<BBfI", 0x05, 255, 0.5, 10), {"ok": False, "reason": "bad-pad"}),
    (struct.pack("<BBfI", 0x05, 0, float("nan"), 10), {"ok": False, "reason": "bad-intensity"}),
    (struct.pack("<BBfI", 0x01, 0, 0.5, 10), {"ok": False, "reason": "unknown-type"}),
    (bytes([0xFF] * 10), {"ok": False, "reason": "unknown-type"}),
])
def test_rumble_messages_are_decoded_and_short_or_garbage_ones_ignored(page, message: bytes, expected: dict) -> None:
    got = run(page, "return input.decodeDesktopMessage(new Uint8Array(arguments[0]));", list(message))
    assert got == expected


def test_a_rumble_message_in_the_middle_of_a_larger_buffer_is_decoded(page) -> None:
    got = run(page, """
        const buffer = new Uint8Array(32);
        buffer.set([0x05, 2, 0, 0, 0x80, 0x3f, 100, 0, 0, 0], 7);
        return input.decodeDesktopMessage(buffer.subarray(7, 17));
    """)
    assert got == {"ok": True, "rumble": {"pad": 2, "intensity": 1, "durationMs": 100}}


def test_a_session_counts_unmappable_input_and_desktop_garbage(page) -> None:
    got = run(page, """
        const { Session } = await import('/js/session.js');
        const s = new Session({desktopId: 'counting', url: 'ws://127.0.0.1:9/mqtt'});
        s.sendInput('keyboard', input.encodeKeyboard({code: 'NoSuchKey', pressed: true}));
        s.sendInput('mouse', input.encodeMouse({}));  // no channel yet
        s._onDesktopMessage(new Uint8Array([0x05, 9]).buffer);
        s._onDesktopMessage('text');
        return {dropped: s.counters.dropped, total: s.counters.totalDropped, sent: s.counters.sent};
    """)
    assert got == {
        "dropped": {"keyboard-unmapped": 1, "mouse-channel-closed": 1, "desktop-too-short": 1,
                    "desktop-text-message": 1},
        "total": 4,
        "sent": {},
    }
