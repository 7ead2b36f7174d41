// Tiny DOM helpers: elements from data (never from HTML strings), icons from the sprite in
// index.html, status chips.

/**
 * Creates an element. `props`: attributes, `class`, `on<Event>` handlers, `dataset`.
 * Children: nodes, strings (as text) or arrays of them; null and false are skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = tag === 'svg' || tag === 'use'
    ? document.createElementNS('http://www.w3.org/2000/svg', tag)
    : document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'class') el.setAttribute('class', value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  appendChildren(el, children);
  return el;
}

function appendChildren(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An inline icon from the sprite (`#i-<name>`). */
export function icon(name, className = 'icon') {
  const svg = h('svg', { class: className, 'aria-hidden': 'true', focusable: 'false' });
  const use = h('use');
  use.setAttribute('href', `#i-${name}`);
  svg.append(use);
  return svg;
}

export const STATUS_LABELS = Object.freeze({
  online: 'Online',
  offline: 'Offline',
  new: 'Starting',
  connecting: 'Connecting',
  connected: 'Connected',
  disconnected: 'Disconnected',
  failed: 'Failed',
  closed: 'Closed',
  reconnecting: 'Reconnecting',
});

const STATUS_TONE = Object.freeze({
  online: 'good', connected: 'good', new: 'busy', connecting: 'busy', reconnecting: 'busy',
  disconnected: 'warn', failed: 'bad', closed: 'idle', offline: 'idle',
});

/** A status chip (`.chip[data-tone]`) whose text and tone follow `status`. */
export function chip(status, extraClass = '') {
  const el = h('span', { class: `chip ${extraClass}`.trim(), role: 'status' });
  setChip(el, status);
  return el;
}

export function setChip(el, status, label) {
  el.dataset.status = status;
  el.dataset.tone = STATUS_TONE[status] ?? 'idle';
  el.replaceChildren(h('span', { class: 'dot', 'aria-hidden': 'true' }), label ?? STATUS_LABELS[status] ?? status);
}

export function clear(el) { el.replaceChildren(); }

/** A short message at the bottom of the screen. */
export function toast(text, ms = 3500) {
  let host = document.querySelector('.toasts');
  if (!host) {
    host = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(host);
  }
  const el = h('div', { class: 'toast' }, text);
  host.append(el);
  setTimeout(() => { el.classList.add('leaving'); setTimeout(() => el.remove(), 300); }, ms);
}
