// HYBRID end to end: `userphoto serve` over the running Samba AD DC (the
// `ad` target, over LDAPS) and the Graph EMULATOR (the `m365` target), in
// real headless Chromium. The test starts the emulator and the server
// itself and stops both by PID; the Samba AD DC must already be running
// (scripts/test-servers up). What the page says is checked against the
// servers themselves: `ldapsearch` for thumbnailPhoto, the emulator's Graph
// API for the HD photo.
//
// Users: this suite owns user2460–user2469 of the test OU.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { png, jpegSize } from './png.js';

const BIN = process.env.USERPHOTO_BIN;
const EMU = process.env.USERPHOTO_GRAPH_EMULATOR_BIN;
const SHOTS = process.env.USERPHOTO_SCREENSHOTS;
const WORK = process.env.USERPHOTO_WORK;
const SERVERS = process.env.USERPHOTO_TEST_SERVERS_DIR;
if (!BIN || !EMU || !SHOTS || !WORK || !SERVERS) {
  throw new Error('run this test with `e2e/run hybrid` (it builds userphoto and graph-emulator and sets the environment)');
}

// The users this suite may write (reserved for the web UI's tests).
const RANGE = Array.from({ length: 10 }, (_, i) => `user${2460 + i}`);
const USER = 'user2461';
const HOW_TO_START = 'start it with `scripts/test-servers up` (and export USERPHOTO_TEST_SERVERS_DIR=<its folder>, '
  + 'e.g. /work/main/.test-servers, when it runs from another checkout)';

/**
 * The Samba AD DC's facts (URL, DNs, CA file, test passwords) — from the
 * environment when `scripts/test-servers env` exported them, else from its
 * env file, as testkit::servers::facts reads them — or a failure saying
 * how to start it.
 */
function samba() {
  let facts = process.env;
  if (!process.env.USERPHOTO_TEST_AD_URL) {
    const file = path.join(SERVERS, 'samba', 'env');
    let text;
    try { text = fs.readFileSync(file, 'utf8'); } catch (e) {
      throw new Error(`the Samba AD DC test server is not set up (${file}: ${e.code}); ${HOW_TO_START}`);
    }
    facts = Object.fromEntries(text.split('\n').map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#') && l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  }
  return {
    url: facts.USERPHOTO_TEST_AD_URL,
    base: facts.USERPHOTO_TEST_AD_TEST_OU,
    caFile: facts.USERPHOTO_TEST_AD_CA_FILE,
    bindDn: facts.USERPHOTO_TEST_AD_SVC_DN,
    password: facts.USERPHOTO_TEST_AD_SVC_PASSWORD,
  };
}

/** `ldapsearch` over LDAPS, verified against the test CA; the LDIF, unwrapped. */
function ldapsearch(ad, filter, attrs) {
  const out = execFileSync('ldapsearch', ['-LLL', '-o', 'ldif-wrap=no', '-H', ad.url, '-x',
    '-D', ad.bindDn, '-y', path.join(WORK, 'ad-password'), '-b', ad.base, filter, ...attrs], {
    env: { ...process.env, LDAPTLS_CACERT: ad.caFile, LDAPTLS_REQCERT: 'demand' },
    encoding: 'utf8', timeout: 30000,
  });
  return out;
}

/** The user's thumbnailPhoto as stored in AD (null when there is none). */
function thumbnailPhoto(ad, sam) {
  const ldif = ldapsearch(ad, `(sAMAccountName=${sam})`, ['thumbnailPhoto']);
  const line = ldif.split('\n').find((l) => l.startsWith('thumbnailPhoto::'));
  return line ? Buffer.from(line.slice('thumbnailPhoto::'.length).trim(), 'base64') : null;
}

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

// ------------------------------------------------------------ processes (stopped by PID)

const children = [];

/** Starts `cmd`, keeps its PID, and resolves with its first stdout line matching `re`. */
function startProcess(name, cmd, args, env, re) {
  const out = fs.openSync(path.join(WORK, `${name}.err`), 'w');
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', out] });
  children.push({ name, pid: child.pid, child });
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} printed nothing matching ${re} in 60 s: ${text}`)), 60000);
    child.stdout.on('data', (d) => {
      text += d;
      const m = text.match(re);
      if (m) { clearTimeout(timer); resolve({ text, match: m }); }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      const err = fs.readFileSync(path.join(WORK, `${name}.err`), 'utf8');
      reject(new Error(`${name} exited early (${code}): ${err.slice(-2000)}`));
    });
  });
}

/** Starts `userphoto serve` over the hybrid configuration; its sign-in link. */
async function startServe() {
  const serve = await startProcess('userphoto-serve', BIN,
    ['--config', serveConfig, 'serve', '--no-open', '--listen', '127.0.0.1:0'],
    { USERPHOTO_E2E_AD_PASSWORD: ad.password, USERPHOTO_E2E_M365_SECRET: graph.secret },
    /(http:\/\/\S+token=[0-9a-f]+)/);
  return serve.match[1];
}

/** Kills the running `userphoto serve` at once (SIGKILL, by its PID): a crash. */
async function killServe() {
  const entry = children.find((c) => c.name === 'userphoto-serve' && c.child.exitCode === null && c.child.signalCode === null);
  assert.ok(entry, 'userphoto serve is running');
  entry.child.removeAllListeners('exit');
  const gone = new Promise((r) => entry.child.once('exit', r));
  process.kill(entry.pid, 'SIGKILL');
  await gone;
}

async function stopAll() {
  for (const { pid, child } of children.reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const gone = new Promise((r) => child.once('exit', r));
    process.kill(pid, 'SIGTERM');
    const t = setTimeout(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
    await gone;
    clearTimeout(t);
  }
}

// ------------------------------------------------------------ the setup

let ad;
let graph; // {url, tenant, client, secret}
let serveUrl;
let serveConfig;
let browser;
let page;

const shot = (name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

/** A Graph token from the emulator (client credentials), for reading its state. */
async function graphToken() {
  const r = await fetch(`${graph.url}/${graph.tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials', client_id: graph.client, client_secret: graph.secret,
      scope: 'https://graph.microsoft.com/.default',
    }),
  });
  assert.equal(r.status, 200, 'the emulator gives a token');
  return (await r.json()).access_token;
}

