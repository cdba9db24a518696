// Coverage at a glance: who has no photo, or only Exchange's 64×64 in AD,
// per target — the counts of `userphoto report`, filterable, as CSV.

import { get } from './api.js';

let ctx;
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
  const sel = $('coverage-target');
  for (const t of ctx.state.session.targets.filter((t) => t.state === 'ok')) {
    sel.append(h('option', { value: t.kind, text: `${t.label} (${t.title})` }));
  }
  $('coverage-count').addEventListener('click', () => load(true));
  let typing = null;
  $('coverage-show').addEventListener('change', () => load(false));
  $('coverage-target').addEventListener('change', () => load(false));
  $('coverage-q').addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => load(false), 250);
  });
  $('coverage-filter').addEventListener('submit', (e) => e.preventDefault());
}

function filter() {
  return {
    show: $('coverage-show').value,
    target: $('coverage-target').value,
    q: $('coverage-q').value.trim(),
  };
}

let asked = 0;
async function load(refresh) {
  const mine = ++asked;
  const button = $('coverage-count');
  const params = filter();
  if (refresh) {
    button.disabled = true;
    $('coverage-when').textContent = 'Counting…';
  }
  const box = $('coverage');
  box.dataset.loaded = 'false';
  try {
    const c = await get('api/coverage', { ...params, refresh: refresh ? 1 : undefined });
    if (mine !== asked) return;
    show(c, params);
  } catch (e) {
    if (mine === asked) {
      $('coverage-when').textContent = `Not counted: ${e.message}`;
      ctx.failed(e);
    }
  } finally {
    if (mine === asked) {
      button.disabled = false;
      button.textContent = 'Count again';
      box.dataset.loaded = 'true';
    }
  }
}

const num = (n, bad) => h('td', { class: bad && n > 0 ? 'num bad' : 'num', text: String(n) });

function show(c, params) {
  $('coverage-when').textContent = `Counted ${c.counted_at}.`;
  const sum = $('coverage-summary').querySelector('tbody');
  sum.replaceChildren(...c.targets.map((t) => {
    const k = t.counts;
    return h('tr', { 'data-target': t.target },
      h('th', { scope: 'row', text: t.label || t.target }),
      num(k.users), num(k.with_photo), num(k.no_photo, true),
      num(k.only_exchange_thumbnail, true), num(k.hd_without_thumbnail, true), num(k.unreadable, true));
  }));
  const rows = $('coverage-rows').querySelector('tbody');
  rows.replaceChildren(...c.rows.map((r) => h('tr', { 'data-target': r.target },
    h('td', { text: r.label || r.target }),
    h('td', { text: r.user }),
    h('td', { text: r.display_name || '' }),
    h('td', { text: r.has_photo ? (r.pixels || 'yes') : 'none' }),
    h('td', { class: r.findings.length ? 'bad' : '', text: r.findings.length ? r.findings_text : 'ok' }),
    h('td', { text: r.last_written || '—' }))));
  const people = c.matching === 1 ? 'row' : 'rows';
  $('coverage-matching').textContent = c.matching > c.shown
    ? `${c.matching} ${people} match; the first ${c.shown} are shown (the CSV has them all).`
    : `${c.matching} ${people} match.`;
  const url = new URL('api/coverage.csv', document.baseURI);
  for (const [k, v] of Object.entries(params)) if (v) url.searchParams.set(k, v);
  $('coverage-csv').href = url.pathname + url.search;
  $('coverage-out').hidden = false;
}
