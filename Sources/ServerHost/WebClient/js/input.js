// Input messages of the data channel "input" (protocol.md, "Input messages").
// Pure functions: no DOM access, no globals, so tests can import this module in the browser
// and check every byte. All multi-byte fields are little-endian.
//
// Encoders return a Uint8Array, or null when the input cannot be expressed on the wire
// (an unknown key code, for example); callers count those (see InputCounters), so that
// nothing is dropped silently.

import { xkbKeycode } from './keymap.js';

export const MessageType = Object.freeze({
  keyboard: 0x01,
  mouse: 0x02,
  touch: 0x03,
  gamepad: 0x04,
  rumble: 0x05,
});

export const KEYBOARD_LENGTH = 4;
export const MOUSE_LENGTH = 18;
export const TOUCH_LENGTH = 6;
export const GAMEPAD_LENGTH = 28;
export const RUMBLE_LENGTH = 10;
export const MAX_GAMEPADS = 4;

const KEY_PRESSED = 1 << 0;
const KEY_SHIFT = 1 << 1;
const KEY_CONTROL = 1 << 2;
const KEY_ALT = 1 << 3;
const KEY_META = 1 << 4;
const KEY_CAPS_LOCK = 1 << 5;

/**
 * Keyboard, type 0x01: [1] bits 0 pressed, 1 shift, 2 control, 3 alt, 4 meta, 5 caps lock;
 * [2..3] XKB keycode (evdev + 8) of `code`.
 *
 * @param {{code: string, pressed: boolean, shift?: boolean, control?: boolean, alt?: boolean,
 *          meta?: boolean, capsLock?: boolean}} key
 * @returns {Uint8Array | null} null when `code` has no Linux key.
 */
export function encodeKeyboard(key) {
  const keycode = xkbKeycode(key.code);
  if (keycode === null) return null;
  const bytes = new Uint8Array(KEYBOARD_LENGTH);
  const view = new DataView(bytes.buffer);
  bytes[0] = MessageType.keyboard;
  bytes[1] = (key.pressed ? KEY_PRESSED : 0)
    | (key.shift ? KEY_SHIFT : 0)
    | (key.control ? KEY_CONTROL : 0)
    | (key.alt ? KEY_ALT : 0)
    | (key.meta ? KEY_META : 0)
    | (key.capsLock ? KEY_CAPS_LOCK : 0);
  view.setUint16(2, keycode, true);
  return bytes;
}

/**
 * The keyboard message for a DOM KeyboardEvent (`keydown` presses, anything else releases).
 * @param {KeyboardEvent} event
 * @returns {Uint8Array | null}
 */
export function encodeKeyboardEvent(event) {
  return encodeKeyboard({
    code: event.code,
    pressed: event.type === 'keydown',
    shift: event.shiftKey,
    control: event.ctrlKey,
    alt: event.altKey,
    meta: event.metaKey,
    capsLock: typeof event.getModifierState === 'function' && event.getModifierState('CapsLock'),
  });
}

/** A finite float32-representable number, or 0 (NaN and infinities never reach the wire). */
function finite(value) {
  const number = Number(value);
  return Number.isFinite(number) ? number : 0;
}

/**
 * Mouse, type 0x02: [1] bits 0 left, 1 right, 2 middle; [2..5] dx; [6..9] dy;
 * [10..13] wheel x; [14..17] wheel y (float32).
 *
 * `buttons` uses the DOM `MouseEvent.buttons` bits, which are the same three bits
 * (1 primary/left, 2 secondary/right, 4 auxiliary/middle); others (back, forward) are cut.
 *
 * @param {{buttons?: number, dx?: number, dy?: number, wheelX?: number, wheelY?: number}} mouse
 * @returns {Uint8Array}
 */
export function encodeMouse(mouse) {
  const bytes = new Uint8Array(MOUSE_LENGTH);
  const view = new DataView(bytes.buffer);
  bytes[0] = MessageType.mouse;
  bytes[1] = (mouse.buttons ?? 0) & 0b111;
  view.setFloat32(2, finite(mouse.dx), true);
  view.setFloat32(6, finite(mouse.dy), true);
  view.setFloat32(10, finite(mouse.wheelX), true);
  view.setFloat32(14, finite(mouse.wheelY), true);
  return bytes;
}

