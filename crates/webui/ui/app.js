// The main screen: pick a user, drop a photo, see the current photos,
// import / remove / use existing HD. Plain ES module, no framework.

import { get, post, session, ApiError } from './api.js';
import { createCropEditor } from './crop.js';
import { toast, clearToasts } from './toasts.js';

const $ = (id) => document.getElementById(id);
const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c) el.append(c);
  return el;
};

const state = {
  session: null,
  source: null,   // listing source kind
  user: null,     // {id, name, display_name, …}
  panes: {},      // target kind -> pane JSON
  upload: null,   // upload JSON
  busy: false,
};

// ---------------------------------------------------------------- toasts

function failed(e) {
  toast(e instanceof ApiError ? e.message : `Something went wrong: ${e.message}`, 'error');
}

// ---------------------------------------------------------------- theme

const THEMES = ['auto', 'light', 'dark'];
function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  $('theme').setAttribute('aria-label', `Colour theme: ${theme === 'auto' ? 'automatic' : theme}`);
  $('theme').title = `Colour theme: ${theme} (click to change)`;
}
function initTheme() {
  let theme = localStorage.getItem('userphoto-theme') || 'auto';
  applyTheme(theme);
  $('theme').addEventListener('click', () => {
    theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
    localStorage.setItem('userphoto-theme', theme);
    applyTheme(theme);
  });
}

// ---------------------------------------------------------------- panes

const targetOf = (kind) => state.session.targets.find((t) => t.kind === kind);
const writable = () => state.session.targets.filter((t) => t.state === 'ok' && t.can_write);
const hdTarget = () => state.session.targets.find((t) => t.slot === 'hd' && t.state === 'ok');
const adTargets = () => state.session.targets.filter((t) => t.slot === 'thumbnail' && t.state === 'ok');

const STATE_TEXT = {
  'no-photo': 'No photo',
  'no-mailbox': 'No mailbox',
  'not-accessible': 'Not accessible',
  'none': 'Pick a user',
};
const STATE_ICON = {
  'no-photo': '<circle cx="12" cy="9" r="4"/><path d="M4 21c1-4.5 4.5-6.5 8-6.5s7 2 8 6.5"/>',
  'no-mailbox': '<rect x="3" y="6" width="18" height="13" rx="2"/><path d="m3 8 9 6 9-6M4 4l16 17"/>',
  'not-accessible': '<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V8a4 4 0 0 1 8 0v3"/>',
  'none': '<circle cx="11" cy="11" r="6"/><path d="m20 20-4.5-4.5"/>',
};

function buildPanes() {
  const panes = document.querySelector('.panes');
  for (const t of state.session.targets) {
    const id = `pane-${t.kind}`;
    const art = h('article', { class: 'pane', id, 'aria-labelledby': `${id}-title`, 'data-target': t.kind });
    art.append(h('h2', { id: `${id}-title`, text: `Current ${t.label} photo (${t.size}×${t.size})` }));
    art.append(h('p', { class: 'sub muted', text: state.session.demo ? `${t.label} · demo sandbox folder` : `${t.title} · ${t.description || ''}` }));
    const frame = h('div', { class: `frame ${t.slot}`, id: `${id}-frame`, role: 'img', 'aria-label': 'No user selected' });
    art.append(frame);
    art.append(h('p', { class: 'info muted', id: `${id}-info`, 'aria-live': 'polite' }));
    const actions = h('div', { class: 'pane-actions' });
    if (t.can_delete) {
      const rm = h('button', { type: 'button', id: `${id}-remove`, class: 'danger-outline', disabled: true, text: `Remove ${t.label}` });
      rm.addEventListener('click', () => removePhoto(t));
      actions.append(rm);
    }
    if (t.slot === 'hd') {
      const view = h('a', { id: `${id}-view`, class: 'button disabled', target: '_blank', rel: 'noopener', 'aria-disabled': 'true', text: 'View web image' });
      view.addEventListener('click', (e) => { if (view.getAttribute('aria-disabled') === 'true') e.preventDefault(); });
      actions.append(view);
    }
    art.append(actions);
    panes.append(art);
    renderPane(t.kind, t.state === 'ok' ? { state: 'none' } : { state: 'not-accessible', reason: t.reason });
  }
}

