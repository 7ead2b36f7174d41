// The Pod Arcade web client: routes, sign-in and the live list of desktops.
//   /                  desktops online (desktops/+/status, retained online/offline)
//   /desktops/<id>     a session with that desktop (session-view.js)
//   /oidc-callback     end of the OpenID Connect login
// No build step: plain ES modules served as they are.

import {
  CALLBACK_PATH, beginOidcLogin, completeOidcLogin, credentials, forgetCredentials, loadConfig,
  randomAlphanumeric, storePsk,
} from './auth.js';
import { MqttClient, MqttConnectError } from './mqtt.js';
import { brokerUrl } from './session.js';
import { renderSession } from './session-view.js';
import { chip, h, icon, setChip } from './ui.js';

const DESKTOP_ID = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
const root = document.getElementById('app');
let config = null;
let teardown = null; // the current view's cleanup

/** Goes to a path inside the app without reloading. */
export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}

function brand() {
  return h('a', { class: 'brand', href: '/', onClick: (e) => { e.preventDefault(); navigate('/'); } },
    h('span', { class: 'brand-mark' }, icon('gamepad')),
    h('span', { class: 'brand-name' }, 'Pod', h('span', { class: 'brand-accent' }, 'Arcade')));
}

function signOutButton() {
  if (!config || config.auth_method === 'none') return null;
  return h('button', {
    class: 'btn btn-ghost', type: 'button', title: 'Forget the key and sign out',
    onClick: () => { forgetCredentials(); navigate('/', { replace: true }); },
  }, icon('logout'), h('span', { class: 'label' }, 'Sign out'));
}

function fatal(title, message) {
  root.replaceChildren(h('main', { class: 'center-page' },
    h('section', { class: 'card panel', role: 'alert' },
      h('div', { class: 'panel-icon bad' }, icon('alert')),
      h('h1', {}, title),
      h('p', { class: 'muted' }, message),
      h('button', { class: 'btn btn-primary', type: 'button', onClick: () => location.reload() },
        icon('retry'), 'Try again'))));
}

/** The PSK prompt. `error` is shown under the field (a refused key, for example). */
function renderLogin(error) {
  const input = h('input', {
    id: 'psk', name: 'psk', type: 'password', autocomplete: 'current-password', required: true,
    placeholder: 'Access key', 'aria-describedby': 'psk-help psk-error', autofocus: true,
  });
  const form = h('form', {
    class: 'card panel login', onSubmit: (e) => {
      e.preventDefault();
      const key = input.value;
      if (!key) return;
      storePsk(key);
      route();
    },
  },
  h('div', { class: 'panel-icon' }, icon('lock')),
  h('h1', {}, 'Enter the access key'),
  h('p', { id: 'psk-help', class: 'muted' }, 'This Pod Arcade server is protected by a shared key. Ask whoever runs it.'),
  h('label', { class: 'sr-only', for: 'psk' }, 'Access key'),
  input,
  h('p', { id: 'psk-error', class: 'form-error', role: 'alert' }, error ?? ''),
  h('button', { class: 'btn btn-primary btn-wide', type: 'submit' }, 'Connect'));
  root.replaceChildren(h('main', { class: 'center-page' }, brand(), form));
  input.focus();
}

/** A stable hue (0-359) for a desktop id, so each card has its own colour. */
function hue(id) {
  let hash = 0;
  for (const c of id) hash = (hash * 31 + c.codePointAt(0)) >>> 0;
  return hash % 360;
}

