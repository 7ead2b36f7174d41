// One streaming session with one desktop (protocol.md, "Topics" and "WebRTC session").
// The browser offers (recvonly video, recvonly audio, data channel "input"), the desktop
// answers over MQTT; candidates trickle both ways. The session's status topic follows the
// RTCPeerConnection's connection state, retained, with a will of "disconnected".

import { MqttClient } from './mqtt.js';
import { randomAlphanumeric } from './auth.js';
import { InputCounters, decodeDesktopMessage, toHex } from './input.js';
import { preferH264, withStereoOpus } from './sdp.js';
import { summarizeStats } from './stats.js';

export const INPUT_CHANNEL = Object.freeze({
  label: 'input', negotiated: true, id: 0, ordered: true, protocol: 'pod-arcade-input-v1',
});
/** How long the retained ICE server lists may take to arrive after SUBACK. */
const ICE_SERVER_GRACE_MS = 400;
const ANSWER_TIMEOUT_MS = 15_000;
const STATS_PUBLISH_MS = 5_000;

/** MQTT over WebSocket at /mqtt on the page's own origin (protocol.md). */
export function brokerUrl(loc = location) {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/mqtt`;
}

/** ICE servers from a retained JSON payload: an array of RTCIceServer; garbage gives []. */
export function parseIceServers(text) {
  try {
    const value = JSON.parse(text);
    if (!Array.isArray(value)) return [];
    return value.filter((s) => s && (typeof s.urls === 'string' || Array.isArray(s.urls))).map((s) => {
      const server = { urls: s.urls };
      if (s.username !== undefined) server.username = s.username;
      if (s.credential !== undefined) server.credential = s.credential;
      return server;
    });
  } catch {
    return [];
  }
}

/**
 * Events (CustomEvent.detail): `status` {status} (new, connecting, connected, disconnected,
 * failed, closed), `step` {text}, `problem` {message, fatal}, `desktop` {online}, `stream` {stream},
 * `rumble` {pad, intensity, durationMs}, `channel` {open}.
 */
export class Session extends EventTarget {
  /**
   * @param {{desktopId: string, username?: string, password?: string, url?: string,
   *          answerTimeoutMs?: number}} options
   */
  constructor(options) {
    super();
    this.answerTimeoutMs = options.answerTimeoutMs ?? ANSWER_TIMEOUT_MS;
    this.desktopId = options.desktopId;
    this.sessionId = randomAlphanumeric(16);
    this.prefix = `desktops/${this.desktopId}/sessions/${this.sessionId}`;
    this.counters = new InputCounters();
    this.status = 'new';
    this.pc = null;
    this.channel = null;
    this.stream = new MediaStream();
    this.remoteCandidates = [];
    this.closed = false;
    this.lastStats = null;
    this.mqtt = new MqttClient({
      url: options.url ?? brokerUrl(),
      clientId: `user:${randomAlphanumeric(20)}`,
      username: options.username,
      password: options.password,
      keepAlive: 30,
      will: { topic: `${this.prefix}/status`, payload: 'disconnected', qos: 1, retain: true },
    });
  }

  _emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  _setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this._emit('status', { status });
    this.mqtt.publish(`${this.prefix}/status`, status, { qos: 1, retain: true }).catch(() => {});
  }

  /** Connects to the broker, gathers ICE servers, offers. Throws MqttConnectError on refusal. */
  async start() {
    this._emit('step', { text: 'Connecting to the server' });
    await this.mqtt.connect();
    this.mqtt.addEventListener('connect', () => {
      // After a reconnect, say where we are again (the will may have said "disconnected").
      this.mqtt.publish(`${this.prefix}/status`, this.status, { qos: 1, retain: true }).catch(() => {});
    });
    this.mqtt.addEventListener('offline', () => {
      if (!this.closed) this._emit('step', { text: 'Connection to the server lost, reconnecting' });
    });
    await this.mqtt.publish(`${this.prefix}/status`, 'new', { qos: 1, retain: true });
    this._emit('status', { status: 'new' });

    this._emit('step', { text: 'Fetching ICE servers' });
    await this._watchDesktop();
    const iceServers = await this._iceServers(); // also the grace period for the retained status
    if (this.desktopOnline !== true) {
      this._emit('problem', { message: `${this.desktopId} is not online right now.`, fatal: true });
      return;
    }

    this.mqtt.onMessage(`${this.prefix}/webrtc-answer`, (m) => this._onAnswer(m.text()));
    this.mqtt.onMessage(`${this.prefix}/answer-ice-candidate`, (m) => this._onRemoteCandidate(m.text()));
    await this.mqtt.subscribe([`${this.prefix}/webrtc-answer`, `${this.prefix}/answer-ice-candidate`], 1);

    this._createPeerConnection(iceServers);
    this._emit('step', { text: 'Offering' });
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription({ type: 'offer', sdp: withStereoOpus(offer.sdp) });
    await this.mqtt.publish(`${this.prefix}/webrtc-offer`, this.pc.localDescription.sdp, { qos: 1 });
    this._emit('step', { text: `Waiting for ${this.desktopId} to answer` });
    this.answerTimer = setTimeout(() => {
      if (!this.pc?.remoteDescription && !this.closed) {
        this._emit('problem', { message: `${this.desktopId} did not answer. Is it running and connected?`, fatal: true });
        this._setStatus('failed');
      }
    }, this.answerTimeoutMs);
    this.statsTimer = setInterval(() => this._publishStats(), STATS_PUBLISH_MS);
  }

  async _iceServers() {
    const lists = { server: [], desktop: [] };
    const topics = { 'server/ice-servers': 'server', [`desktops/${this.desktopId}/ice-servers`]: 'desktop' };
    const removers = Object.entries(topics).map(([topic, key]) =>
      this.mqtt.onMessage(topic, (m) => { lists[key] = parseIceServers(m.text()); }));
    try {
      await this.mqtt.subscribe(Object.keys(topics), 0);
      await new Promise((resolve) => setTimeout(resolve, ICE_SERVER_GRACE_MS));
    } finally {
      removers.forEach((remove) => remove());
      this.mqtt.unsubscribe(Object.keys(topics)).catch(() => {});
    }
    return [...lists.server, ...lists.desktop];
  }

  /** Follows the desktop's retained status; says so when it is (or goes) offline. */
  async _watchDesktop() {
    const topic = `desktops/${this.desktopId}/status`;
    this.desktopOnline = null; // unknown until the retained status arrives
    this.mqtt.onMessage(topic, (m) => {
      const online = m.text() === 'online';
      const was = this.desktopOnline;
      this.desktopOnline = online;
      if (!online && was === true && !this.closed) {
        this._emit('problem', { message: `${this.desktopId} went offline.`, fatal: this.status !== 'connected' });
      }
      this._emit('desktop', { online });
    });
    await this.mqtt.subscribe(topic, 1);
  }

  _createPeerConnection(iceServers) {
    const pc = new RTCPeerConnection({ iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    this.pc = pc;
    const { label, ...init } = INPUT_CHANNEL;
    this.channel = pc.createDataChannel(label, init);
    this.channel.binaryType = 'arraybuffer';
    this.channel.onopen = () => this._emit('channel', { open: true });
    this.channel.onclose = () => this._emit('channel', { open: false });
    this.channel.onmessage = (event) => this._onDesktopMessage(event.data);
    const video = pc.addTransceiver('video', { direction: 'recvonly', streams: [this.stream] });
    const capabilities = globalThis.RTCRtpReceiver?.getCapabilities?.('video');
    if (capabilities && typeof video.setCodecPreferences === 'function') {
      try {
        video.setCodecPreferences(preferH264(capabilities.codecs));
      } catch (error) {
        console.warn('kept the default codec order:', error);
      }
    }
    pc.addTransceiver('audio', { direction: 'recvonly', streams: [this.stream] });
    pc.ontrack = (event) => {
      if (!this.stream.getTracks().includes(event.track)) this.stream.addTrack(event.track);
      this._emit('stream', { stream: this.stream });
    };
    pc.onicecandidate = (event) => {
      if (!event.candidate || !event.candidate.candidate) return; // end of candidates
      this.mqtt.publish(`${this.prefix}/offer-ice-candidate`, JSON.stringify(event.candidate.toJSON()), { qos: 1 })
        .catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      const state = pc.connectionState;
      if (this.closed) return;
      this._setStatus(state);
      if (state === 'connecting') this._emit('step', { text: 'Connecting to the desktop' });
      if (state === 'failed') {
        this._emit('problem', { message: 'The connection to the desktop failed (no network path was found).', fatal: true });
      }
    };
  }

  async _onAnswer(sdp) {
    if (!this.pc || this.pc.signalingState !== 'have-local-offer') return; // a repeated answer
    clearTimeout(this.answerTimer);
    try {
      await this.pc.setRemoteDescription({ type: 'answer', sdp });
    } catch (error) {
      this._emit('problem', { message: `The desktop's answer was not usable: ${error.message}`, fatal: true });
      this._setStatus('failed');
      return;
    }
    const queued = this.remoteCandidates.splice(0);
    for (const candidate of queued) await this._addCandidate(candidate);
  }

  async _onRemoteCandidate(text) {
    let candidate;
    try {
      candidate = JSON.parse(text);
    } catch {
      return;
    }
    if (!candidate || typeof candidate.candidate !== 'string') return;
    if (!this.pc || !this.pc.remoteDescription) {
      this.remoteCandidates.push(candidate);
      return;
    }
    await this._addCandidate(candidate);
  }

  async _addCandidate(candidate) {
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (error) {
      console.warn('ignored a remote ICE candidate', candidate, error);
    }
  }

  _onDesktopMessage(data) {
    if (!(data instanceof ArrayBuffer)) {
      this.counters.countDropped('desktop-text-message');
      return;
    }
    const decoded = decodeDesktopMessage(data);
    if (!decoded.ok) {
      this.counters.countDropped(`desktop-${decoded.reason}`);
      console.warn('dropped a desktop message:', decoded.reason, toHex(new Uint8Array(data).subarray(0, 16)));
      return;
    }
    this._emit('rumble', decoded.rumble);
  }

  /** Sends an input message; counts it as dropped (with a reason) when it cannot go. */
  sendInput(kind, bytes) {
    if (bytes === null) {
      this.counters.countDropped(`${kind}-unmapped`);
      return false;
    }
    if (!this.channel || this.channel.readyState !== 'open') {
      this.counters.countDropped(`${kind}-channel-closed`);
      return false;
    }
    this.channel.send(bytes);
    this.counters.countSent(kind);
    return true;
  }

  /** The metrics overlay's numbers (stats.js), or null before the peer connection exists. */
  async stats() {
    if (!this.pc) return null;
    const report = await this.pc.getStats();
    this.lastStats = summarizeStats(report, this.lastStats);
    return this.lastStats;
  }

  _publishStats() {
    const s = this.lastStats;
    if (!s || this.status !== 'connected') return;
    const values = {
      'rtt-ms': s.rttMs, 'video-delay-ms': s.videoDelayMs, 'bitrate-kbps': s.bitrateKbps,
      'frames-decoded': s.framesDecoded, 'frames-dropped': s.framesDropped, path: s.path,
    };
    for (const [name, value] of Object.entries(values)) {
      if (value === null || value === undefined) continue;
      const text = typeof value === 'number' ? String(Math.round(value * 10) / 10) : String(value);
      this.mqtt.publish(`${this.prefix}/stats/${name}`, text).catch(() => {});
    }
  }

  /** Ends the session: status "closed" (retained), then a clean DISCONNECT (no will). */
  async close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.answerTimer);
    clearInterval(this.statsTimer);
    this.channel?.close();
    this.pc?.close();
    this.status = 'closed';
    this._emit('status', { status: 'closed' });
    if (this.mqtt.connected) {
      try {
        await Promise.race([
          this.mqtt.publish(`${this.prefix}/status`, 'closed', { qos: 1, retain: true }),
          new Promise((resolve) => setTimeout(resolve, 1000)),
        ]);
      } catch {
        // going away anyway
      }
    }
    this.mqtt.close();
  }
}