function photoUrl(kind, sha) {
  const u = new URL(`api/users/${encodeURIComponent(state.user.id)}/photo/${kind}`, document.baseURI);
  u.searchParams.set('source', state.source);
  if (sha) u.searchParams.set('v', sha.slice(0, 16));
  return u.pathname + u.search;
}

function renderPane(kind, pane) {
  const t = targetOf(kind);
  const id = `pane-${kind}`;
  const frame = $(`${id}-frame`);
  const info = $(`${id}-info`);
  frame.replaceChildren();
  frame.className = `frame ${t.slot} state-${pane.state}`;
  frame.removeAttribute('title');
  if (pane.state === 'photo') {
    const img = h('img', { src: photoUrl(kind, pane.sha256), alt: `Current ${t.label} photo of ${state.user.label}` });
    frame.append(img);
    frame.setAttribute('aria-label', `Current ${t.label} photo`);
    const px = pane.pixels ? `${pane.pixels[0]}×${pane.pixels[1]} · ` : '';
    info.textContent = `${px}${formatBytes(pane.bytes)}`;
  } else {
    const text = STATE_TEXT[pane.state] || pane.state;
    const ph = h('div', { class: 'placeholder' });
    ph.innerHTML = `<svg viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round">${STATE_ICON[pane.state] || STATE_ICON['no-photo']}</svg>`;
    ph.append(h('span', { class: 'state-label', text }));
    frame.append(ph);
    frame.setAttribute('aria-label', pane.reason ? `${text}: ${pane.reason}` : text);
    if (pane.reason) frame.title = pane.reason;
    info.textContent = pane.reason || '';
  }
  const rm = $(`${id}-remove`);
  if (rm) rm.disabled = pane.state !== 'photo' || state.busy;
  const view = $(`${id}-view`);
  if (view) {
    const on = pane.state === 'photo';
    view.setAttribute('aria-disabled', on ? 'false' : 'true');
    view.classList.toggle('disabled', !on);
    if (on) view.href = photoUrl(kind, pane.sha256); else view.removeAttribute('href');
  }
  state.panes[kind] = pane;
}

async function loadUser({ expect = {} } = {}) {
  if (!state.user) return;
  const id = state.user.id;
  let delay = 500;
  for (let attempt = 0; ; attempt++) {
    const u = await get(`api/users/${encodeURIComponent(id)}`, { source: state.source });
    if (!state.user || state.user.id !== id) return;
    const late = Object.entries(expect).filter(([kind, sha]) => {
      const p = u.panes.find((x) => x.target === kind);
      return p && (p.sha256 || null) !== sha;
    });
    // Microsoft 365 may take seconds to show a new photo: be patient.
    if (late.length && attempt < 5) {
      for (const [kind] of late) $(`pane-${kind}-info`).textContent = 'Waiting for the directory to show the new photo…';
      await new Promise((r) => setTimeout(r, delay));
      delay *= 2;
      continue;
    }
    for (const p of u.panes) if (targetOf(p.target)) renderPane(p.target, p);
    updateButtons();
    loadHistory().catch(failed);
    return;
  }
}

// ---------------------------------------------------------------- user search

let searchTimer = null;
let searchSeq = 0;
let active = -1;

