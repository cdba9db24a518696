// Folder import: plan, then run with live progress (server-sent events),
// stepping through each user when "Confirm each" is ticked.

import { get, post } from './api.js';

let ctx;
let job = null;
let source = null;

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

export function init(context) {
  ctx = context;
  if (ctx.state.session.sample_folder) $('folder-path').value = ctx.state.session.sample_folder;
  $('folder-form').addEventListener('submit', (e) => {
    e.preventDefault();
    plan({ folder: $('folder-path').value });
  });
  const files = $('folder-files');
  $('folder-pick').addEventListener('click', () => files.click());
  files.addEventListener('change', () => {
    if (files.files.length) upload(pickedFiles([...files.files]));
    files.value = '';
  });
  const box = $('folder');
  box.addEventListener('dragover', (e) => { e.preventDefault(); box.classList.add('over'); });
  box.addEventListener('dragleave', () => box.classList.remove('over'));
  box.addEventListener('drop', (e) => {
    e.preventDefault();
    e.stopPropagation();
    box.classList.remove('over');
    // The entries must be taken during the event; they are walked after.
    droppedFiles(e.dataTransfer).then((dropped) => {
      if (dropped.length) upload(dropped);
      else ctx.toast('Nothing to import there: drop a folder of photos, or its photos.', 'warn');
    }, ctx.failed);
  });
  offerCarryOn().catch(ctx.failed);
}

/**
 * Imports that stopped before their end (the server was stopped, the page
 * closed mid-run, a write failed) are kept with their plan and journal: the
 * page offers to carry each on, doing only what is not done yet.
 */
async function offerCarryOn() {
  const found = await get('api/imports/interrupted');
  const box = $('folder-interrupted');
  if (!box) return;
  box.replaceChildren();
  for (const i of found.imports || []) {
    const go = h('button', { type: 'button', class: 'carry-on', text: 'Carry on' });
    go.addEventListener('click', () => carryOn(i.folder));
    box.append(h('p', { class: 'interrupted', role: 'status' },
      `An import of ${i.folder} stopped before it finished (${i.done} of ${i.writes} writes done). `, go));
  }
  // Tests (and screen readers' users) can tell "none" from "not asked yet".
  box.dataset.loaded = 'true';
}

/** Loads the interrupted import of `folder` as a plan to run again. */
async function carryOn(folder) {
  ctx.clearToasts();
  const out = $('folder-out');
  out.replaceChildren(h('p', { class: 'muted', text: 'Reading the interrupted import…' }));
  try {
    job = await post('api/imports/resume', { folder });
  } catch (e) { out.replaceChildren(); ctx.failed(e); return; }
  $('folder-interrupted').replaceChildren();
  showPlan(`Carrying on the import of ${job.folder}: ${job.done} of ${job.writes} writes were done before it stopped; only the rest is done now.`);
}

/**
 * The files of the folder picker as `{file, path}`: `path` relative to the
 * chosen folder (`webkitRelativePath` without its first part), as
 * `import -r` names them.
 */
export function pickedFiles(files) {
  return files.map((file) => {
    const parts = (file.webkitRelativePath || file.name).split('/');
    return { file, path: (parts.length > 1 ? parts.slice(1) : parts).join('/') };
  });
}

/**
 * The files of a drop as `{file, path}`. A dropped folder reaches the page
 * only through the entries API (its `File` has no content), so folders are
 * walked — with their subfolders, as the folder picker does — and files
 * taken as they are. One dropped folder is the folder imported (paths
 * relative to it); several things dropped keep their names as the first
 * part. Hidden files and folders are left out.
 */
export function droppedFiles(dt) {
  if (!dt) return Promise.resolve([]);
  const entries = [...(dt.items || [])]
    .filter((i) => i.kind === 'file' && typeof i.webkitGetAsEntry === 'function')
    .map((i) => i.webkitGetAsEntry())
    .filter(Boolean);
  const plain = [...dt.files];
  return (async () => {
    if (!entries.length) return plain.filter((f) => f.size > 0).map((file) => ({ file, path: file.name }));
    const out = [];
    if (entries.length === 1 && entries[0].isDirectory) await walk(entries[0], '', out, true);
    else for (const entry of entries) await walk(entry, '', out, false);
    return out;
  })();
}

