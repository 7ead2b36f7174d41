// The session page: the desktop's video and audio, the connection status, input capture,
// volume and mute, full screen, back, and the metrics overlay.

import { InputCapture, ESC_HOLD_MS } from './controls.js';
import { MqttConnectError } from './mqtt.js';
import { Session } from './session.js';
import { chip, h, icon, setChip, toast } from './ui.js';

const VOLUME_KEY = 'pod-arcade.volume';
const MUTED_KEY = 'pod-arcade.muted';
const METRICS_KEY = 'pod-arcade.metrics';

function formatNumber(value, digits = 0, unit = '') {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  return `${value.toFixed(digits)}${unit}`;
}

const PATH_LABELS = { direct: 'Direct', reflexive: 'Reflexive (STUN)', relayed: 'Relayed (TURN)', unknown: '–' };

/**
 * Renders the session for `desktopId` into `root`; returns the cleanup function.
 * @param {HTMLElement} root
 * @param {{desktopId: string, creds: {username?: string, password?: string}, brand: () => Node,
 *          onBack: () => void, onAuthFailure: () => void}} o
 */
export function renderSession(root, { desktopId, creds, onBack, onAuthFailure }) {
  const session = new Session({ desktopId, username: creds.username, password: creds.password });
  window.podArcadeSession = session; // for the browser tests and for debugging in the console

  const video = h('video', { id: 'remote-video', autoplay: true, playsinline: true, 'aria-label': `Screen of ${desktopId}` });
  const statusChip = chip('new', 'chip-session');
  statusChip.id = 'session-status';
  const stepText = h('p', { class: 'step', id: 'session-step' }, 'Starting');
  const overlay = h('div', { class: 'overlay', id: 'session-overlay' },
    h('div', { class: 'overlay-card' }, h('div', { class: 'spinner', 'aria-hidden': 'true' }), stepText));

  const savedVolume = Number(localStorage.getItem(VOLUME_KEY) ?? '0.8');
  video.volume = Number.isFinite(savedVolume) ? Math.min(1, Math.max(0, savedVolume)) : 0.8;
  video.muted = localStorage.getItem(MUTED_KEY) === 'true';
  const volume = h('input', {
    type: 'range', min: 0, max: 1, step: 0.01, value: video.volume, class: 'volume', id: 'volume',
    'aria-label': 'Volume',
  });
  const muteButton = h('button', { class: 'btn btn-icon', type: 'button', id: 'mute-button' });
  const syncVolume = () => {
    muteButton.replaceChildren(icon(video.muted || video.volume === 0 ? 'mute' : 'volume'));
    muteButton.setAttribute('aria-label', video.muted ? 'Unmute' : 'Mute');
    muteButton.title = video.muted ? 'Unmute' : 'Mute';
    volume.value = String(video.muted ? 0 : video.volume);
  };
  volume.addEventListener('input', () => {
    video.volume = Number(volume.value);
    video.muted = video.volume === 0;
    localStorage.setItem(VOLUME_KEY, String(video.volume));
    localStorage.setItem(MUTED_KEY, String(video.muted));
    syncVolume();
  });
  muteButton.addEventListener('click', () => {
    video.muted = !video.muted;
    if (!video.muted && video.volume === 0) video.volume = 0.5;
    localStorage.setItem(MUTED_KEY, String(video.muted));
    syncVolume();
  });
  syncVolume();

  const metricsValues = {};
  const metricRow = (key, label) => {
    metricsValues[key] = h('dd', { id: `metric-${key}` }, '–');
    return [h('dt', {}, label), metricsValues[key]];
  };
  const metrics = h('aside', { class: 'metrics', id: 'metrics', 'aria-label': 'Connection metrics' },
    h('h2', {}, icon('chart'), 'Stream'),
    h('dl', {},
      metricRow('rtt', 'Round trip'),
      metricRow('delay', 'Video delay'),
      metricRow('bitrate', 'Bitrate'),
      metricRow('fps', 'Frame rate'),
      metricRow('resolution', 'Resolution'),
      metricRow('dropped', 'Frames dropped'),
      metricRow('decoded', 'Frames decoded'),
      metricRow('path', 'Path'),
      metricRow('codec', 'Codec'),
      metricRow('input', 'Input sent / dropped')));
  metrics.hidden = localStorage.getItem(METRICS_KEY) !== 'true';
  const metricsButton = h('button', {
    class: 'btn btn-icon', type: 'button', id: 'metrics-button', 'aria-label': 'Show metrics', title: 'Metrics',
    'aria-pressed': String(!metrics.hidden),
    onClick: () => {
      metrics.hidden = !metrics.hidden;
      metricsButton.setAttribute('aria-pressed', String(!metrics.hidden));
      localStorage.setItem(METRICS_KEY, String(!metrics.hidden));
    },
  }, icon('chart'));

  const stage = h('div', { class: 'stage', id: 'stage', tabindex: '-1' }, video, overlay);
  const fullscreenButton = h('button', {
    class: 'btn btn-icon', type: 'button', id: 'fullscreen-button', 'aria-label': 'Full screen', title: 'Full screen',
    onClick: () => toggleFullscreen(),
  }, icon('fullscreen'));
  const captureButton = h('button', {
    class: 'btn btn-ghost', type: 'button', id: 'capture-button', title: 'Capture mouse and keyboard',
    onClick: () => capture.start(),
  }, icon('keyboard'), h('span', { class: 'label' }, 'Capture input'));
  const backButton = h('button', {
    class: 'btn btn-icon', type: 'button', id: 'back-button', 'aria-label': 'Back to desktops', title: 'Back to desktops',
    onClick: () => onBack(),
  }, icon('back'));
  const bar = h('header', { class: 'session-bar' },
    backButton,
    h('div', { class: 'session-title' },
      h('span', { class: 'session-name' }, desktopId), statusChip),
    h('div', { class: 'spacer' }),
    h('div', { class: 'volume-group' }, muteButton, volume),
    captureButton, metricsButton, fullscreenButton);
  const shell = h('main', { class: 'session', id: 'session' }, stage, bar, metrics);
  root.replaceChildren(shell);

  const capture = new InputCapture({ session, stage, video });
  window.podArcadeCapture = capture;
  capture.addEventListener('capture', (e) => {
    shell.classList.toggle('capturing', e.detail.capturing);
    if (e.detail.capturing) toast(`Input captured. Hold Esc for ${ESC_HOLD_MS / 1000} s to release it.`);
  });
  capture.addEventListener('notice', (e) => toast(e.detail.text, 5000));
  capture.addEventListener('gamepads', (e) => toast(e.detail.text));
  session.addEventListener('rumble', (e) => capture.rumble(e.detail));

  function toggleFullscreen() {
    if (document.fullscreenElement) {
      document.exitFullscreen().catch(() => {});
    } else {
      shell.requestFullscreen({ navigationUI: 'hide' }).catch((error) => toast(`Full screen refused: ${error.message}`));
    }
  }
  const onFullscreen = () => {
    const full = Boolean(document.fullscreenElement);
    fullscreenButton.replaceChildren(icon(full ? 'fullscreen-exit' : 'fullscreen'));
    fullscreenButton.setAttribute('aria-label', full ? 'Leave full screen' : 'Full screen');
    if (full && capture.capturing && navigator.keyboard?.lock) navigator.keyboard.lock().catch(() => {});
  };
  document.addEventListener('fullscreenchange', onFullscreen);

  const showOverlay = (content, kind = '') => {
    overlay.className = `overlay ${kind}`.trim();
    overlay.hidden = false;
    overlay.replaceChildren(h('div', { class: 'overlay-card' }, content));
  };
  const showPlayPrompt = () => {
    showOverlay([
      h('button', {
        class: 'play-button', type: 'button', id: 'play-button', 'aria-label': 'Start playing',
        onClick: (e) => { e.stopPropagation(); startPlaying(); },
      }, icon('play')),
      h('p', { class: 'step' }, 'Click to play'),
      h('p', { class: 'hint' }, `Captures mouse and keyboard. Hold Esc for ${ESC_HOLD_MS / 1000} s to release.`)],
    'prompt');
  };
  const showProblem = (message) => {
    showOverlay([
      h('div', { class: 'panel-icon bad' }, icon('alert')),
      h('p', { class: 'step', id: 'session-error' }, message),
      h('div', { class: 'row' },
        h('button', { class: 'btn btn-primary', type: 'button', onClick: () => location.reload() }, icon('retry'), 'Retry'),
        h('button', { class: 'btn btn-ghost', type: 'button', onClick: () => onBack() }, icon('back'), 'Desktops'))],
    'problem');
  };

  let playing = false;
  const startPlaying = () => {
    video.play().catch(() => {
      video.muted = true; // autoplay with sound refused: play muted, the user can unmute
      syncVolume();
      video.play().catch(() => {});
    });
    overlay.hidden = true;
    playing = true;
    capture.start();
  };
  stage.addEventListener('click', () => {
    if (session.status === 'connected' && !capture.capturing) startPlaying();
  });

  session.addEventListener('step', (e) => { if (!overlay.classList.contains('problem')) stepText.textContent = e.detail.text; });
  session.addEventListener('problem', (e) => {
    if (e.detail.fatal) showProblem(e.detail.message);
    else toast(e.detail.message, 6000);
  });
  session.addEventListener('stream', (e) => {
    if (video.srcObject !== e.detail.stream) video.srcObject = e.detail.stream;
    video.play().catch(() => {});
  });
  session.addEventListener('status', (e) => {
    const status = e.detail.status;
    setChip(statusChip, status);
    shell.dataset.status = status;
    if (status === 'connected' && !playing) showPlayPrompt();
    if (status === 'disconnected') toast('Connection interrupted; trying to recover');
  });

  let statsTimer = setInterval(async () => {
    const s = await session.stats().catch(() => null);
    if (!s) return;
    metricsValues.rtt.textContent = formatNumber(s.rttMs, 0, ' ms');
    metricsValues.delay.textContent = formatNumber(s.videoDelayMs, 0, ' ms');
    metricsValues.bitrate.textContent = s.bitrateKbps === null ? '–'
      : s.bitrateKbps >= 1000 ? `${(s.bitrateKbps / 1000).toFixed(1)} Mbit/s` : `${s.bitrateKbps.toFixed(0)} kbit/s`;
    metricsValues.fps.textContent = formatNumber(s.fps, 0, ' fps');
    metricsValues.resolution.textContent = s.width ? `${s.width}×${s.height}` : '–';
    metricsValues.dropped.textContent = String(s.framesDropped);
    metricsValues.decoded.textContent = String(s.framesDecoded);
    metricsValues.path.textContent = PATH_LABELS[s.path] ?? s.path;
    metricsValues.path.dataset.path = s.path;
    metricsValues.codec.textContent = s.codec ? s.codec.replace(/^video\//, '') : '–';
    const sent = Object.values(session.counters.sent).reduce((a, b) => a + b, 0);
    metricsValues.input.textContent = `${sent} / ${session.counters.totalDropped}`;
  }, 1000);

  session.start().catch((error) => {
    if (error instanceof MqttConnectError && error.isAuthFailure) {
      onAuthFailure();
      return;
    }
    session.mqtt.close(); // no reconnecting in the background: Retry starts afresh
    setChip(statusChip, 'failed');
    showProblem(`Could not start the session: ${error.message}`);
  });

  const onHide = () => { if (document.hidden) capture.stop(); };
  document.addEventListener('visibilitychange', onHide);
  const onUnload = () => { session.close(); };
  window.addEventListener('pagehide', onUnload);

  return async () => {
    clearInterval(statsTimer);
    statsTimer = null;
    capture.dispose();
    document.removeEventListener('fullscreenchange', onFullscreen);
    document.removeEventListener('visibilitychange', onHide);
    window.removeEventListener('pagehide', onUnload);
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    await session.close();
    if (window.podArcadeSession === session) window.podArcadeSession = null;
    if (window.podArcadeCapture === capture) window.podArcadeCapture = null;
  };
}