/** Pixels per line and per page for WheelEvent.deltaMode 1 and 2. */
export const WHEEL_LINE_PIXELS = 40;
export const WHEEL_PAGE_PIXELS = 800;

/**
 * A WheelEvent's deltas in CSS pixels, whatever its deltaMode.
 * @param {{deltaX: number, deltaY: number, deltaMode: number}} wheel
 * @returns {{wheelX: number, wheelY: number}}
 */
export function wheelPixels(wheel) {
  const scale = wheel.deltaMode === 1 ? WHEEL_LINE_PIXELS : wheel.deltaMode === 2 ? WHEEL_PAGE_PIXELS : 1;
  return { wheelX: finite(wheel.deltaX) * scale, wheelY: finite(wheel.deltaY) * scale };
}

/**
 * Touch, type 0x03: [1] 0 start, 1 end; [2..3] x uint16; [4..5] y uint16.
 * Coordinates are clamped to 0...65535 and rounded.
 *
 * @param {{phase: 'start' | 'end', x: number, y: number}} touch
 * @returns {Uint8Array | null} null for an unknown phase.
 */
export function encodeTouch(touch) {
  let phase;
  if (touch.phase === 'start') phase = 0;
  else if (touch.phase === 'end') phase = 1;
  else return null;
  const bytes = new Uint8Array(TOUCH_LENGTH);
  const view = new DataView(bytes.buffer);
  bytes[0] = MessageType.touch;
  bytes[1] = phase;
  view.setUint16(2, clampUint16(touch.x), true);
  view.setUint16(4, clampUint16(touch.y), true);
  return bytes;
}

function clampUint16(value) {
  return Math.min(0xffff, Math.max(0, Math.round(finite(value))));
}

/**
 * Where a point of an element showing a video falls in the video's own pixels, allowing for
 * the letterboxing of `object-fit: contain`. Null when the point is on the black bars or the
 * video has no size yet.
 *
 * @param {{x: number, y: number}} point client coordinates
 * @param {{left: number, top: number, width: number, height: number}} box the element's rect
 * @param {{width: number, height: number}} video intrinsic size (videoWidth, videoHeight)
 * @returns {{x: number, y: number} | null}
 */
export function videoCoordinates(point, box, video) {
  if (!(video.width > 0 && video.height > 0 && box.width > 0 && box.height > 0)) return null;
  const scale = Math.min(box.width / video.width, box.height / video.height);
  const shownWidth = video.width * scale;
  const shownHeight = video.height * scale;
  const left = box.left + (box.width - shownWidth) / 2;
  const top = box.top + (box.height - shownHeight) / 2;
  const x = (point.x - left) / scale;
  const y = (point.y - top) / scale;
  if (x < 0 || y < 0 || x > video.width || y > video.height) return null;
  return { x: Math.min(video.width - 1, Math.floor(x)), y: Math.min(video.height - 1, Math.floor(y)) };
}

// Standard Gamepad mapping (W3C Gamepad, "Remapping"): button indices.
const STANDARD = Object.freeze({
  south: 0, east: 1, west: 2, north: 3,
  leftBumper: 4, rightBumper: 5, leftTrigger: 6, rightTrigger: 7,
  select: 8, start: 9, leftThumb: 10, rightThumb: 11,
  dpadUp: 12, dpadDown: 13, dpadLeft: 14, dpadRight: 15, mode: 16,
});

// protocol.md 0x04: byte 2 bits 0-7, then byte 3 bits 0-6, as standard button indices.
const BYTE2_BUTTONS = [
  STANDARD.north, STANDARD.south, STANDARD.west, STANDARD.east,
  STANDARD.leftBumper, STANDARD.rightBumper, STANDARD.leftThumb, STANDARD.rightThumb,
];
const BYTE3_BUTTONS = [
  STANDARD.select, STANDARD.start, STANDARD.dpadUp, STANDARD.dpadDown,
  STANDARD.dpadLeft, STANDARD.dpadRight, STANDARD.mode,
];

function buttonPressed(button) {
  if (button === undefined || button === null) return false;
  if (typeof button === 'number') return button >= 0.5;
  if (typeof button === 'boolean') return button;
  return Boolean(button.pressed);
}

