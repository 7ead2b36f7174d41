// Captures keyboard, mouse, touch and gamepads on the session page and sends them through
// Session.sendInput as the bytes of input.js.
//
// - Capture starts with a click on the video: pointer lock (raw movement) and, where the
//   Keyboard Lock API exists, keyboard lock (so Esc, Alt+Tab and friends reach the desktop
//   while in full screen). Holding Esc for ESC_HOLD_MS leaves capture; a short Esc press is
//   sent to the desktop like any key.
// - When capture ends for any reason, every key and button still held is released on the
//   desktop, so nothing stays stuck.
// - Gamepads are polled every animation frame (Gamepad API, standard mapping) and sent when
//   their state changes; up to four, in the order they were connected.

import {
  MAX_GAMEPADS, encodeGamepad, encodeKeyboard, encodeKeyboardEvent, encodeMouse, encodeTouch,
  videoCoordinates, wheelPixels,
} from './input.js';

export const ESC_HOLD_MS = 1000;

export class InputCapture extends EventTarget {
  /**
   * @param {{session: import('./session.js').Session, stage: HTMLElement, video: HTMLVideoElement}} o
   */
  constructor({ session, stage, video }) {
    super();
    this.session = session;
    this.stage = stage;
    this.video = video;
    this.capturing = false;
    this.heldKeys = new Map(); // code -> last keydown event
    this.buttons = 0;
    this.escTimer = null;
    /** @type {(string | null)[]} gamepad id per slot 0-3 (by Gamepad.index) */
    this.slots = [null, null, null, null];
    this.slotByIndex = new Map();
    this.lastPadBytes = new Map();
    this.frame = null;
    this.listeners = [];
    this._listen(document, 'pointerlockchange', () => this._onPointerLockChange());
    this._listen(document, 'keydown', (e) => this._onKey(e), true);
    this._listen(document, 'keyup', (e) => this._onKey(e), true);
    this._listen(window, 'blur', () => this._releaseAll());
    this._listen(stage, 'mousedown', (e) => this._onMouseButton(e));
    this._listen(document, 'mouseup', (e) => this._onMouseButton(e));
    this._listen(document, 'mousemove', (e) => this._onMouseMove(e));
    this._listen(stage, 'wheel', (e) => this._onWheel(e), { passive: false });
    this._listen(stage, 'contextmenu', (e) => { if (this.capturing) e.preventDefault(); });
    this._listen(video, 'touchstart', (e) => this._onTouch(e, 'start'), { passive: false });
    this._listen(video, 'touchmove', (e) => this._onTouch(e, 'start'), { passive: false });
    this._listen(video, 'touchend', (e) => this._onTouch(e, 'end'), { passive: false });
    this._listen(video, 'touchcancel', (e) => this._onTouch(e, 'end'), { passive: false });
    this._listen(window, 'gamepadconnected', (e) => this._onGamepad(e.gamepad, true));
    this._listen(window, 'gamepaddisconnected', (e) => this._onGamepad(e.gamepad, false));
    this.frame = requestAnimationFrame(() => this._pollGamepads());
  }

  _listen(target, type, handler, options) {
    target.addEventListener(type, handler, options);
    this.listeners.push(() => target.removeEventListener(type, handler, options));
  }

  _emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  /** Starts capture; call from a user gesture (a click). */
  async start() {
    try {
      await this.stage.requestPointerLock({ unadjustedMovement: true });
    } catch {
      try {
        await this.stage.requestPointerLock();
      } catch (error) {
        // Touch screens have no pointer to lock: nothing to tell there.
        if (!matchMedia('(pointer: coarse)').matches) {
          this._emit('notice', { text: `Mouse capture is not available: ${error.message}` });
        }
      }
    }
    if (navigator.keyboard?.lock && document.fullscreenElement) {
      navigator.keyboard.lock().catch(() => {});
    }
    this._setCapturing(true);
  }

  /** Leaves capture (Esc held, the back button, the page hidden). */
  stop() {
    if (document.pointerLockElement) document.exitPointerLock();
    navigator.keyboard?.unlock?.();
    this._setCapturing(false);
  }

  _setCapturing(value) {
    if (this.capturing === value) return;
    this.capturing = value;
    if (!value) this._releaseAll();
    this._emit('capture', { capturing: value });
  }

  _onPointerLockChange() {
    if (document.pointerLockElement === this.stage) this._setCapturing(true);
    else this._setCapturing(false);
  }

  _onKey(event) {
    if (!this.capturing) return;
    event.preventDefault();
    event.stopPropagation();
    if (event.repeat) return; // the desktop repeats held keys itself
    const down = event.type === 'keydown';
    if (event.code === 'Escape') {
      if (down) {
        clearTimeout(this.escTimer);
        this.escTimer = setTimeout(() => { this.escTimer = null; this.stop(); }, ESC_HOLD_MS);
      } else {
        clearTimeout(this.escTimer);
        this.escTimer = null;
      }
    }
    if (down) this.heldKeys.set(event.code, event);
    else this.heldKeys.delete(event.code);
    this.session.sendInput('keyboard', encodeKeyboardEvent(event));
  }