/** The emulator's stored HD photo of `upn` (null when none). */
async function emulatorPhoto(upn) {
  const token = await graphToken();
  const r = await fetch(`${graph.url}/v1.0/users/${encodeURIComponent(upn)}/photo/$value`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (r.status === 404) return null;
  assert.equal(r.status, 200, `Graph photo of ${upn}`);
  return Buffer.from(await r.arrayBuffer());
}

before(async () => {
  ad = samba();
  fs.writeFileSync(path.join(WORK, 'ad-password'), ad.password, { mode: 0o600 });
  try {
    ldapsearch(ad, '(sAMAccountName=user2460)', ['sAMAccountName']);
  } catch (e) {
    throw new Error(`the Samba AD DC at ${ad.url} does not answer (${String(e.stderr || e.message).trim()}); ${HOW_TO_START}`);
  }

  // The Graph emulator on a free loopback port, with our AD users synchronised
  // into it (same UPN) and a few cloud-only ones, so the two listings differ.
  const emu = await startProcess('graph-emulator', EMU,
    ['--listen', '127.0.0.1:0', '--users', '5', ...RANGE.flatMap((u) => ['--synced-user', `${u}@corp.example.test`])],
    { RUST_LOG: 'warn' }, /login_url = "([^"]+)"/);
  const field = (k) => emu.text.match(new RegExp(`${k} = "([^"]+)"`))[1];
  graph = { url: field('graph_url'), tenant: field('tenant_id'), client: field('client_id'), secret: 'emulator-secret' };
  const secretLine = emu.text.match(/USERPHOTO_M365_SECRET=(\S+)\)/);
  if (secretLine) graph.secret = secretLine[1];

  const config = path.join(WORK, 'hybrid.toml');
  fs.writeFileSync(config, [
    '[ad]',
    `url = "${ad.url}"`,
    `base_dn = "${ad.base}"`,
    `bind_dn = "${ad.bindDn}"`,
    'password_env = "USERPHOTO_E2E_AD_PASSWORD"',
    `ca_file = "${ad.caFile}"`,
    '',
    '[m365]',
    `tenant_id = "${graph.tenant}"`,
    `client_id = "${graph.client}"`,
    'client_secret_env = "USERPHOTO_E2E_M365_SECRET"',
    `graph_url = "${graph.url}"`,
    `login_url = "${field('login_url')}"`,
    '',
    '[backup]',
    `dir = "${path.join(WORK, 'hybrid-backups')}"`,
    '',
    '[audit]',
    `path = "${path.join(WORK, 'hybrid-audit.jsonl')}"`,
    '',
  ].join('\n'));
  serveConfig = config;
  serveUrl = await startServe();

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (e) => { throw e; });
});

after(async () => {
  if (browser) await browser.close();
  await stopAll();
});

async function search(text) {
  const box = page.getByRole('combobox', { name: 'Select user' });
  await box.fill('');
  await box.fill(text);
  // The debounced search's answer for the whole text: every option matches it.
  await page.waitForFunction((q) => {
    const list = document.querySelector('#user-list');
    const opts = [...list.querySelectorAll('[role=option]')];
    return !list.hidden && opts.length > 0 && opts.every((o) => o.textContent.toLowerCase().includes(q));
  }, text.toLowerCase(), { timeout: 30000 });
  return page.locator('#user-list [role=option]').evaluateAll((lis) => lis.map((li) => li.textContent));
}

// ------------------------------------------------------------ the tests

test('HYBRID: the mode badge says HYBRID and users can be listed from AD or Microsoft 365', async () => {
  const res = await page.goto(serveUrl);
  assert.equal(res.status(), 200);
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.locator('#mode').textContent(), 'HYBRID');
  assert.equal(await page.locator('#demo-badge').isVisible(), false);
  const source = page.getByLabel('List users from');
  assert.equal(await source.isVisible(), true);
  assert.equal(await source.inputValue(), 'ad');
  assert.deepEqual(await page.locator('#source option').evaluateAll((o) => o.map((x) => x.value)), ['ad', 'm365']);
  await page.locator('#pane-ad').waitFor();
  await page.locator('#pane-m365').waitFor();
  await shot('h01-hybrid-start');
});