function initSearch() {
  const input = $('user-search');
  const list = $('user-list');
  input.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => search(input.value), 180);
  });
  input.addEventListener('focus', () => { if (!list.children.length) search(input.value); });
  input.addEventListener('keydown', (e) => {
    const items = [...list.children];
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (list.hidden) { search(input.value); return; }
      active = (active + (e.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length;
      highlight(items);
    } else if (e.key === 'Enter') {
      if (!list.hidden && items[active]) { e.preventDefault(); items[active].click(); }
      else if (!list.hidden && items.length === 1) { e.preventDefault(); items[0].click(); }
    } else if (e.key === 'Escape') {
      closeList();
    }
  });
  input.addEventListener('blur', () => setTimeout(closeList, 150));
}

function highlight(items) {
  items.forEach((li, i) => li.setAttribute('aria-selected', i === active ? 'true' : 'false'));
  const cur = items[active];
  if (cur) {
    $('user-search').setAttribute('aria-activedescendant', cur.id);
    cur.scrollIntoView({ block: 'nearest' });
  }
}

function closeList() {
  $('user-list').hidden = true;
  $('user-search').setAttribute('aria-expanded', 'false');
  $('user-search').removeAttribute('aria-activedescendant');
}

async function search(q) {
  const seq = ++searchSeq;
  let found;
  try {
    found = await get('api/users', { q: q.trim(), source: state.source });
  } catch (e) { failed(e); return; }
  if (seq !== searchSeq) return; // a newer search is on its way
  const list = $('user-list');
  list.replaceChildren();
  active = -1;
  found.users.forEach((u, i) => {
    const li = h('li', { role: 'option', id: `user-opt-${i}`, 'aria-selected': 'false', 'data-id': u.id });
    li.append(h('span', { class: 'name', text: u.display_name || u.name }));
    li.append(h('span', { class: 'account muted', text: u.name }));
    li.addEventListener('mousedown', (e) => e.preventDefault());
    li.addEventListener('click', () => selectUser(u));
    list.append(li);
  });
  if (!found.users.length) list.append(h('li', { class: 'empty muted', text: 'No user matches' }));
  if (found.more) list.append(h('li', { class: 'empty muted', text: 'More users match: keep typing' }));
  list.hidden = false;
  $('user-search').setAttribute('aria-expanded', 'true');
}

async function selectUser(u) {
  // Another person: what was shown and dropped for the last one goes.
  clearToasts();
  if (!state.user || state.user.id !== u.id) { clearInput(); clearResult(); state.panes = {}; $('history').hidden = true; }
  state.user = u;
  closeList();
  $('user-search').value = u.display_name || u.name;
  $('user-summary').textContent = `${u.display_name || u.name} — ${u.name}${u.upn ? ' · ' + u.upn : ''}`;
  for (const t of state.session.targets) {
    if (t.state === 'ok') $(`pane-${t.kind}-info`).textContent = 'Loading…';
  }
  try { await loadUser(); } catch (e) { failed(e); }
  updateButtons();
}

// ---------------------------------------------------------------- input photo

function initDrop() {
  const drop = $('drop');
  const file = $('file');
  const choose = () => file.click();
  $('browse').addEventListener('click', choose);
  drop.addEventListener('click', choose);
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); choose(); }
  });
  file.addEventListener('change', () => { if (file.files[0]) useFile(file.files[0]); file.value = ''; });
  for (const ev of ['dragenter', 'dragover']) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add('over'); });
  }
  for (const ev of ['dragleave', 'drop']) {
    drop.addEventListener(ev, () => drop.classList.remove('over'));
  }
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    const f = e.dataTransfer && e.dataTransfer.files[0];
    if (f) useFile(f);
  });
  // Dropping next to the box should not navigate away.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
}

let cropEditor = null;

/** The preview of the square `crop` (null: the pipeline's own framing). */
function previewUrl(crop) {
  if (!crop) return state.upload.preview;
  const q = new URLSearchParams({ x: crop.x.toFixed(2), y: crop.y.toFixed(2), side: crop.side.toFixed(2) });
  return `${state.upload.preview}?${q}`;
}

/** The pipeline's quality findings, on the input pane (never blocking). */
function showChecks(warnings) {
  const list = $('input-checks');
  list.replaceChildren(...warnings.map((w) => h('li', { text: w })));
  list.hidden = !warnings.length;
}

