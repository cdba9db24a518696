// Toasts: what an action did, in the corner, tidy when many arrive.
//
// * At most MAX_VISIBLE are shown; the rest fold into one "+N more" toast
//   that says how many of them are errors and can show them all (nothing
//   is dropped). Errors are shown before anything else.
// * A new action clears the toasts of the previous one (`clearToasts`),
//   so what is on screen is about what was just done.
// * Errors are role=alert and stay longer; the rest are role=status.

const MAX_VISIBLE = 3;
const LIFETIME = { error: 15000, warn: 8000, ok: 6000 };

const $ = (id) => document.getElementById(id);
const items = [];   // {el, kind, seq, timer}
let seq = 0;
let expanded = false;
let more = null;    // the "+N more" toast

/**
 * Shows `text` as a toast of `kind` (`ok`, `warn`, `error`); `details`
 * (optional) are listed under it.
 */
export function toast(text, kind = 'ok', details = []) {
  const el = document.createElement('div');
  el.className = `toast ${kind}`;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  const body = document.createElement('div');
  body.className = 'toast-body';
  const line = document.createElement('span');
  line.textContent = text;
  body.append(line);
  if (details.length) {
    const list = document.createElement('ul');
    for (const d of details) {
      const li = document.createElement('li');
      li.textContent = d;
      list.append(li);
    }
    body.append(list);
  }
  el.append(body, closeButton('Dismiss', () => dismiss(item)));
  const item = { el, kind, seq: ++seq, timer: null };
  item.timer = setTimeout(() => dismiss(item), LIFETIME[kind] || LIFETIME.ok);
  items.push(item);
  // Before the "+N more" toast, which stays last (and is not re-inserted,
  // so screen readers do not announce it again).
  container().insertBefore(el, more && more.isConnected ? more : null);
  render();
}

/** Removes every toast: a new action is starting. */
export function clearToasts() {
  for (const item of items.splice(0)) {
    clearTimeout(item.timer);
    item.el.remove();
  }
  expanded = false;
  render();
}

function dismiss(item) {
  const i = items.indexOf(item);
  if (i < 0) return;
  items.splice(i, 1);
  clearTimeout(item.timer);
  item.el.remove();
  if (items.length <= MAX_VISIBLE) expanded = false;
  render();
}

function container() {
  return $('toasts');
}

function closeButton(label, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'ghost';
  b.setAttribute('aria-label', label);
  b.textContent = '×';
  b.addEventListener('click', onClick);
  return b;
}

/** Which toasts are shown: errors first, then the newest of the rest. */
function visible() {
  if (expanded || items.length <= MAX_VISIBLE) return new Set(items);
  const rank = (i) => (i.kind === 'error' ? 0 : 1);
  const chosen = [...items].sort((a, b) => rank(a) - rank(b) || b.seq - a.seq).slice(0, MAX_VISIBLE);
  return new Set(chosen);
}

function render() {
  const shown = visible();
  for (const item of items) item.el.hidden = !shown.has(item);
  const hidden = items.filter((i) => !shown.has(i));
  const box = container();
  box.classList.toggle('expanded', expanded);
  if (!hidden.length && !expanded) {
    if (more) more.remove();
    more = null;
    return;
  }
  if (!more) more = moreToast();
  const errors = hidden.filter((i) => i.kind === 'error').length;
  more.className = `toast more${errors ? ' error' : ''}`;
  // A folded error is announced as one; the rest politely.
  more.setAttribute('role', errors ? 'alert' : 'status');
  more.querySelector('.toast-body span').textContent = expanded
    ? `${items.length} messages`
    : `+${hidden.length} more message${hidden.length === 1 ? '' : 's'}` +
      (errors ? ` (${errors} error${errors === 1 ? '' : 's'})` : '');
  const toggle = more.querySelector('.toast-toggle');
  toggle.textContent = expanded ? 'Show fewer' : 'Show all';
  toggle.setAttribute('aria-expanded', expanded ? 'true' : 'false');
  if (!more.isConnected) box.append(more);
}

function moreToast() {
  const el = document.createElement('div');
  const body = document.createElement('div');
  body.className = 'toast-body';
  const line = document.createElement('span');
  const toggle = document.createElement('button');
  toggle.type = 'button';
  toggle.className = 'toast-toggle link';
  toggle.setAttribute('aria-controls', 'toasts');
  toggle.addEventListener('click', () => {
    expanded = !expanded;
    // Opened to be read: nothing goes away by itself any more.
    if (expanded) for (const item of items) clearTimeout(item.timer);
    render();
  });
  body.append(line, toggle);
  el.append(body, closeButton('Dismiss all messages', clearToasts));
  return el;
}