test('HYBRID: import a photo for an AD user; AD (ldapsearch) and the emulator hold the new photos', async () => {
  const found = await search(USER);
  assert.ok(found.some((t) => t.includes(USER)), `AD lists ${USER}: ${found}`);
  await page.getByRole('option', { name: new RegExp(`${USER}$`) }).first().click();
  await page.waitForFunction((u) => document.querySelector('#user-summary').textContent.includes(u), USER);
  await page.waitForFunction(() => ![...document.querySelectorAll('.pane .info')].some((p) => p.textContent.includes('Loading')));

  // A photo no run has written before: its colour is random.
  const rgb = [0, 1, 2].map(() => crypto.randomInt(0, 200));
  const bytes = png(700, 900, rgb).toString('base64');
  await page.evaluate(async (b64) => {
    const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bin], 'portrait.png', { type: 'image/png' }));
    document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, bytes);
  await page.waitForFunction(() => document.getElementById('input-info').textContent.includes('700×900'));
  assert.equal(await page.getByLabel('Replace 96×96 (AD)').isChecked(), true);
  assert.equal(await page.getByLabel('Replace 648×648 (HD)').isChecked(), true);
  await shot('h02-hybrid-photo-dropped');

  await page.getByRole('button', { name: 'Import', exact: true }).click();
  const toast = page.locator('.toast.ok', { hasText: /written/ });
  await toast.first().waitFor({ timeout: 60000 });
  assert.match(await toast.first().textContent(), /HD written.*AD written/, 'HD first, then AD');
  await page.waitForFunction(() => document.querySelector('#pane-ad-info').textContent.includes('96×96')
    && document.querySelector('#pane-m365-info').textContent.includes('648×648'), null, { timeout: 60000 });
  // The card keeps what happened and when, after the toasts go.
  assert.match(await page.locator('#import-result').textContent(), /^Written \d\d:\d\d to HD and AD, /);
  await shot('h03-hybrid-imported');

  // On the servers: what the panes show is what AD and the emulator hold.
  const paneSha = (kind) => page.locator(`#pane-${kind} img`).evaluate((img) => new URL(img.src).searchParams.get('v'));
  const thumb = thumbnailPhoto(ad, USER);
  assert.ok(thumb, `${USER} has a thumbnailPhoto in AD`);
  assert.deepEqual(jpegSize(thumb), [96, 96]);
  assert.equal(sha256(thumb).slice(0, 16), await paneSha('ad'), 'the AD pane shows what ldapsearch reads');
  const hd = await emulatorPhoto(`${USER}@corp.example.test`);
  assert.ok(hd, `${USER} has a photo in the emulator`);
  assert.deepEqual(jpegSize(hd), [648, 648]);
  assert.equal(sha256(hd).slice(0, 16), await paneSha('m365'), 'the HD pane shows what the emulator holds');
  // Nobody else of the range was written in the emulator.
  for (const other of RANGE.filter((u) => u !== USER)) {
    assert.equal(await emulatorPhoto(`${other}@corp.example.test`), null, `${other} untouched`);
  }
});

test('HYBRID: Use existing HD makes the AD photo from the Microsoft 365 one (ldapsearch sees it)', async () => {
  const before = thumbnailPhoto(ad, USER);
  await page.getByRole('button', { name: 'Use existing HD' }).click();
  const toast = page.locator('.toast.ok', { hasText: /made from the HD photo/ });
  await toast.first().waitFor({ timeout: 60000 });
  const after = thumbnailPhoto(ad, USER);
  assert.ok(after && !after.equals(before), 'AD holds a new thumbnail');
  assert.deepEqual(jpegSize(after), [96, 96]);
  await page.waitForFunction((sha) => new URL(document.querySelector('#pane-ad img').src).searchParams.get('v') === sha,
    sha256(after).slice(0, 16), { timeout: 30000 });
  await shot('h04-hybrid-use-existing-hd');
});

test('HYBRID: switching the listing source to Microsoft 365 changes the list', async () => {
  const fromAd = await search('user24');
  // AD holds user2400–user2499: a full list of 25 (in the directory's
  // order), and a note that more match.
  assert.equal(fromAd.length, 25, `AD: ${fromAd}`);
  assert.ok(fromAd.every((t) => /Test User 24\d\d.*user24\d\d/.test(t)), `AD: ${fromAd}`);
  assert.ok(await page.locator('#user-list li.empty', { hasText: 'More users match' }).count() === 1);
  await shot('h05-hybrid-list-ad');

  await page.getByLabel('List users from').selectOption('m365');
  assert.equal(await page.locator('#user-summary').textContent(), 'No user selected.');
  const fromCloud = await search('user24');
  // The emulator knows only the ten synchronised users of this suite.
  assert.equal(fromCloud.length, RANGE.length, `Microsoft 365: ${fromCloud}`);
  assert.ok(fromCloud.every((t) => /user246\d/.test(t)));
  assert.ok(!fromCloud.some((t) => /Test User/.test(t)), 'the cloud names, not the AD display names');
  assert.equal(await page.locator('#user-list li.empty', { hasText: 'More users match' }).count(), 0);
  await shot('h06-hybrid-list-m365');
  const cloudOnly = await search('emu');
  assert.ok(cloudOnly.length >= 5 && cloudOnly.every((t) => /emu/i.test(t)), `cloud-only users: ${cloudOnly}`);
  await shot('h07-hybrid-list-m365-cloud-only');

  // The same person picked from Microsoft 365 shows the photos just written.
  await search(USER);
  await page.getByRole('option', { name: new RegExp(USER) }).first().click();
  await page.waitForFunction(() => document.querySelector('#pane-ad-info').textContent.includes('96×96')
    && document.querySelector('#pane-m365-info').textContent.includes('648×648'), null, { timeout: 30000 });
  await shot('h08-hybrid-user-from-m365');
  await page.getByLabel('List users from').selectOption('ad');
});

