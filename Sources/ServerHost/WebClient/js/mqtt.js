// A small MQTT 3.1.1 client over WebSocket (subprotocol "mqtt", binary frames).
// OASIS MQTT 3.1.1: packets §2-§3, CONNECT §3.1, CONNACK return codes §3.2.2.3,
// PUBLISH §3.3, SUBSCRIBE §3.8, keep alive §3.1.2.10, topic filters §4.7.
// WebSocket transport: §6 (one or more MQTT packets per frame, a packet may span frames).
//
// The codec functions and PacketReader are pure and exported for tests; MqttClient owns the
// socket, the keep-alive timer and reconnection.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const PacketType = Object.freeze({
  connect: 1, connack: 2, publish: 3, puback: 4, pubrec: 5, pubrel: 6, pubcomp: 7,
  subscribe: 8, suback: 9, unsubscribe: 10, unsuback: 11, pingreq: 12, pingresp: 13, disconnect: 14,
});

/** CONNACK return codes (§3.2.2.3), for messages. */
export const ConnackText = Object.freeze({
  1: 'the server does not speak MQTT 3.1.1',
  2: 'the client identifier was refused',
  3: 'the MQTT service is unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
});

/** Raised when the server refuses CONNECT; `code` is the CONNACK return code. */
export class MqttConnectError extends Error {
  constructor(code) {
    super(`MQTT connection refused: ${ConnackText[code] ?? `return code ${code}`}`);
    this.name = 'MqttConnectError';
    this.code = code;
  }

  /** Return codes 4 and 5: the credentials (the key or token) were not accepted. */
  get isAuthFailure() { return this.code === 4 || this.code === 5; }
}

/** A stream that violates MQTT: the connection is closed. */
export class MqttProtocolError extends Error {
  constructor(message) {
    super(message);
    this.name = 'MqttProtocolError';
  }
}

function toBytes(payload) {
  if (payload === undefined || payload === null) return new Uint8Array(0);
  if (typeof payload === 'string') return encoder.encode(payload);
  if (payload instanceof Uint8Array) return payload;
  if (payload instanceof ArrayBuffer) return new Uint8Array(payload);
  if (ArrayBuffer.isView(payload)) return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  throw new TypeError('payload must be a string, Uint8Array or ArrayBuffer');
}

/** Variable byte integer, §2.2.3: at most 268,435,455 in four bytes. */
export function encodeRemainingLength(length) {
  if (!Number.isInteger(length) || length < 0 || length > 268_435_455) {
    throw new RangeError(`remaining length ${length} out of range`);
  }
  const out = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    out.push(byte);
  } while (length > 0);
  return out;
}

function utf8Field(text) {
  const bytes = encoder.encode(text);
  if (bytes.length > 0xffff) throw new RangeError('string longer than 65,535 bytes');
  return [bytes.length >> 8, bytes.length & 0xff, ...bytes];
}

function binaryField(bytes) {
  if (bytes.length > 0xffff) throw new RangeError('binary field longer than 65,535 bytes');
  const out = new Uint8Array(2 + bytes.length);
  out[0] = bytes.length >> 8;
  out[1] = bytes.length & 0xff;
  out.set(bytes, 2);
  return out;
}

function packet(firstByte, parts) {
  const body = concat(parts);
  const header = [firstByte, ...encodeRemainingLength(body.length)];
  const out = new Uint8Array(header.length + body.length);
  out.set(header, 0);
  out.set(body, header.length);
  return out;
}

function concat(parts) {
  const arrays = parts.map((part) => (part instanceof Uint8Array ? part : Uint8Array.from(part)));
  const out = new Uint8Array(arrays.reduce((sum, a) => sum + a.length, 0));
  let offset = 0;
  for (const a of arrays) { out.set(a, offset); offset += a.length; }
  return out;
}

function checkQoS(qos) {
  if (qos !== 0 && qos !== 1) throw new RangeError(`QoS ${qos} is not supported (0 or 1)`);
}

/**
 * CONNECT (§3.1) for protocol level 4.
 * @param {{clientId: string, username?: string, password?: string | Uint8Array, keepAlive?: number,
 *          cleanSession?: boolean, will?: {topic: string, payload: any, qos?: number, retain?: boolean}}} o
 */