let checksSeq = 0;
/** The quality warnings of the square now shown (they follow the crop). */
async function refreshChecks(crop) {
  const seq = ++checksSeq;
  const id = state.upload.id;
  try {
    const q = crop ? { x: crop.x.toFixed(2), y: crop.y.toFixed(2), side: crop.side.toFixed(2) } : {};
    const r = await get(`api/uploads/${encodeURIComponent(id)}/checks`, q);
    if (seq === checksSeq && state.upload && state.upload.id === id) showChecks(r.warnings || []);
  } catch {
    // The preview's own error says what is wrong with this square.
  }
}

/**
 * Forgets the input photo: its preview, crop, quality warnings and ticks
 * (another user was picked; their photo is a new choice).
 */
function clearInput() {
  uploadSeq += 1;   // an upload still on its way is dropped when it lands
  state.upload = null;
  const img = $('input-preview');
  img.hidden = true;
  img.removeAttribute('src');
  $('drop-empty').hidden = false;
  $('input-info').textContent = INPUT_HELP;
  showChecks([]);
  if (cropEditor) cropEditor.hide();
  for (const t of writable()) {
    const box = $(`tick-${t.kind}`);
    if (box) box.checked = false;
  }
  updateButtons();
}

let uploadSeq = 0;
const INPUT_HELP = 'JPEG, PNG, GIF, BMP, TIFF or WebP, any size.';

async function useFile(f) {
  clearToasts();
  if (f.size > state.session.max_upload_bytes) {
    toast(`${f.name} is larger than ${formatBytes(state.session.max_upload_bytes)}; use a smaller photo.`, 'error');
    return;
  }
  $('input-info').textContent = `Preparing ${f.name}…`;
  const seq = ++uploadSeq;
  try {
    const up = await post('api/uploads', f);
    if (seq !== uploadSeq) return;   // another user or photo since
    state.upload = { ...up, name: f.name };
    const img = $('input-preview');
    img.src = up.preview;
    img.hidden = false;
    $('drop-empty').hidden = true;
    const shape = up.width === up.height ? 'square' : 'cropped to a square';
    $('input-info').textContent = `${f.name}: ${up.width}×${up.height} ${up.format.toUpperCase()}, ${shape}` +
      (up.small ? ' · small: AD only' : '');
    for (const t of writable()) {
      const box = $(`tick-${t.kind}`);
      if (box) box.checked = !!up.ticked[t.kind] && !box.disabled;
    }
    showChecks(up.warnings || []);
    cropEditor.show(f, up);
  } catch (e) {
    if (seq !== uploadSeq) return;
    state.upload = null;
    $('input-info').textContent = 'That file cannot be used.';
    showChecks([]);
    cropEditor.hide();
    failed(e);
  }
  updateButtons();
}

// ---------------------------------------------------------------- actions

function buildTicks() {
  const set = $('ticks');
  for (const t of state.session.targets) {
    const label = h('label', { class: 'check' });
    const box = h('input', { type: 'checkbox', id: `tick-${t.kind}`, value: t.kind, 'aria-describedby': `tick-${t.kind}-why` });
    box.addEventListener('change', updateButtons);
    label.append(box, document.createTextNode(` Replace ${t.size}×${t.size} (${t.label})`));
    const why = h('span', { class: 'why', id: `tick-${t.kind}-why` });
    set.append(h('span', { class: 'tick' }, label, why));
  }
  if (!writable().length) set.append(h('p', { class: 'muted', text: 'No target can be written.' }));
  applyReadiness();
}

/**
 * Why `t` cannot be written for the user shown (null: it can). The
 * server's answer for the target (not configured for writing, not
 * reachable) comes first, then what the user's pane says (no mailbox, not
 * accessible): the page never offers a write it already knows will fail.
 */