// ------------------------------------------------------------ remove and folder import (user2464–user2466)

/** Picks `sam` from the AD listing and waits until both panes have loaded. */
async function pickUser(sam) {
  await page.getByLabel('List users from').selectOption('ad');
  const found = await search(sam);
  assert.ok(found.some((t) => t.includes(sam)), `AD lists ${sam}: ${found}`);
  await page.getByRole('option', { name: new RegExp(`${sam}$`) }).first().click();
  await page.waitForFunction((u) => document.querySelector('#user-summary').textContent.includes(u), sam);
  await page.waitForFunction(() => ![...document.querySelectorAll('.pane .info')].some((p) => p.textContent.includes('Loading')));
}

/** The manifest lines of the configured backup folder. */
function backupRecords() {
  const file = path.join(WORK, 'hybrid-backups', 'manifest.jsonl');
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Asserts the backup folder keeps `bytes` for `target`, kept before a remove. */
function assertBackedUp(target, bytes, what) {
  const sha = sha256(bytes);
  const rec = backupRecords().find((r) => r.target === target && r.sha256 === sha && r.reason === 'before-remove');
  assert.ok(rec, `the backup manifest lists the removed ${what} (sha ${sha.slice(0, 12)}): ${JSON.stringify(backupRecords())}`);
  const kept = fs.readFileSync(path.join(WORK, 'hybrid-backups', rec.path));
  assert.ok(kept.equals(bytes), `the backup file ${rec.path} holds the old ${what} bytes`);
}

const REMOVE_USER = 'user2464';

test('HYBRID: Remove AD and Remove HD (confirmed) empty AD (ldapsearch) and the emulator, each with a backup of the old bytes', async () => {
  await pickUser(REMOVE_USER);
  // Give the user fresh photos in both (a colour no run has written before).
  const rgb = [0, 1, 2].map(() => crypto.randomInt(0, 200));
  await page.locator('#file').setInputFiles({ name: 'remove-me.png', mimeType: 'image/png', buffer: png(700, 900, rgb) });
  await page.waitForFunction(() => document.getElementById('input-info').textContent.includes('700×900'));
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await page.locator('.toast.ok', { hasText: /written/ }).first().waitFor({ timeout: 60000 });
  await page.waitForFunction(() => document.querySelector('#pane-ad-info').textContent.includes('96×96')
    && document.querySelector('#pane-m365-info').textContent.includes('648×648'), null, { timeout: 60000 });
  const oldThumb = thumbnailPhoto(ad, REMOVE_USER);
  assert.ok(oldThumb, `${REMOVE_USER} has a thumbnailPhoto before the remove`);
  const upn = `${REMOVE_USER}@corp.example.test`;
  const oldHd = await emulatorPhoto(upn);
  assert.ok(oldHd, `${REMOVE_USER} has an HD photo in the emulator before the remove`);

  // Remove AD: the dialog asks first; Cancel changes nothing.
  const dialog = page.getByRole('dialog', { name: 'Remove photo?' });
  await page.getByRole('button', { name: 'Remove AD' }).click();
  await dialog.waitFor();
  assert.match(await dialog.textContent(), /Remove the AD photo \(96×96\)/);
  await shot('h09-hybrid-confirm-remove-ad');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'hidden' });
  assert.ok(thumbnailPhoto(ad, REMOVE_USER).equals(oldThumb), 'Cancel leaves AD as it was');

  await page.getByRole('button', { name: 'Remove AD' }).click();
  await dialog.getByRole('button', { name: 'Remove' }).click();
  await page.locator('.toast.ok', { hasText: /AD photo removed \(backed up\)/ }).first().waitFor({ timeout: 60000 });
  await page.locator('#pane-ad .state-no-photo').waitFor({ timeout: 30000 });
  assert.equal(thumbnailPhoto(ad, REMOVE_USER), null, 'ldapsearch finds no thumbnailPhoto');
  assertBackedUp('ad', oldThumb, 'AD thumbnail');
  assert.ok((await emulatorPhoto(upn)).equals(oldHd), 'removing AD leaves the HD photo alone');
  await shot('h10-hybrid-removed-ad');

  // Remove HD.
  await page.getByRole('button', { name: 'Remove HD' }).click();
  await dialog.waitFor();
  assert.match(await dialog.textContent(), /Remove the HD photo \(648×648\)/);
  await dialog.getByRole('button', { name: 'Remove' }).click();
  await page.locator('.toast.ok', { hasText: /HD photo removed \(backed up\)/ }).first().waitFor({ timeout: 60000 });
  await page.locator('#pane-m365 .state-no-photo').waitFor({ timeout: 30000 });
  assert.equal(await emulatorPhoto(upn), null, 'the emulator holds no photo for the user');
  assertBackedUp('m365', oldHd, 'HD photo');
  assert.equal(thumbnailPhoto(ad, REMOVE_USER), null);
  await shot('h11-hybrid-removed-hd');
});

