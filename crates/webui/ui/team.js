// Team mode: an employee signs in, sees their photos now, uploads and
// frames a new one (the admin UI's crop editor), sends it for approval and
// follows it; an approver also sees the queue: the proposed photo beside
// the current ones with its checks, approve, or reject with a reason.

import { createCropEditor } from './crop.js';

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

let me = null;
let upload = null;
let crop = null;

async function call(method, path, body) {
  const raw = body instanceof Blob;
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: method === 'GET' ? {} : {
      'content-type': raw ? 'application/octet-stream' : 'application/json',
      'x-csrf-token': (me && me.csrf) || '',
    },
    body: method === 'GET' ? undefined : (raw ? body : JSON.stringify(body || {})),
  });
  let json = null;
  try { json = await res.json(); } catch { json = null; }
  if (!res.ok) {
    const e = new Error((json && json.error && json.error.message) || `the server answered ${res.status}`);
    e.status = res.status;
    throw e;
  }
  return json;
}

function show(el, text) {
  el.textContent = text || '';
  el.hidden = !text;
}

async function start() {
  try {
    me = await call('GET', 'api/me');
  } catch {
    me = null;
  }
  if (!me) {
    try {
      const how = await call('GET', 'auth/method');
      const entra = how.method === 'entra';
      $('signin-password-way').hidden = entra;
      for (const input of document.querySelectorAll('#signin-password-way input')) input.required = !entra;
      $('signin-entra-way').hidden = !entra;
    } catch { /* the password form stays */ }
  }
  render();
}

function render() {
  $('signin').hidden = !!me;
  $('employee').hidden = !me;
  $('signout').hidden = !me;
  $('approver').hidden = !(me && me.approver);
  $('who').textContent = me ? `${me.display_name || me.name}${me.approver ? ' (approver)' : ''}` : '';
  document.body.dataset.signedIn = me ? 'true' : 'false';
  if (me) {
    loadCurrent();
    loadMine();
    if (me.approver) loadQueue();
  }
  document.body.dataset.ready = 'true';
}

async function signIn(ev) {
  ev.preventDefault();
  show($('signin-error'), '');
  try {
    me = await call('POST', 'api/signin', { name: $('signin-name').value, password: $('signin-password').value });
    $('signin-password').value = '';
    render();
  } catch (e) {
    show($('signin-error'), e.message);
  }
}

async function signOut() {
  try { await call('POST', 'api/signout'); } catch { /* signed out anyway */ }
  me = null;
  render();
}

function photoFigure(src, caption) {
  const img = h('img', { class: 'photo', alt: caption });
  const fig = h('figure', {}, img, h('figcaption', { text: caption }));
  img.addEventListener('error', () => { fig.replaceChildren(h('p', { class: 'muted', text: `${caption}: none` })); });
  img.src = src;
  return fig;
}

function loadCurrent() {
  $('current').replaceChildren(...me.targets.map((t) => photoFigure(`api/me/photo/${t}?t=${Date.now()}`, t)));
}

function previewUrl() {
  const q = crop ? `?x=${crop.x}&y=${crop.y}&side=${crop.side}` : '';
  return `${upload.preview}${q}`;
}

async function choose() {
  const file = $('file').files[0];
  if (!file) return;
  show($('submit-error'), '');
  $('submit').disabled = true;
  try {
    upload = await call('POST', 'api/uploads', file);
    crop = null;
    const checks = $('checks');
    checks.replaceChildren(...upload.checks.map((c) => h('li', { 'data-code': c.code, text: c.text })));
    checks.hidden = upload.checks.length === 0;
    $('preview').src = previewUrl();
    $('preview').hidden = false;
    cropEditor.show(file, upload);
    $('submit').disabled = false;
  } catch (e) {
    upload = null;
    show($('submit-error'), e.message);
  }
}