export function encodeConnect(o) {
  const keepAlive = o.keepAlive ?? 30;
  let flags = (o.cleanSession ?? true) ? 0x02 : 0;
  const payload = [utf8Field(o.clientId)];
  if (o.will) {
    const qos = o.will.qos ?? 0;
    checkQoS(qos);
    flags |= 0x04 | (qos << 3) | (o.will.retain ? 0x20 : 0);
    payload.push(utf8Field(o.will.topic), binaryField(toBytes(o.will.payload)));
  }
  const hasUser = o.username !== undefined && o.username !== null;
  const hasPassword = o.password !== undefined && o.password !== null;
  if (hasPassword && !hasUser) throw new RangeError('MQTT 3.1.1 needs a user name to send a password');
  if (hasUser) { flags |= 0x80; payload.push(utf8Field(o.username)); }
  if (hasPassword) { flags |= 0x40; payload.push(binaryField(toBytes(o.password))); }
  const variable = [0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, flags, keepAlive >> 8, keepAlive & 0xff];
  return packet(PacketType.connect << 4, [variable, ...payload]);
}

/** PUBLISH (§3.3). `packetId` is needed for QoS 1. */
export function encodePublish({ topic, payload, qos = 0, retain = false, dup = false, packetId }) {
  checkQoS(qos);
  const first = (PacketType.publish << 4) | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 0x01 : 0);
  const parts = [utf8Field(topic)];
  if (qos > 0) parts.push([packetId >> 8, packetId & 0xff]);
  parts.push(toBytes(payload));
  return packet(first, parts);
}

/** SUBSCRIBE (§3.8): fixed header flags 0010. */
export function encodeSubscribe(packetId, filters) {
  const parts = [[packetId >> 8, packetId & 0xff]];
  for (const { filter, qos } of filters) { checkQoS(qos); parts.push(utf8Field(filter), [qos]); }
  return packet((PacketType.subscribe << 4) | 0x02, parts);
}

/** UNSUBSCRIBE (§3.10): fixed header flags 0010. */
export function encodeUnsubscribe(packetId, filters) {
  const parts = [[packetId >> 8, packetId & 0xff]];
  for (const filter of filters) parts.push(utf8Field(filter));
  return packet((PacketType.unsubscribe << 4) | 0x02, parts);
}

export function encodePuback(packetId) {
  return Uint8Array.of(PacketType.puback << 4, 2, packetId >> 8, packetId & 0xff);
}

export const PINGREQ = Uint8Array.of(PacketType.pingreq << 4, 0);
export const DISCONNECT = Uint8Array.of(PacketType.disconnect << 4, 0);

/**
 * Cuts MQTT packets out of a byte stream that arrives in arbitrary pieces (§6: a WebSocket
 * frame may hold part of a packet or several). `push` returns the complete packets.
 */
export class PacketReader {
  /** @param {number} maxPacketSize packets announcing more are a protocol error */
  constructor(maxPacketSize = 4 * 1024 * 1024) {
    this.maxPacketSize = maxPacketSize;
    this.buffer = new Uint8Array(0);
  }

  /**
   * @param {Uint8Array} chunk
   * @returns {{type: number, flags: number, body: Uint8Array}[]}
   * @throws {MqttProtocolError} on a malformed remaining length or an oversize packet.
   */
  push(chunk) {
    this.buffer = this.buffer.length === 0 ? chunk.slice() : concat([this.buffer, chunk]);
    const packets = [];
    let offset = 0;
    for (;;) {
      if (this.buffer.length - offset < 2) break;
      let length = 0;
      let multiplier = 1;
      let index = offset + 1;
      let complete = false;
      for (let i = 0; i < 4; i++) {
        if (index >= this.buffer.length) break;
        const byte = this.buffer[index++];
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) { complete = true; break; }
        if (i === 3) throw new MqttProtocolError('remaining length longer than four bytes');
      }
      if (!complete) break;
      if (length > this.maxPacketSize) throw new MqttProtocolError(`packet of ${length} bytes is too large`);
      if (this.buffer.length - index < length) break;
      const first = this.buffer[offset];
      packets.push({ type: first >> 4, flags: first & 0x0f, body: this.buffer.slice(index, index + length) });
      offset = index + length;
    }
    this.buffer = this.buffer.slice(offset);
    return packets;
  }
}