function blockedReason(t) {
  if (t.state !== 'ok') return `not accessible${t.reason ? `: ${t.reason}` : ''}`;
  if (!t.can_write) return 'read-only: this target is not written by this setup';
  const p = state.user && state.panes[t.kind];
  if (!p) return null;
  if (p.state === 'no-mailbox') return 'no mailbox: this user has no HD photo to set';
  if (p.state === 'not-accessible') return `not accessible${p.reason ? `: ${p.reason}` : ''}`;
  return null;
}

/** Unticks and disables each target that cannot be written, saying why beside it. */
function applyReadiness() {
  for (const t of state.session.targets) {
    const box = $(`tick-${t.kind}`);
    if (!box) continue;
    const why = blockedReason(t);
    box.disabled = !!why;
    if (why) box.checked = false;
    box.closest('.tick').classList.toggle('blocked', !!why);
    $(`tick-${t.kind}-why`).textContent = why ? `— ${why}` : '';
  }
}

function ticked() {
  return state.session.targets
    .filter((t) => { const b = $(`tick-${t.kind}`); return b && b.checked && !b.disabled; })
    .map((t) => t.kind);
}

/** Why "Use existing HD" cannot be used now ('' when it can). */
function useHdReason() {
  const hd = hdTarget();
  const ads = adTargets().filter((t) => !blockedReason(t));
  if (!hd) return 'There is no HD photo target to make the AD photo from.';
  if (!state.user) return 'Pick a user with an HD photo first.';
  const p = state.panes[hd.kind];
  const who = state.user.display_name || state.user.name;
  if (!p || p.state === 'none') return 'Loading the current photos…';
  if (p.state === 'no-mailbox') return `${who} has no mailbox, so there is no HD photo to make the AD photo from.`;
  if (p.state === 'not-accessible') return `The HD photo of ${who} cannot be read${p.reason ? `: ${p.reason}` : ''}.`;
  if (p.state !== 'photo') return `${who} has no HD photo to make the AD photo from.`;
  if (!ads.length) return `The AD photo of ${who} cannot be written.`;
  return '';
}

function updateButtons() {
  applyReadiness();
  const ready = !!(state.user && state.upload) && !state.busy;
  $('import').disabled = !ready || !ticked().length;
  const hdWhy = useHdReason();
  $('use-hd').disabled = !!hdWhy || state.busy;
  $('use-hd').title = hdWhy || `Make the AD photo from the current HD photo`;
  $('use-hd-why').textContent = hdWhy && state.user ? `Use existing HD: ${hdWhy}` : '';
  for (const t of state.session.targets) {
    const rm = $(`pane-${t.kind}-remove`);
    if (rm) rm.disabled = state.busy || !state.user || !(state.panes[t.kind] && state.panes[t.kind].state === 'photo');
  }
  let help = 'Pick a user and a photo. HD is written first, then AD.';
  if (state.user && !state.upload) help = 'Now drop or choose a photo.';
  else if (!state.user && state.upload) help = 'Now pick the user this photo is for.';
  else if (ready && !ticked().length) {
    const open = state.session.targets.filter((t) => !blockedReason(t));
    help = open.length ? 'Tick at least one target.'
      : `Nothing can be written for ${state.user.display_name || state.user.name}: every target says why beside it.`;
  }
  else if (ready) help = `Ready: ${ticked().map((k) => targetOf(k).label).join(' and ')} for ${state.user.display_name || state.user.name}.`;
  $('import-help').textContent = help;
}

async function busy(work) {
  clearToasts();
  state.busy = true;
  updateButtons();
  document.body.setAttribute('aria-busy', 'true');
  try { await work(); } catch (e) { failed(e); } finally {
    state.busy = false;
    document.body.removeAttribute('aria-busy');
    updateButtons();
  }
}

const labelOf = (kind) => (targetOf(kind) ? targetOf(kind).label : kind);

/**
 * Toasts for a write: one per failed target (an error each), one saying
 * what was done, and the warnings and skips in one more — each warning
 * once, with the targets it is about.
 */