  _onMouseButton(event) {
    if (!this.capturing) return;
    event.preventDefault();
    this.buttons = event.buttons & 0b111;
    this.session.sendInput('mouse', encodeMouse({ buttons: this.buttons }));
  }

  _onMouseMove(event) {
    if (!this.capturing || document.pointerLockElement !== this.stage) return;
    if (event.movementX === 0 && event.movementY === 0) return;
    this.buttons = event.buttons & 0b111;
    this.session.sendInput('mouse', encodeMouse({ buttons: this.buttons, dx: event.movementX, dy: event.movementY }));
  }

  _onWheel(event) {
    if (!this.capturing) return;
    event.preventDefault();
    this.session.sendInput('mouse', encodeMouse({ buttons: this.buttons, ...wheelPixels(event) }));
  }

  _onTouch(event, phase) {
    event.preventDefault();
    const touch = event.changedTouches[0];
    if (!touch) return;
    const point = videoCoordinates(
      { x: touch.clientX, y: touch.clientY },
      this.video.getBoundingClientRect(),
      { width: this.video.videoWidth, height: this.video.videoHeight },
    );
    if (point === null) {
      this.session.counters.countDropped('touch-outside-video');
      return;
    }
    this.session.sendInput('touch', encodeTouch({ phase, ...point }));
  }

  _releaseAll() {
    clearTimeout(this.escTimer);
    this.escTimer = null;
    for (const [code, event] of this.heldKeys) {
      this.session.sendInput('keyboard', encodeKeyboard({
        code, pressed: false, shift: event.shiftKey, control: event.ctrlKey, alt: event.altKey, meta: event.metaKey,
      }));
    }
    this.heldKeys.clear();
    if (this.buttons !== 0) {
      this.buttons = 0;
      this.session.sendInput('mouse', encodeMouse({ buttons: 0 }));
    }
  }

  _slotFor(gamepad) {
    if (this.slotByIndex.has(gamepad.index)) return this.slotByIndex.get(gamepad.index);
    const free = this.slots.indexOf(null);
    if (free === -1) return -1;
    this.slots[free] = gamepad.id;
    this.slotByIndex.set(gamepad.index, free);
    return free;
  }

  _onGamepad(gamepad, connected) {
    if (connected) {
      const slot = this._slotFor(gamepad);
      if (slot === -1) {
        this.session.counters.countDropped('gamepad-over-four');
        this._emit('notice', { text: `Only ${MAX_GAMEPADS} controllers can play at once; ${gamepad.id} is ignored` });
        return;
      }
      if (gamepad.mapping !== 'standard') {
        this._emit('notice', { text: `${gamepad.id} has no standard mapping; buttons may be mixed up` });
      }
      this._emit('gamepads', { count: this.slots.filter(Boolean).length, text: `Controller ${slot + 1} connected` });
    } else if (this.slotByIndex.has(gamepad.index)) {
      const slot = this.slotByIndex.get(gamepad.index);
      this.session.sendInput('gamepad', encodeGamepad(slot, { buttons: [], axes: [] })); // let go of everything
      this.slotByIndex.delete(gamepad.index);
      this.slots[slot] = null;
      this.lastPadBytes.delete(slot);
      this._emit('gamepads', { count: this.slots.filter(Boolean).length, text: `Controller ${slot + 1} disconnected` });
    }
  }

  _pollGamepads() {
    this.frame = requestAnimationFrame(() => this._pollGamepads());
    const pads = navigator.getGamepads ? navigator.getGamepads() : [];
    for (const pad of pads) {
      if (!pad || !pad.connected) continue;
      const slot = this._slotFor(pad);
      if (slot === -1) continue;
      const bytes = encodeGamepad(slot, pad);
      const last = this.lastPadBytes.get(slot);
      if (last && last.every((b, i) => b === bytes[i])) continue;
      if (this.session.sendInput('gamepad', bytes)) this.lastPadBytes.set(slot, bytes);
    }
  }

  /** Plays a rumble message (0x05) on the gamepad in that slot, if it can rumble. */
  rumble({ pad, intensity, durationMs }) {
    const pads = navigator.getGamepads ? navigator.getGamepads() : [];
    const index = [...this.slotByIndex].find(([, slot]) => slot === pad)?.[0];
    const gamepad = index === undefined ? null : pads[index];
    const actuator = gamepad?.vibrationActuator;
    if (!actuator?.playEffect) {
      this.session.counters.countDropped('rumble-no-actuator');
      return false;
    }
    actuator.playEffect('dual-rumble', {
      startDelay: 0, duration: durationMs, strongMagnitude: intensity, weakMagnitude: intensity,
    }).catch(() => {});
    return true;
  }

  dispose() {
    this.stop();
    cancelAnimationFrame(this.frame);
    this.listeners.forEach((remove) => remove());
    this.listeners = [];
  }
}