test('HYBRID: folder import — plan, import all, report; ldapsearch and the emulator hold exactly the planned photos', async () => {
  const BIG = 'user2465';
  const SMALL = 'user2466';
  const folder = path.join(WORK, 'hybrid-folder');
  fs.rmSync(folder, { recursive: true, force: true });
  fs.mkdirSync(folder);
  const colour = () => [0, 1, 2].map(() => crypto.randomInt(0, 200));
  fs.writeFileSync(path.join(folder, `${BIG}.png`), png(700, 900, colour()));
  fs.writeFileSync(path.join(folder, `${SMALL} from HR.png`), png(80, 80, colour()));
  fs.writeFileSync(path.join(folder, 'Nobody.Here.png'), png(300, 300, colour()));

  // What the servers hold before, for every user of the range.
  const upn = (u) => `${u}@corp.example.test`;
  const beforeAd = Object.fromEntries(RANGE.map((u) => [u, thumbnailPhoto(ad, u)]));
  const beforeHd = {};
  for (const u of RANGE) beforeHd[u] = await emulatorPhoto(upn(u));

  await pickUser(USER);
  await page.getByLabel('Folder on this computer').fill(folder);
  await page.getByRole('button', { name: 'Show plan' }).click();
  await page.locator('#plan-table').waitFor({ timeout: 60000 });
  const counts = await page.locator('#plan-counts').textContent();
  assert.match(counts, /^3 files · 3 to write · 0 unchanged · 1 skipped · 1 unmatched · 0 duplicates · 0 errors$/, counts);
  const row = (file, target) => page.locator('#plan-table tbody tr', { hasText: file }).filter({ hasText: target });
  assert.equal(await row(`${BIG}.png`, 'AD').getAttribute('data-action'), 'set');
  assert.equal(await row(`${BIG}.png`, 'HD').getAttribute('data-action'), 'set');
  assert.equal(await row(`${SMALL} from HR.png`, 'AD').getAttribute('data-action'), 'set');
  assert.equal(await row(`${SMALL} from HR.png`, 'HD').getAttribute('data-action'), 'skipped');
  assert.equal(await page.locator('#plan-table tbody tr', { hasText: 'Nobody.Here.png' }).getAttribute('data-action'), 'unmatched');
  // No user in the User column for it, and reasons name targets as the page does.
  const nobody = await page.locator('#plan-table tbody tr', { hasText: 'Nobody.Here.png' }).locator('td').allTextContents();
  assert.equal(nobody[1], '— no match');
  assert.match(nobody[3], /"Nobody\.Here" in AD, HD;/);
  assert.doesNotMatch(await page.locator('#plan-table').textContent(), /--[a-z]|\bin (ad|m365)\b/);
  await shot('h12-hybrid-folder-plan');

  // Confirm each: the first step shows; Import all does the rest.
  assert.equal(await page.getByLabel('Confirm each').isChecked(), true);
  await page.locator('#folder-run').click();
  const step = page.locator('.confirm-step');
  await step.waitFor({ timeout: 60000 });
  // People, not writes; a picture of the new photo beside each current one.
  assert.match(await page.locator('#confirm-question').textContent(), /^User 1 of \d+: write /);
  assert.equal(await page.getByRole('button', { name: 'Stop' }).count(), 1, 'one Stop button');
  await page.waitForFunction(() => {
    const img = document.querySelector('.confirm-step figure img');
    return img && img.complete && img.naturalWidth === 648;
  }, null, { timeout: 60000 });
  const thumbs = page.locator('#plan-table tbody tr[data-action=set] .plan-pics .thumb');
  assert.ok(await thumbs.count() >= 2, 'plan rows carry pictures');
  await shot('h13-hybrid-folder-confirm');
  await step.getByRole('button', { name: 'Yes to all the rest' }).click();
  await page.locator('#folder-report').waitFor({ timeout: 120000 });
  const status = await page.locator('#folder-status').textContent();
  assert.equal(status, 'Done: 3 written, 0 unchanged, 1 skipped, 0 failed, 0 not done.');
  await shot('h14-hybrid-folder-done');

  // The report downloads (a real download in Chromium) and says the same.
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#folder-report').click()]);
  assert.equal(download.suggestedFilename(), 'userphoto-import-report.json');
  const report = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
  assert.equal(report.summary.written, 3);
  assert.equal(report.summary.failed, 0);
  assert.equal(report.summary.unmatched, 1);
  const outcome = (file, target) => report.items.find((i) => i.file === file && (target === undefined || i.target === target))?.outcome;
  assert.equal(outcome(`${BIG}.png`, 'ad'), 'written');
  assert.equal(outcome(`${BIG}.png`, 'm365'), 'written');
  assert.equal(outcome(`${SMALL} from HR.png`, 'ad'), 'written');
  assert.equal(outcome('Nobody.Here.png'), 'unmatched');

  // On the servers: exactly those users got photos, of the right sizes.
  const bigThumb = thumbnailPhoto(ad, BIG);
  assert.ok(bigThumb && !bigThumb.equals(beforeAd[BIG] || Buffer.alloc(0)), `${BIG} has a new thumbnailPhoto`);
  assert.deepEqual(jpegSize(bigThumb), [96, 96]);
  const bigHd = await emulatorPhoto(upn(BIG));
  assert.ok(bigHd && !bigHd.equals(beforeHd[BIG] || Buffer.alloc(0)), `${BIG} has a new HD photo in the emulator`);
  assert.deepEqual(jpegSize(bigHd), [648, 648]);
  const smallThumb = thumbnailPhoto(ad, SMALL);
  assert.ok(smallThumb && !smallThumb.equals(beforeAd[SMALL] || Buffer.alloc(0)), `${SMALL} has a new thumbnailPhoto`);
  assert.deepEqual(jpegSize(smallThumb), [80, 80], 'a small photo is never upscaled');
  for (const u of RANGE) {
    if (u !== BIG && u !== SMALL) {
      const now = thumbnailPhoto(ad, u);
      assert.ok(now === beforeAd[u] || (now && beforeAd[u] && now.equals(beforeAd[u])), `${u} untouched in AD`);
    }
    if (u !== BIG) {
      const now = await emulatorPhoto(upn(u));
      assert.ok(now === beforeHd[u] || (now && beforeHd[u] && now.equals(beforeHd[u])), `${u} untouched in the emulator`);
    }
  }
});