async function submit() {
  if (!upload) return;
  $('submit').disabled = true;
  try {
    await call('POST', 'api/requests', { upload: upload.id, crop: cropEditor.value() });
    upload = null;
    $('file').value = '';
    $('preview').hidden = true;
    $('checks').hidden = true;
    cropEditor.hide();
    await loadMine();
    if (me.approver) await loadQueue();
  } catch (e) {
    show($('submit-error'), e.message);
    $('submit').disabled = false;
  }
}

function requestItem(r, actions) {
  const li = h('li', { 'data-id': String(r.id), 'data-state': r.state });
  li.append(h('img', { class: 'proposed', alt: `Proposed photo ${r.id}`, src: `api/requests/${r.id}/photo.jpg` }));
  const info = h('div', {},
    h('p', {}, h('span', { class: 'state', text: r.state }), h('span', { text: ` — #${r.id}, ${r.submitted_at}` })),
  );
  if (r.checks.length) info.append(h('ul', { class: 'checks' }, ...r.checks.map((c) => h('li', { 'data-code': c.code, text: c.text }))));
  if (r.reason) info.append(h('p', { class: 'reason', text: r.reason }));
  if (r.reviewer && r.state !== 'pending') info.append(h('p', { class: 'muted', text: `by ${r.reviewer}` }));
  for (const a of actions) info.append(a);
  li.append(info);
  return li;
}

async function loadMine() {
  const list = await call('GET', 'api/requests');
  $('mine').replaceChildren(...list.map((r) => {
    const actions = [];
    if (r.state === 'pending' || r.state === 'failed') {
      const b = h('button', { type: 'button', class: 'withdraw', text: 'Withdraw' });
      b.addEventListener('click', async () => {
        try { await call('POST', `api/requests/${r.id}/withdraw`); } catch (e) { alert(e.message); }
        await loadMine();
        if (me.approver) await loadQueue();
      });
      actions.push(b);
    }
    return requestItem(r, actions);
  }));
  if (list.length === 0) $('mine').append(h('li', { class: 'muted', text: 'None yet.' }));
}

async function loadQueue() {
  const list = await call('GET', 'api/queue');
  $('queue').replaceChildren(...list.map((r) => {
    const who = h('p', { text: r.display_name ? `${r.display_name} (${r.user})` : r.user });
    const now = h('div', { class: 'current' }, ...me.targets.map((t) => photoFigure(`api/queue/${r.id}/current/${t}?t=${Date.now()}`, `${t} now`)));
    const approve = h('button', { type: 'button', class: 'approve', text: 'Approve' });
    const reason = h('input', { class: 'reject-reason', 'aria-label': `Why photo ${r.id} is rejected`, placeholder: 'Reason (shown to the employee)' });
    const reject = h('button', { type: 'button', class: 'reject', text: 'Reject' });
    const error = h('p', { class: 'error', role: 'alert', hidden: true });
    approve.addEventListener('click', async () => {
      approve.disabled = true;
      try {
        const done = await call('POST', `api/queue/${r.id}/approve`);
        if (done.state === 'failed') show(error, done.reason);
      } catch (e) { show(error, e.message); }
      await loadQueue();
      await loadMine();
    });
    reject.addEventListener('click', async () => {
      try {
        await call('POST', `api/queue/${r.id}/reject`, { reason: reason.value });
        await loadQueue();
      } catch (e) { show(error, e.message); }
    });
    return requestItem(r, [who, now, approve, reason, reject, error]);
  }));
  if (list.length === 0) $('queue').append(h('li', { class: 'muted', text: 'Nothing is waiting.' }));
}

const cropEditor = createCropEditor({
  onChange: (c) => {
    crop = c;
    if (upload) $('preview').src = previewUrl();
  },
});

$('signin').addEventListener('submit', signIn);
$('signout').addEventListener('click', signOut);
$('file').addEventListener('change', choose);
$('submit').addEventListener('click', submit);
start();