async function walk(entry, prefix, out, root) {
  if (entry.name.startsWith('.')) return;
  const path = root ? '' : `${prefix}${entry.name}`;
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    out.push({ file, path });
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    // readEntries answers in batches until an empty one.
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) break;
      for (const child of batch) await walk(child, path ? `${path}/` : '', out, false);
    }
  }
}

/**
 * Sends the chosen files (`{file, path}`) into a fresh folder on the
 * server at their relative paths (subfolders kept; the server checks each
 * path), then plans it as `import -r` would.
 */
async function upload(files) {
  ctx.clearToasts();
  const out = $('folder-out');
  const photos = files.filter((f) => f.path && !f.path.split('/').some((p) => p.startsWith('.')));
  const status = h('p', { class: 'muted', role: 'status', text: `Uploading ${photos.length} files…` });
  out.replaceChildren(status);
  try {
    const folder = await post('api/folders');
    let n = 0;
    for (const f of photos) {
      await post(`api/folders/${folder.id}/files?name=${encodeURIComponent(f.path)}`, f.file);
      n += 1;
      status.textContent = `Uploading ${n} of ${photos.length}: ${f.path}`;
    }
    await plan({ upload: folder.id });
  } catch (e) { out.replaceChildren(); ctx.failed(e); }
}

/**
 * The User column: the user the file was matched to. A file that matches
 * nobody has no user — the name it carries is in the File column and the
 * reason says why — so the cell says so rather than repeat that name.
 */
function userCell(r) {
  if (r.action === 'unmatched') {
    return h('td', { class: 'no-user' }, h('span', { 'aria-hidden': 'true', text: '— ' }), 'no match');
  }
  if (!r.user) return h('td', { class: 'no-user', text: '—' });
  return h('td', { text: r.display_name ? `${r.display_name} (${r.user})` : r.user });
}

/** A plan row's and a report item's common key: file and target. */
const rowKey = (file, target) => `${target || ''}:${file}`;

const ACTION_TEXT = {
  set: 'will be written', unchanged: 'already in place', skipped: 'skipped',
  unmatched: 'matches nobody', duplicate: 'duplicate', error: 'cannot be used',
};

async function plan(request) {
  ctx.clearToasts();
  const out = $('folder-out');
  out.replaceChildren(h('p', { class: 'muted', text: 'Matching files to users and checking every photo…' }));
  try {
    job = await post('api/imports', request);
  } catch (e) { out.replaceChildren(); ctx.failed(e); return; }
  // An uploaded folder lives on the server: the field shows what is planned.
  if (request.upload) $('folder-path').value = '';
  showPlan(request.upload ? 'Plan for the uploaded folder' : `Plan for ${job.folder}`);
  if (job.interrupted) {
    const again = h('button', { type: 'button', id: 'folder-carry-on', text: 'Carry that one on instead' });
    again.addEventListener('click', () => carryOn(job.folder));
    $('folder-out').prepend(h('p', { class: 'interrupted', role: 'status' },
      'An earlier import of this folder stopped before it finished. Importing now starts afresh (what is in place is skipped). ', again));
  }
}