/** The list of online desktops, live. */
function renderDesktops(creds) {
  const desktops = new Map(); // id -> first seen time
  const brokerChip = chip('connecting', 'chip-broker');
  const grid = h('div', { class: 'desktop-grid', id: 'desktop-list' });
  const count = h('span', { class: 'count' });
  const main = h('main', { class: 'page' },
    h('header', { class: 'topbar' }, brand(), h('div', { class: 'spacer' }), brokerChip, signOutButton()),
    h('section', { class: 'hero' },
      h('div', {},
        h('h1', {}, 'Desktops'),
        h('p', { class: 'muted' }, 'Pick a desktop to start playing. The list updates by itself.')),
      count),
    grid);
  root.replaceChildren(main);

  const render = () => {
    const ids = [...desktops.keys()].sort();
    count.textContent = ids.length === 1 ? '1 online' : `${ids.length} online`;
    if (ids.length === 0) {
      grid.replaceChildren(h('div', { class: 'empty', id: 'empty-state' },
        h('div', { class: 'empty-art' }, icon('radar', 'icon pulse')),
        h('h2', {}, 'No desktops online'),
        h('p', { class: 'muted' }, 'Start pod-arcade-desktop on a machine and it shows up here the moment it connects.'),
        h('p', { class: 'listening' }, h('span', { class: 'dot live' }), 'Listening for desktops')));
      return;
    }
    grid.replaceChildren(...ids.map((id) => h('a', {
      class: 'desktop-card', href: `/desktops/${id}`, dataset: { desktopId: id }, style: `--hue: ${hue(id)}`,
      'aria-label': `Play on ${id}`,
      onClick: (e) => { e.preventDefault(); navigate(`/desktops/${id}`); },
    },
    h('div', { class: 'screen' },
      h('span', { class: 'screen-glyph' }, icon('monitor')),
      h('span', { class: 'screen-play' }, icon('play'))),
    h('div', { class: 'card-body' },
      h('div', { class: 'card-title' },
        h('span', { class: 'desktop-name' }, id),
        chip('online')),
      h('span', { class: 'btn btn-primary btn-small' }, icon('play'), 'Play')))));
  };
  render();

  const client = new MqttClient({
    url: brokerUrl(), clientId: `user:${randomAlphanumeric(20)}`,
    username: creds.username, password: creds.password, keepAlive: 30,
  });
  client.onMessage('desktops/+/status', (m) => {
    const id = m.topic.split('/')[1];
    if (!DESKTOP_ID.test(id)) return;
    const online = m.text() === 'online';
    const had = desktops.has(id);
    if (online && !had) desktops.set(id, Date.now());
    if (!online && had) desktops.delete(id);
    if (online !== had) render();
  });
  client.addEventListener('connect', () => setChip(brokerChip, 'connected', 'Server connected'));
  client.addEventListener('reconnecting', () => setChip(brokerChip, 'reconnecting'));
  client.addEventListener('offline', () => {
    setChip(brokerChip, 'reconnecting');
    desktops.clear(); // the retained statuses come again on resubscription
    render();
  });
  client.subscribe('desktops/+/status', 1);
  client.connect().catch((error) => {
    if (error instanceof MqttConnectError && error.isAuthFailure) {
      forgetCredentials();
      if (config.auth_method === 'psk') renderLogin('That key was not accepted. Check it and try again.');
      else fatal('Sign-in was refused', 'The server did not accept your sign-in. Sign in again.');
      return;
    }
    setChip(brokerChip, 'failed', 'Server unreachable');
    if (!(error instanceof MqttConnectError)) return; // a network error: it keeps retrying
    fatal('Cannot use the server', error.message);
  });
  return () => client.close();
}

async function route() {
  if (teardown) { const t = teardown; teardown = null; await t(); }
  const path = location.pathname;
  try {
    config ??= await loadConfig();
  } catch (error) {
    fatal('The server is not answering', `Could not read /config.json: ${error.message}`);
    return;
  }
  if (path === CALLBACK_PATH) {
    try {
      const back = await completeOidcLogin(config);
      navigate(back, { replace: true });
    } catch (error) {
      fatal('Sign-in failed', error.message);
    }
    return;
  }
  const creds = credentials(config);
  if (creds.kind === 'ask-psk') { renderLogin(); return; }
  if (creds.kind === 'oidc-login') {
    root.replaceChildren(h('main', { class: 'center-page' }, brand(),
      h('p', { class: 'muted' }, 'Redirecting to sign in...')));
    try {
      await beginOidcLogin(config, path);
    } catch (error) {
      fatal('Sign-in is not available', error.message);
    }
    return;
  }
  const match = path.match(/^\/desktops\/([^/]+)\/?$/);
  if (match) {
    const id = decodeURIComponent(match[1]);
    if (!DESKTOP_ID.test(id)) { fatal('No such desktop', `"${id}" is not a desktop id.`); return; }
    teardown = renderSession(root, {
      desktopId: id, creds, brand, onBack: () => navigate('/'),
      onAuthFailure: () => {
        forgetCredentials();
        if (config.auth_method === 'psk') renderLogin('That key was not accepted. Check it and try again.');
        else route();
      },
    });
    return;
  }
  teardown = renderDesktops(creds);
}

window.addEventListener('popstate', () => route());
route();