test('HYBRID: a folder import stopped by killing the server is carried on from the page after a restart', async () => {
  // Large photos, so that preparing them takes a while and the server dies
  // with writes still to do.
  const folder = path.join(WORK, 'hybrid-crash');
  fs.rmSync(folder, { recursive: true, force: true });
  fs.mkdirSync(folder);
  for (const u of RANGE) {
    const rgb = [0, 1, 2].map(() => crypto.randomInt(0, 200));
    fs.writeFileSync(path.join(folder, `${u}.png`), png(3000, 2400, rgb));
  }
  // The audit lines of this test's writes (it alone writes from now on).
  const audit = path.join(WORK, 'hybrid-audit.jsonl');
  const seen = fs.existsSync(audit) ? fs.readFileSync(audit, 'utf8').split('\n').filter((l) => l.trim()).length : 0;
  const sets = () => (fs.existsSync(audit) ? fs.readFileSync(audit, 'utf8') : '').split('\n')
    .filter((l) => l.trim()).slice(seen).map((l) => JSON.parse(l))
    .filter((r) => r.action === 'set');

  await pickUser(USER);
  await page.getByLabel('Confirm each').uncheck();
  await page.getByLabel('Folder on this computer').fill(folder);
  await page.getByRole('button', { name: 'Show plan' }).click();
  await page.locator('#plan-table').waitFor({ timeout: 120000 });
  assert.match(await page.locator('#plan-title').textContent(), /hybrid-crash$/);
  await page.locator('#folder-run').click();
  const deadline = Date.now() + 120000;
  while (sets().length < 1) {
    assert.ok(Date.now() < deadline, 'no photo was written');
    await new Promise((r) => setTimeout(r, 20));
  }
  await killServe();
  const before = sets().length;
  assert.ok(before < RANGE.length * 2, `the import finished before the server was killed (${before} writes)`);
  await shot('h15-hybrid-before-crash');

  // Started again: the page offers the interrupted import; Carry on.
  serveUrl = await startServe();
  await page.goto(serveUrl);
  await page.waitForSelector('body[data-ready="true"]');
  const offer = page.locator('#folder-interrupted .interrupted', { hasText: 'hybrid-crash' });
  await offer.waitFor({ timeout: 30000 });
  await shot('h16-hybrid-carry-on-offered');
  await offer.getByRole('button', { name: 'Carry on' }).click();
  await page.locator('#plan-table').waitFor({ timeout: 60000 });
  assert.match(await page.locator('#plan-title').textContent(), /Carrying on the import of .*hybrid-crash/);
  await page.getByLabel('Confirm each').uncheck();
  await page.locator('#folder-run', { hasText: 'Carry on' }).click();
  await page.locator('#folder-report').waitFor({ timeout: 300000 });
  const status = await page.locator('#folder-status').textContent();
  assert.match(status, /0 failed, 0 not done\.$/, status);
  await shot('h17-hybrid-carried-on');

  // Every photo landed, none twice: one audit line per (user, target) at
  // most, and AD holds the photo the audit says was written.
  const lines = sets();
  const per = {};
  for (const r of lines) {
    const key = `${r.target}:${r.user_id}`;
    per[key] = (per[key] || 0) + 1;
  }
  for (const [key, n] of Object.entries(per)) assert.equal(n, 1, `${key} written ${n} times`);
  for (const u of RANGE) {
    const thumb = thumbnailPhoto(ad, u);
    assert.ok(thumb, `${u} has a thumbnailPhoto`);
    const written = lines.find((r) => r.target === 'ad' && String(r.user_name).toLowerCase() === u);
    if (written) assert.equal(sha256(thumb), written.new_sha256, `${u}: AD holds the photo written`);
    assert.ok(await emulatorPhoto(`${u}@corp.example.test`), `${u} has an HD photo in the emulator`);
  }
  assert.equal(lines.length, RANGE.length * 2, 'one audit line per write, none missing, none twice');
  // Nothing is left to carry on.
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  await page.locator('#folder-interrupted[data-loaded="true"]').waitFor({ state: 'attached' });
  assert.equal(await page.locator('#folder-interrupted .interrupted', { hasText: 'hybrid-crash' }).count(), 0);
});