function report(run, verb) {
  const done = [];
  const expect = {};
  const notes = new Map();   // sentence -> target labels
  const note = (label, text) => notes.set(text, [...(notes.get(text) || []), label]);
  const failures = new Map(); // message -> target labels
  for (const r of run.results) {
    const label = labelOf(r.target);
    if (r.status === 'failed') failures.set(r.message, [...(failures.get(r.message) || []), label]);
    else if (r.status === 'unchanged') done.push(`${label} already had it`);
    else {
      done.push(`${label} ${verb}` + (r.size ? ` (${r.size}×${r.size}, ${formatBytes(r.bytes)})` : ''));
      if (r.status === 'done') expect[r.target] = r.sha256 || null;
    }
    for (const w of r.warnings || []) note(label, w);
  }
  // The same failure at two targets is one toast naming both.
  for (const [message, labels] of failures) toast(`${labels.join(', ')}: ${message}`, 'error');
  for (const s of run.skipped || []) note(labelOf(s.target), `skipped: ${s.reason}`);
  showResult(run, verb, failures);
  if (done.length) toast(`${run.user}: ${done.join('; ')}.`, 'ok');
  const lines = [...notes].map(([text, labels]) => `${labels.join(', ')}: ${text}`);
  if (lines.length === 1) toast(lines[0], 'warn');
  else if (lines.length) toast(`${lines.length} things to know about this photo:`, 'warn', lines);
  return expect;
}

/** Local time as HH:MM, for "Written 17:00 …". */
const clock = () => new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });

/**
 * What the last action did, on the page until the next action or user
 * (the toasts are extra): "Written 17:00 to HD and AD, previous photos
 * backed up", and each failure with its reason.
 */
function showResult(run, verb, failures) {
  const out = $('import-result');
  const did = run.results.filter((r) => r.status !== 'failed' && r.status !== 'unchanged');
  const same = run.results.filter((r) => r.status === 'unchanged');
  const lines = [];
  if (did.length) {
    const saved = did.filter((r) => r.backed_up).length;
    const verbText = verb === 'written' ? 'Written' : verb.charAt(0).toUpperCase() + verb.slice(1);
    lines.push([`${verbText} ${clock()} to ${did.map((r) => labelOf(r.target)).join(' and ')}` +
      (saved ? `, previous photo${saved === 1 ? '' : 's'} backed up` : ', nothing to back up') + '.', 'ok']);
  }
  if (same.length) lines.push([`${same.map((r) => labelOf(r.target)).join(' and ')} already had this photo (${clock()}).`, 'ok']);
  for (const [message, labels] of failures) lines.push([`Not written to ${labels.join(' and ')} (${clock()}): ${message}`, 'error']);
  for (const s of run.skipped || []) lines.push([`${labelOf(s.target)} skipped: ${s.reason}`, 'warn']);
  out.replaceChildren(...lines.map(([text, kind]) => h('p', { class: `result ${kind}`, text })));
  out.hidden = !lines.length;
}

function clearResult() {
  $('import-result').replaceChildren();
  $('import-result').hidden = true;
}

async function importPhoto() {
  const targets = ticked();
  await busy(async () => {
    // The square the preview shows: the pipeline's framing, maybe nudged.
    const run = await post(`api/users/${encodeURIComponent(state.user.id)}/import`, {
      source: state.source, upload: state.upload.id, targets, crop: cropEditor.value(),
    });
    const expect = report(run, 'written');
    await loadUser({ expect });
  });
}

function confirmDialog(text, { title = 'Remove photo?', ok = 'Remove' } = {}) {
  return new Promise((resolve) => {
    const d = $('confirm');
    $('confirm-title').textContent = title;
    $('confirm-ok').textContent = ok;
    $('confirm-text').textContent = text;
    d.returnValue = 'cancel';
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
    d.showModal();
  });
}