function buttonValue(button) {
  if (button === undefined || button === null) return 0;
  if (typeof button === 'number') return button;
  if (typeof button === 'boolean') return button ? 1 : 0;
  return Number.isFinite(button.value) ? button.value : (button.pressed ? 1 : 0);
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, finite(value)));
}

/**
 * Gamepad, type 0x04: [1] pad index 0-3; [2..3] buttons; [4..27] six float32: left stick
 * x, y, right stick x, y, left trigger, right trigger (sticks -1..1, triggers 0..1).
 *
 * `pad` is shaped like a DOM Gamepad with the standard mapping: `buttons` (GamepadButton-like
 * objects, booleans or numbers) and `axes` (four numbers).
 *
 * @param {number} index pad slot 0-3
 * @param {{buttons: ArrayLike<any>, axes: ArrayLike<number>}} pad
 * @returns {Uint8Array | null} null when the index is outside 0-3.
 */
export function encodeGamepad(index, pad) {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_GAMEPADS) return null;
  const buttons = pad.buttons ?? [];
  const axes = pad.axes ?? [];
  const bytes = new Uint8Array(GAMEPAD_LENGTH);
  const view = new DataView(bytes.buffer);
  bytes[0] = MessageType.gamepad;
  bytes[1] = index;
  BYTE2_BUTTONS.forEach((button, bit) => { if (buttonPressed(buttons[button])) bytes[2] |= 1 << bit; });
  BYTE3_BUTTONS.forEach((button, bit) => { if (buttonPressed(buttons[button])) bytes[3] |= 1 << bit; });
  view.setFloat32(4, clamp(axes[0], -1, 1), true);
  view.setFloat32(8, clamp(axes[1], -1, 1), true);
  view.setFloat32(12, clamp(axes[2], -1, 1), true);
  view.setFloat32(16, clamp(axes[3], -1, 1), true);
  view.setFloat32(20, clamp(buttonValue(buttons[STANDARD.leftTrigger]), 0, 1), true);
  view.setFloat32(24, clamp(buttonValue(buttons[STANDARD.rightTrigger]), 0, 1), true);
  return bytes;
}

/**
 * Decodes a message the desktop sends on "input". Only rumble (0x05) travels that way:
 * [1] pad index; [2..5] intensity float32 0..1; [6..9] duration ms uint32.
 *
 * @param {ArrayBuffer | ArrayBufferView} data
 * @returns {{ok: true, rumble: {pad: number, intensity: number, durationMs: number}} |
 *           {ok: false, reason: 'empty' | 'unknown-type' | 'too-short' | 'bad-pad' | 'bad-intensity'}}
 */
export function decodeDesktopMessage(data) {
  const bytes = data instanceof ArrayBuffer
    ? new Uint8Array(data)
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.length === 0) return { ok: false, reason: 'empty' };
  if (bytes[0] !== MessageType.rumble) return { ok: false, reason: 'unknown-type' };
  if (bytes.length < RUMBLE_LENGTH) return { ok: false, reason: 'too-short' };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pad = bytes[1];
  if (pad >= MAX_GAMEPADS) return { ok: false, reason: 'bad-pad' };
  const intensity = view.getFloat32(2, true);
  if (!Number.isFinite(intensity)) return { ok: false, reason: 'bad-intensity' };
  return {
    ok: true,
    rumble: { pad, intensity: Math.min(1, Math.max(0, intensity)), durationMs: view.getUint32(6, true) },
  };
}

/** Counts what was sent and what could not be, by reason; shown in the metrics overlay. */
export class InputCounters {
  constructor() {
    /** @type {Record<string, number>} */
    this.sent = {};
    /** @type {Record<string, number>} */
    this.dropped = {};
  }

  countSent(kind) { this.sent[kind] = (this.sent[kind] ?? 0) + 1; }

  countDropped(reason) { this.dropped[reason] = (this.dropped[reason] ?? 0) + 1; }

  get totalDropped() { return Object.values(this.dropped).reduce((a, b) => a + b, 0); }
}

/** Hex of a byte array, for logs and tests: "01 01 09 00". */
export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}