// ------------------------------------------------------------ coverage and a new sign-in link

/** `ldapmodify` over LDAPS as the service account, the LDIF given. */
function ldapmodify(ldif) {
  execFileSync('ldapmodify', ['-H', ad.url, '-x', '-D', ad.bindDn, '-y', path.join(WORK, 'ad-password')], {
    input: ldif,
    env: { ...process.env, LDAPTLS_CACERT: ad.caFile, LDAPTLS_REQCERT: 'demand' },
    encoding: 'utf8', timeout: 30000,
  });
}

/** The DN of `sam` in the test OU. */
function dnOf(sam) {
  const ldif = ldapsearch(ad, `(sAMAccountName=${sam})`, ['dn']);
  const line = ldif.split('\n').find((l) => l.startsWith('dn:'));
  assert.ok(line, `${sam} is in the test OU`);
  return line.slice(3).trim();
}

/** A 64×64 JPEG, as Exchange puts into AD (made by `userphoto convert`). */
function exchangeThumbnail() {
  const dir = path.join(WORK, 'exchange-thumb');
  fs.mkdirSync(dir, { recursive: true });
  const src = path.join(dir, 'src.png');
  fs.writeFileSync(src, png(200, 200, [40, 90, 160]));
  execFileSync(BIN, ['convert', src, '--out', dir, '--size', '64'], { encoding: 'utf8', timeout: 60000 });
  const jpg = fs.readdirSync(dir).find((f) => f.endsWith('.jpg'));
  assert.ok(jpg, `convert made a JPEG in ${dir}`);
  const bytes = fs.readFileSync(path.join(dir, jpg));
  assert.deepEqual(jpegSize(bytes), [64, 64]);
  return bytes;
}

const viewShot = async (name) => {
  for (const [w, hgt] of [[1280, 900], [1024, 700]]) {
    await page.setViewportSize({ width: w, height: hgt });
    await page.locator('#coverage-out').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(SHOTS, `${name}-${w}x${hgt}.png`) });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
};