async function removePhoto(t) {
  const who = state.user.display_name || state.user.name;
  const ok = await confirmDialog(`Remove the ${t.label} photo (${t.size}×${t.size}) of ${who} from ${t.title}? The current photo is kept in the backup folder first.`);
  if (!ok) return;
  await busy(async () => {
    const run = await post(`api/users/${encodeURIComponent(state.user.id)}/remove`, { source: state.source, target: t.kind });
    const r = run.results[0];
    const said = r.status === 'unchanged' ? `${who} had no ${t.label} photo.`
      : r.status === 'failed' ? `${t.label} photo not removed: ${r.message}`
        : `${who}: ${t.label} photo removed${r.backed_up ? ' (backed up)' : ''}.`;
    toast(said, r.status === 'failed' ? 'error' : 'ok');
    $('import-result').replaceChildren(h('p', { class: `result ${r.status === 'failed' ? 'error' : 'ok'}`, text: `${clock()}: ${said}` }));
    $('import-result').hidden = false;
    await loadUser({ expect: { [t.kind]: null } });
  });
}

// ---------------------------------------------------------------- history

const KEPT_WHY = {
  'before-set': 'kept before a new photo was written',
  'before-remove': 'kept before the photo was removed',
  'before-restore': 'kept before a restore',
  export: 'exported',
};
const DID = { set: 'photo written', remove: 'photo removed', restore: 'photo restored from a backup' };

/** An RFC 3339 time as the browser's local date and time. */
function when(t) {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short', hour12: false });
}

let historySeq = 0;
/** The backups held of this user's photos ("Restore this one") and the audit lines about them. */
async function loadHistory() {
  const box = $('history');
  if (!state.user) { box.hidden = true; return; }
  const seq = ++historySeq;
  const u = state.user;
  const who = u.display_name || u.name;
  let found;
  try {
    found = await get(`api/users/${encodeURIComponent(u.id)}/history`, { source: state.source });
  } catch (e) {
    if (seq !== historySeq) return;
    $('history-title').textContent = `Earlier photos and history of ${who}`;
    $('history-body').replaceChildren(h('p', { class: 'error-text', text: `The history cannot be shown: ${e.message}` }));
    box.hidden = false;
    return;
  }
  if (seq !== historySeq || !state.user || state.user.id !== u.id) return;
  $('history-title').textContent = `Earlier photos and history of ${who}`;
  const list = h('ul', { class: 'backups', id: 'backup-list', 'aria-label': `Backups of ${who}` });
  for (const b of found.backups) {
    const t = targetOf(b.target);
    const label = t ? t.label : b.target;
    const src = new URL(`api/users/${encodeURIComponent(u.id)}/backup`, document.baseURI);
    src.searchParams.set('source', state.source);
    src.searchParams.set('path', b.path);
    const img = h('img', { src: src.pathname + src.search, alt: `${label} photo kept ${when(b.time)}`, loading: 'lazy', width: 64, height: 64 });
    const go = h('button', { type: 'button', class: 'restore', text: 'Restore this one', disabled: !t || !!blockedReason(t) || state.busy });
    go.addEventListener('click', () => restoreBackup(b, label));
    list.append(h('li', { class: 'backup', 'data-target': b.target },
      img, h('span', { class: 'backup-text', text: `${when(b.time)} · ${label} · ${KEPT_WHY[b.reason] || b.reason} · ${formatBytes(b.bytes)}` }), go));
  }
  const parts = [];
  if (!found.kept) parts.push(h('p', { class: 'muted', text: 'No backups are kept by this setup.' }));
  else if (!found.backups.length) parts.push(h('p', { class: 'muted', id: 'backup-none', text: `No earlier photo of ${who} is kept yet: one is kept each time a photo is replaced or removed.` }));
  else parts.push(list);
  const audit = h('ul', { class: 'audit muted', id: 'audit-list', 'aria-label': `Audit log lines about ${who}` });
  for (const a of found.audit) {
    const t = targetOf(a.target);
    audit.append(h('li', { text: `${when(a.time)} · ${t ? t.label : a.target} · ${DID[a.action] || a.action} by ${a.identity}${a.backup ? ' (the old one kept)' : ''}` }));
  }
  parts.push(h('h3', { text: 'Audit log' }));
  parts.push(found.audit.length ? audit : h('p', { class: 'muted', id: 'audit-none', text: 'Nothing has been changed for this user yet.' }));
  $('history-body').replaceChildren(...parts);
  box.hidden = false;
}