/** The plan of `job` as a table, under `title`. */
function showPlan(title) {
  const out = $('folder-out');
  const c = job.counts;
  const counts = h('p', { class: 'counts', id: 'plan-counts' });
  counts.textContent = `${c.files} file${c.files === 1 ? '' : 's'} · ${c.set} to write · ${c.unchanged} unchanged · ${c.skipped} skipped · ${c.unmatched} unmatched · ${c.duplicate} duplicates · ${c.error} errors`;
  const table = h('table', { id: 'plan-table' });
  table.append(h('caption', { class: 'sr-only', text: 'Import plan' }));
  const head = h('tr');
  for (const t of ['File', 'User', 'Target', 'Plan']) head.append(h('th', { scope: 'col', text: t }));
  table.append(h('thead', {}, head));
  const body = h('tbody');
  for (const r of job.rows) {
    const tr = h('tr', { 'data-action': r.action, 'data-key': rowKey(r.file, r.target) });
    // A path may break after each slash, never inside a name.
    const file = h('td');
    r.file.split('/').forEach((part, i, all) => {
      file.append(part + (i < all.length - 1 ? '/' : ''));
      if (i < all.length - 1) file.append(h('wbr'));
    });
    tr.append(file);
    tr.append(userCell(r));
    const t = r.target ? ctx.targetOf(r.target) : null;
    tr.append(h('td', { text: t ? t.label : (r.target || '—') }));
    const said = h('td', { text: ACTION_TEXT[r.action] + (r.reason ? `: ${r.reason}` : '') });
    // Quality findings (no face, too dark…) before anyone confirms.
    if (r.action !== 'error' && r.warnings && r.warnings.length) {
      said.append(h('div', { class: 'plan-warnings muted', text: `Check: ${r.warnings.join('; ')}` }));
    }
    tr.append(said);
    body.append(tr);
  }
  table.append(body);
  const label = job.resumed ? 'Carry on' : (c.set ? `Import ${c.set} photo${c.set === 1 ? '' : 's'}` : 'Nothing to import');
  const run = h('button', { type: 'button', class: 'primary', id: 'folder-run', text: label, disabled: !c.set });
  run.addEventListener('click', start);
  const heading = h('h3', { id: 'plan-title', text: title });
  out.replaceChildren(heading, counts, run, h('div', { id: 'folder-step' }), h('div', { id: 'folder-progress' }), table);
}

async function start() {
  ctx.clearToasts();
  const confirm = $('confirm-each').checked;
  $('folder-run').disabled = true;
  source = ctx.state.source;
  const progress = h('progress', { id: 'folder-bar', max: 1, value: 0, 'aria-label': 'Import progress' });
  const status = h('p', { id: 'folder-status', class: 'muted', role: 'status', text: 'Starting…' });
  const stop = h('button', { type: 'button', id: 'folder-stop', text: 'Stop' });
  stop.addEventListener('click', () => post(`api/imports/${job.id}/stop`).catch(ctx.failed));
  $('folder-progress').replaceChildren(progress, status, stop);
  // Subscribe first, so no event is missed (the server replays history too).
  const events = new EventSource(`api/imports/${job.id}/events`);
  let done = 0;
  let total = 0;
  events.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    if (ev.type === 'started') { total = ev.total; progress.max = Math.max(1, total); }
    if (ev.type === 'item') {
      done += 1;
      progress.value = done;
      const t = ev.target ? ctx.targetOf(ev.target) : null;
      const where = t ? t.label : (ev.target || '');
      status.textContent = `${done} of ${total}: ${ev.file} → ${where} ${OUTCOME_TEXT[ev.outcome] || ev.outcome}`;
    }
    if (ev.type === 'confirm') ask(ev);
    if (ev.type === 'stopping') status.textContent = 'Stopping after the writes in flight…';
    if (ev.type === 'report-ready') {
      events.close();
      if (ev.summary) finished(ev.summary);
      else broken(ev.error);
    }
  };
  try {
    await post(`api/imports/${job.id}/start`, { confirm });
  } catch (e) { events.close(); ctx.failed(e); }
}