test('HYBRID: coverage — counts per target, who has no photo or only Exchange\'s 64×64, filtered, as CSV', async () => {
  // Known states on the servers: user2467 holds only Exchange's 64×64 in
  // AD, user2468 no AD photo at all (its HD photo is in the emulator).
  const SMALL = 'user2467';
  const NONE = 'user2468';
  ldapmodify(`dn: ${dnOf(SMALL)}\nchangetype: modify\nreplace: thumbnailPhoto\nthumbnailPhoto:: ${exchangeThumbnail().toString('base64')}\n`);
  if (thumbnailPhoto(ad, NONE)) ldapmodify(`dn: ${dnOf(NONE)}\nchangetype: modify\ndelete: thumbnailPhoto\n`);
  assert.deepEqual(jpegSize(thumbnailPhoto(ad, SMALL)), [64, 64]);
  assert.equal(thumbnailPhoto(ad, NONE), null);
  // What the emulator holds, read from it: the HD row's counts must say so.
  let cloudWith = 0;
  for (const u of RANGE) if (await emulatorPhoto(`${u}@corp.example.test`)) cloudWith += 1;

  await page.goto(new URL('.', page.url()).href);
  await page.waitForSelector('body[data-ready="true"]');
  const box = page.locator('#coverage');
  await box.scrollIntoViewIfNeeded();
  await page.getByRole('button', { name: 'Count photos' }).click();
  await page.locator('#coverage[data-loaded="true"]').waitFor({ timeout: 120000 });
  assert.match(await page.locator('#coverage-when').textContent(), /^Counted /);

  const summary = await page.locator('#coverage-summary tbody tr').evaluateAll((trs) => trs.map((tr) => ({
    target: tr.dataset.target, cells: [...tr.children].map((c) => c.textContent),
  })));
  assert.deepEqual(summary.map((r) => r.target), ['ad', 'm365'], JSON.stringify(summary));
  const [adRow, hdRow] = summary.map((r) => r.cells);
  assert.equal(adRow[0], 'AD');
  assert.equal(hdRow[0], 'HD');
  const n = (s) => Number(s);
  // AD lists the whole test OU (user2400–user2499 and more); its numbers add up.
  assert.ok(n(adRow[1]) >= 100, `AD users: ${adRow}`);
  assert.equal(n(adRow[2]) + n(adRow[3]) + n(adRow[6]), n(adRow[1]), `with + without + unreadable = users: ${adRow}`);
  assert.ok(n(adRow[4]) >= 1 && n(adRow[5]) >= 1, `AD: 64×64 and HD-without-thumbnail counted: ${adRow}`);
  // Microsoft 365 holds the ten synchronised users of this suite.
  assert.equal(n(hdRow[1]), RANGE.length, `HD users: ${hdRow}`);
  assert.equal(n(hdRow[2]), cloudWith, `HD with a photo, as the emulator holds them: ${hdRow}`);
  await viewShot('h20-hybrid-coverage');

  // The suite's own users: the default filter (no photo or only the 64×64).
  await page.locator('#coverage-q').fill('user246');
  await page.waitForFunction(() => /match/.test(document.getElementById('coverage-matching').textContent)
    && [...document.querySelectorAll('#coverage-rows tbody tr td:nth-child(2)')].every((td) => td.textContent.startsWith('user246')), null, { timeout: 30000 });
  await page.locator('#coverage[data-loaded="true"]').waitFor();
  const rows = await page.locator('#coverage-rows tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  assert.deepEqual(rows.map((r) => [r[0], r[1], r[3]]).sort(), [['AD', SMALL, '64×64'], ['AD', NONE, 'none']], JSON.stringify(rows));
  const rowOf = (u) => rows.find((r) => r[1] === u);
  assert.equal(rowOf(SMALL)[4], 'only Exchange\'s 64×64');
  assert.equal(rowOf(NONE)[4], 'no photo; HD in m365, no thumbnail');
  assert.equal(await page.locator('#coverage-matching').textContent(), '2 rows match.');
  await viewShot('h21-hybrid-coverage-filtered');

  // The CSV is what the filter shows, as `userphoto report --csv` writes it.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()]);
  const csv = fs.readFileSync(await download.path(), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'target,user,display_name,has_photo,bytes,width,height,findings,last_written,last_file');
  assert.equal(csv.length, 3, csv.join('\n'));
  assert.ok(csv.some((l) => l.startsWith(`ad,${SMALL},`) && l.includes(',true,') && l.includes(',64,64,only Exchange\'s 64×64,')), csv.join('\n'));
  assert.ok(csv.some((l) => l.startsWith(`ad,${NONE},`) && l.includes(',false,') && l.includes('no photo; HD in m365, no thumbnail')), csv.join('\n'));

  // Only Exchange's 64×64, for AD: the one planted among the suite's users.
  await page.locator('#coverage-show').selectOption('only-exchange-thumbnail');
  await page.locator('#coverage-target').selectOption('ad');
  await page.waitForFunction(() => document.getElementById('coverage-matching').textContent === '1 row match.', null, { timeout: 30000 });
  assert.deepEqual(await page.locator('#coverage-rows tbody tr td:nth-child(2)').allTextContents(), [SMALL]);

  // Leave no 64×64 behind for the next run.
  ldapmodify(`dn: ${dnOf(SMALL)}\nchangetype: modify\ndelete: thumbnailPhoto\n`);
});

test('HYBRID: a new sign-in link without a restart (`userphoto serve --link`) works once', async () => {
  const ctx2 = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const p2 = await ctx2.newPage();
  // The link printed at start is spent: the page says how to get another.
  const spent = await p2.goto(serveUrl);
  assert.equal(spent.status(), 401);
  assert.match(await p2.locator('body').textContent(), /used already.*userphoto serve --link.*keeps running/s);
  await p2.screenshot({ path: path.join(SHOTS, 'h22-hybrid-link-spent.png') });
  const out = execFileSync(BIN, ['--config', serveConfig, 'serve', '--link'], {
    env: { ...process.env, USERPHOTO_E2E_AD_PASSWORD: ad.password, USERPHOTO_E2E_M365_SECRET: graph.secret },
    encoding: 'utf8', timeout: 60000,
  });
  const link = (out.match(/http:\/\/\S+token=[0-9a-f]+/) || [])[0];
  assert.ok(link, `serve --link printed a link: ${out}`);
  assert.notEqual(link, serveUrl);
  assert.equal((await p2.goto(link)).status(), 200);
  await p2.waitForSelector('body[data-ready="true"]');
  assert.equal(await p2.locator('#mode').textContent(), 'HYBRID');
  for (const [w, hgt] of [[1280, 900], [1024, 700]]) {
    await p2.setViewportSize({ width: w, height: hgt });
    await p2.screenshot({ path: path.join(SHOTS, `h23-hybrid-link-new-${w}x${hgt}.png`) });
  }
  // Once: another browser with the same link is refused.
  const ctx3 = await browser.newContext();
  const p3 = await ctx3.newPage();
  assert.equal((await p3.goto(link)).status(), 401);
  await ctx3.close();
  await ctx2.close();
});