function readUint16(body, offset, what) {
  if (offset + 2 > body.length) throw new MqttProtocolError(`${what}: too short`);
  return (body[offset] << 8) | body[offset + 1];
}

/** Decodes a CONNACK body (§3.2). */
export function decodeConnack(body) {
  if (body.length !== 2) throw new MqttProtocolError(`CONNACK: length ${body.length}, expected 2`);
  return { sessionPresent: (body[0] & 1) === 1, returnCode: body[1] };
}

/** Decodes a PUBLISH (§3.3) from its fixed-header flags and body. */
export function decodePublish(flags, body) {
  const qos = (flags >> 1) & 0x03;
  if (qos === 3) throw new MqttProtocolError('PUBLISH: QoS 3');
  const topicLength = readUint16(body, 0, 'PUBLISH topic');
  let offset = 2 + topicLength;
  if (offset > body.length) throw new MqttProtocolError('PUBLISH: topic runs past the packet');
  const topic = decoder.decode(body.subarray(2, offset));
  let packetId;
  if (qos > 0) { packetId = readUint16(body, offset, 'PUBLISH packet id'); offset += 2; }
  return { topic, qos, retain: (flags & 1) === 1, dup: (flags & 8) === 8, packetId, payload: body.slice(offset) };
}

/**
 * Whether a topic name matches a filter (§4.7): `+` one level, `#` the rest (and the parent).
 * Topics starting with `$` match no filter that starts with a wildcard (§4.7.2).
 */