async function restoreBackup(b, label) {
  const who = state.user.display_name || state.user.name;
  const ok = await confirmDialog(`Put back the ${label} photo of ${who} kept ${when(b.time)}? The current one is kept in the backup folder first.`,
    { title: 'Restore this photo?', ok: 'Restore' });
  if (!ok) return;
  await busy(async () => {
    const run = await post(`api/users/${encodeURIComponent(state.user.id)}/restore`, { source: state.source, path: b.path });
    const expect = report(run, 'restored');
    await loadUser({ expect });
  });
}

async function useExistingHd() {
  await busy(async () => {
    const run = await post(`api/users/${encodeURIComponent(state.user.id)}/use-existing-hd`, { source: state.source });
    const expect = report(run, 'made from the HD photo');
    await loadUser({ expect });
  });
}

// ---------------------------------------------------------------- start

function formatBytes(n) {
  if (n === undefined || n === null) return '';
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1000).toFixed(1)} KB`;
  return `${(n / 1e6).toFixed(1)} MB`;
}

async function start() {
  initTheme();
  try {
    state.session = await session();
  } catch (e) {
    document.querySelector('main').replaceChildren(h('p', { class: 'fatal', role: 'alert', text: e.message }));
    return;
  }
  const s = state.session;
  $('mode').textContent = s.mode === 'NONE' ? 'LOCAL' : s.mode;
  $('mode').setAttribute('aria-label', `Mode: ${s.mode}`);
  if (s.demo) {
    $('demo-badge').hidden = false;
    document.title = 'userphoto — DEMO';
  }
  state.source = s.sources.length ? s.sources[0].kind : null;
  if (s.mode === 'HYBRID' && s.sources.length > 1) {
    const sel = $('source');
    for (const src of s.sources) sel.append(h('option', { value: src.kind, text: src.title }));
    sel.value = state.source;
    sel.addEventListener('change', () => {
      state.source = sel.value;
      state.user = null;
      clearToasts();
      clearResult();
      $('history').hidden = true;
      clearInput();
      $('user-search').value = '';
      $('user-summary').textContent = 'No user selected.';
      $('user-list').replaceChildren();
      for (const t of s.targets) if (t.state === 'ok') renderPane(t.kind, { state: 'none' });
      updateButtons();
    });
    $('source-box').hidden = false;
  }
  buildPanes();
  buildTicks();
  initSearch();
  initDrop();
  cropEditor = createCropEditor({
    onChange: (crop) => {
      if (!state.upload) return;
      $('input-preview').src = previewUrl(crop);
      refreshChecks(crop);
    },
  });
  $('input-preview').addEventListener('error', () => {
    if (state.upload) toast('The preview of this square could not be made; move it back inside the photo or reset it.', 'error');
  });
  $('import').addEventListener('click', importPhoto);
  $('use-hd').addEventListener('click', useExistingHd);
  if (s.folder_import) {
    const mod = await import('./folder.js');
    mod.init({ state, toast, clearToasts, failed, targetOf, refresh: () => loadUser().catch(failed) });
    $('folder').hidden = false;
  }
  if (s.targets.some((t) => t.state === 'ok')) {
    const cov = await import('./coverage.js');
    cov.init({ state, failed });
    $('coverage').hidden = false;
  }
  updateButtons();
  document.body.dataset.ready = 'true';
}

start();