function ask(ev) {
  const step = $('folder-step');
  const who = ev.display_name ? `${ev.display_name} (${ev.user})` : ev.user;
  const figs = h('div', { class: 'step' });
  const fig = (src, caption) => {
    const img = h('img', { src, alt: caption });
    const f = h('figure', {}, img, h('figcaption', { class: 'muted', text: caption }));
    img.addEventListener('error', () => { img.replaceWith(h('div', { class: 'frame placeholder', text: 'No photo' })); });
    return f;
  };
  figs.append(fig(`api/imports/${job.id}/preview?file=${encodeURIComponent(ev.file)}`, `New: ${ev.file}`));
  if (ev.user_id) {
    for (const t of ctx.state.session.targets.filter((x) => x.state === 'ok')) {
      figs.append(fig(`api/users/${encodeURIComponent(ev.user_id)}/photo/${t.kind}?source=${source}&t=${Date.now()}`, `Current ${t.label}`));
    }
  }
  const sizes = ev.targets.map((t) => {
    const x = ctx.targetOf(t.target);
    return `${x ? x.label : t.target}: ${t.current_bytes ? fmt(t.current_bytes) : 'no photo'} → ${fmt(t.new_bytes)}`;
  }).join(' · ');
  const buttons = h('div', { class: 'buttons' });
  let box;
  const decide = (d) => async () => {
    // Answered: clear it now; the next question may arrive before the reply.
    box.remove();
    try { await post(`api/imports/${job.id}/decide`, { decision: d, question: ev.question }); } catch (e) { ctx.failed(e); }
  };
  for (const [d, text, cls] of [['yes', 'Import', 'primary'], ['no', 'Skip', ''], ['all', 'Import all', ''], ['quit', 'Stop', 'danger-outline']]) {
    const b = h('button', { type: 'button', class: cls, text });
    b.addEventListener('click', decide(d));
    buttons.append(b);
  }
  box = h('div', { class: 'confirm-step', role: 'group', 'aria-label': `Import photo for ${who}?` },
    h('h3', { text: `Import ${ev.file} for ${who}?` }), h('p', { class: 'muted', text: sizes }), figs, buttons);
  step.replaceChildren(box);
  buttons.querySelector('button').focus();
}

const OUTCOME_TEXT = {
  written: 'written', unchanged: 'already in place', skipped: 'skipped', unmatched: 'matches nobody',
  duplicate: 'duplicate', failed: 'failed', 'not-done': 'not done', 'would-write': 'would be written',
};

/** The run ended without a report (the server says why). */
function broken(error) {
  $('folder-step').replaceChildren();
  $('folder-status').textContent = `Stopped: ${error || 'the import ended without a report'}`;
  $('folder-stop').remove();
  ctx.toast($('folder-status').textContent, 'error');
}

async function finished(s) {
  $('folder-step').replaceChildren();
  const status = $('folder-status');
  status.textContent = `Done${s.stopped ? ' (stopped)' : ''}: ${s.written} written, ${s.unchanged} unchanged, ${s.skipped} skipped, ${s.failed} failed, ${s.not_done} not done.`;
  const link = h('a', { class: 'button', id: 'folder-report', href: `api/imports/${job.id}/report`, download: 'userphoto-import-report.json', text: 'Download report' });
  $('folder-stop').replaceWith(link);
  ctx.toast(s.failed ? `${status.textContent} The Result column says why.` : status.textContent, s.failed ? 'error' : 'ok');
  if (ctx.state.user) ctx.refresh();
  try {
    showResults(await get(`api/imports/${job.id}/report`));
  } catch (e) { ctx.failed(e); }
  // A stopped run (or one with failures) can be carried on later.
  offerCarryOn().catch(ctx.failed);
}

/**
 * The run's outcome beside each row of the plan, failures with their
 * reason, so nobody has to open the report to learn what went wrong.
 */
function showResults(report) {
  const table = $('plan-table');
  if (!table) return;
  const byKey = new Map(report.items.map((i) => [rowKey(i.file, i.target), i]));
  table.querySelector('thead tr').append(h('th', { scope: 'col', text: 'Result' }));
  for (const tr of table.querySelectorAll('tbody tr')) {
    const item = byKey.get(tr.dataset.key);
    if (!item) { tr.append(h('td', { text: '—' })); continue; }
    tr.dataset.outcome = item.outcome;
    const text = OUTCOME_TEXT[item.outcome] || item.outcome;
    // The plan's cell already gives the reason of what was not attempted.
    const why = item.error && ['failed', 'not-done'].includes(item.outcome) ? `: ${item.error}` : '';
    tr.append(h('td', { text: text + why }));
  }
}

function fmt(n) {
  if (n === undefined || n === null) return '?';
  return n < 1000 ? `${n} B` : `${(n / 1000).toFixed(1)} KB`;
}