export function topicMatches(filter, topic) {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * MQTT 3.1.1 client over WebSocket.
 *
 * Events (EventTarget, CustomEvent.detail):
 * - `connect`    {sessionPresent}: CONNACK 0, also after every reconnect.
 * - `message`    {topic, payload: Uint8Array, text(): string, retain, qos}
 * - `offline`    {reason}: the connection was lost; it reconnects unless closed or refused.
 * - `reconnecting` {attempt, delayMs}
 * - `error`      {error}: a refused CONNECT (MqttConnectError) or a protocol error.
 */
export class MqttClient extends EventTarget {
  /**
   * @param {{url: string, clientId: string, username?: string, password?: string | Uint8Array,
   *          keepAlive?: number, will?: object, reconnect?: boolean, connectTimeoutMs?: number,
   *          WebSocketImpl?: typeof WebSocket}} options
   */
  constructor(options) {
    super();
    this.options = { keepAlive: 30, reconnect: true, connectTimeoutMs: 10_000, ...options };
    this.connected = false;
    this.closed = false;
    this.nextPacketId = 1;
    /** @type {Map<string, number>} filter -> qos, resubscribed after a reconnect */
    this.subscriptions = new Map();
    /** @type {Map<number, {resolve: Function, reject: Function, packet?: Uint8Array, kind: string}>} */
    this.pending = new Map();
    this.attempt = 0;
    this.socket = null;
    this.lastSent = 0;
    this.awaitingPong = false;
    this.timer = null;
    this.reconnectTimer = null;
    this.stats = { packetsIn: 0, packetsOut: 0, reconnects: 0 };
  }

  /** Opens the connection; resolves on CONNACK 0, rejects with MqttConnectError or a socket error. */
  connect() {
    this.closed = false;
    return new Promise((resolve, reject) => this._open(resolve, reject));
  }

  _emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  _open(resolve, reject) {
    const WS = this.options.WebSocketImpl ?? WebSocket;
    let socket;
    try {
      socket = new WS(this.options.url, ['mqtt']);
    } catch (error) {
      reject(error);
      return;
    }
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    const reader = new PacketReader();
    let settled = false;
    const settle = (error, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      if (error) reject(error); else resolve(value);
    };
    const connectTimer = setTimeout(() => {
      settle(new Error('no CONNACK from the MQTT server in time'));
      socket.close();
    }, this.options.connectTimeoutMs);

    socket.onopen = () => {
      if (socket.protocol && socket.protocol !== 'mqtt') {
        settle(new MqttProtocolError(`server chose WebSocket subprotocol "${socket.protocol}"`));
        socket.close();
        return;
      }
      this._send(encodeConnect({ ...this.options, cleanSession: true }));
    };
    socket.onmessage = (event) => {
      if (!(event.data instanceof ArrayBuffer)) {
        this._fail(socket, new MqttProtocolError('text WebSocket frame (MQTT needs binary frames)'));
        return;
      }
      let packets;
      try {
        packets = reader.push(new Uint8Array(event.data));
      } catch (error) {
        settle(error);
        this._fail(socket, error);
        return;
      }
      for (const p of packets) {
        this.stats.packetsIn += 1;
        try {
          this._handle(p, settle);
        } catch (error) {
          settle(error);
          this._fail(socket, error);
          return;
        }
      }
    };
    socket.onclose = (event) => {
      settle(new Error(`WebSocket closed before CONNACK (code ${event.code})`));
      if (this.socket !== socket) return;
      this._lost(`WebSocket closed (code ${event.code})`);
    };
    socket.onerror = () => { /* onclose follows and reports */ };
  }

  _fail(socket, error) {
    this._emit('error', { error });
    socket.close();
  }

  _handle(p, settle) {
    switch (p.type) {
      case PacketType.connack: {
        const { sessionPresent, returnCode } = decodeConnack(p.body);
        if (returnCode !== 0) {
          const error = new MqttConnectError(returnCode);
          this.closed = true; // a refusal is final: reconnecting would be refused again
          settle(error);
          this._emit('error', { error });
          this.socket?.close();
          return;
        }
        this.connected = true;
        this.attempt = 0;
        this._startKeepAlive();
        this._resubscribe();
        settle(null, { sessionPresent });
        this._emit('connect', { sessionPresent });
        return;
      }
      case PacketType.publish: {
        const message = decodePublish(p.flags, p.body);
        if (message.qos === 1) this._send(encodePuback(message.packetId));
        if (message.qos === 2) throw new MqttProtocolError('PUBLISH QoS 2 was never subscribed for');
        const payload = message.payload;
        this._emit('message', {
          topic: message.topic, payload, retain: message.retain, qos: message.qos,
          text: () => decoder.decode(payload),
        });
        return;
      }
      case PacketType.puback:
      case PacketType.suback:
      case PacketType.unsuback: {
        const id = readUint16(p.body, 0, 'acknowledgement packet id');
        const entry = this.pending.get(id);
        if (!entry) return; // a late or duplicate acknowledgement
        this.pending.delete(id);
        if (p.type === PacketType.suback) {
          const codes = Array.from(p.body.subarray(2));
          if (codes.some((code) => code === 0x80)) {
            entry.reject(new Error(`subscription refused by the server (${entry.filters?.join(', ')})`));
            return;
          }
          entry.resolve(codes);
        } else {
          entry.resolve();
        }
        return;
      }
      case PacketType.pingresp:
        this.awaitingPong = false;
        return;
      default:
        throw new MqttProtocolError(`unexpected packet type ${p.type} from the server`);
    }
  }

  _send(bytes) {
    if (!this.socket || this.socket.readyState !== 1) return false;
    this.socket.send(bytes);
    this.lastSent = Date.now();
    this.stats.packetsOut += 1;
    return true;
  }

  _startKeepAlive() {
    clearInterval(this.timer);
    const keepAliveMs = this.options.keepAlive * 1000;
    if (keepAliveMs <= 0) return;
    this.awaitingPong = false;
    let pingSentAt = 0;
    const tick = Math.max(250, Math.min(1000, keepAliveMs / 4));
    this.timer = setInterval(() => {
      const now = Date.now();
      if (this.awaitingPong && now - pingSentAt > keepAliveMs / 2 + 2000) {
        this.socket?.close();
        return;
      }
      if (!this.awaitingPong && now - this.lastSent >= keepAliveMs * 0.75) {
        this.awaitingPong = true;
        pingSentAt = now;
        this._send(PINGREQ);
      }
    }, tick);
  }

  _resubscribe() {
    if (this.subscriptions.size > 0) {
      const filters = [...this.subscriptions].map(([filter, qos]) => ({ filter, qos }));
      this._request('subscribe', (id) => encodeSubscribe(id, filters), filters.map((f) => f.filter))
        .catch((error) => this._emit('error', { error }));
    }
    // QoS 1 messages that were not acknowledged before the loss go again with DUP set.
    for (const entry of this.pending.values()) {
      if (entry.kind === 'publish' && entry.packet) {
        entry.packet[0] |= 0x08;
        this._send(entry.packet);
      }
    }
  }

  _lost(reason) {
    const wasConnected = this.connected;
    this.connected = false;
    clearInterval(this.timer);
    this.timer = null;
    for (const [id, entry] of this.pending) {
      if (entry.kind !== 'publish') { entry.reject(new Error(`connection lost: ${reason}`)); this.pending.delete(id); }
    }
    if (wasConnected || !this.closed) this._emit('offline', { reason });
    if (this.closed || !this.options.reconnect) {
      for (const entry of this.pending.values()) entry.reject(new Error(`connection closed: ${reason}`));
      this.pending.clear();
      return;
    }
    this.attempt += 1;
    const delayMs = Math.min(10_000, 500 * 2 ** Math.min(this.attempt - 1, 5)) * (0.75 + Math.random() * 0.5);
    this.stats.reconnects += 1;
    this._emit('reconnecting', { attempt: this.attempt, delayMs });
    this.reconnectTimer = setTimeout(() => {
      if (this.closed) return;
      this._open(() => {}, () => {});
    }, delayMs);
  }

  _allocatePacketId() {
    for (let i = 0; i < 0xffff; i++) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 0xffff ? 1 : id + 1;
      if (!this.pending.has(id)) return id;
    }
    throw new Error('no free MQTT packet identifier');
  }

  _request(kind, build, filters) {
    return new Promise((resolve, reject) => {
      const id = this._allocatePacketId();
      const bytes = build(id);
      this.pending.set(id, { resolve, reject, kind, filters, packet: kind === 'publish' ? bytes : undefined });
      if (!this._send(bytes) && kind !== 'publish') {
        this.pending.delete(id);
        reject(new Error('not connected'));
      }
    });
  }

  /**
   * Subscribes (QoS 0 or 1); kept across reconnects. Resolves with the granted QoS codes.
   * @param {string | string[]} filters
   */
  subscribe(filters, qos = 0) {
    const list = Array.isArray(filters) ? filters : [filters];
    checkQoS(qos);
    for (const filter of list) this.subscriptions.set(filter, qos);
    if (!this.connected) return Promise.resolve([]); // sent on (re)connect
    const entries = list.map((filter) => ({ filter, qos }));
    return this._request('subscribe', (id) => encodeSubscribe(id, entries), list);
  }

  /** @param {string | string[]} filters */
  unsubscribe(filters) {
    const list = Array.isArray(filters) ? filters : [filters];
    for (const filter of list) this.subscriptions.delete(filter);
    if (!this.connected) return Promise.resolve();
    return this._request('unsubscribe', (id) => encodeUnsubscribe(id, list), list);
  }

  /**
   * Publishes. QoS 0 resolves once written (or immediately false when offline); QoS 1
   * resolves on PUBACK and is resent after a reconnect until acknowledged.
   */
  publish(topic, payload, { qos = 0, retain = false } = {}) {
    checkQoS(qos);
    if (qos === 0) return Promise.resolve(this._send(encodePublish({ topic, payload, retain })));
    return this._request('publish', (packetId) => encodePublish({ topic, payload, qos, retain, packetId }));
  }

  /** Calls `handler(detail)` for messages whose topic matches `filter`; returns a remover. */
  onMessage(filter, handler) {
    const listener = (event) => { if (topicMatches(filter, event.detail.topic)) handler(event.detail); };
    this.addEventListener('message', listener);
    return () => this.removeEventListener('message', listener);
  }

  /** Sends DISCONNECT (so the server drops the will) and closes; no reconnection. */
  close() {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.timer);
    if (this.socket) {
      if (this.socket.readyState === 1) this._send(DISCONNECT);
      this.socket.close(1000);
    }
    this.connected = false;
  }
}
