// Team mode end to end: `userphoto serve` with a [team] section over the
// running Samba AD DC, in real headless Chromium. Employees sign in with
// their own AD password (a bind as themselves), upload, frame and submit a
// photo; a member of the helpdesk group approves it; what the page says is
// checked against the servers themselves (`ldapsearch` for
// thumbnailPhoto, the audit log, the backup folder), and against
// `userphoto requests list --json`. The test starts and stops the server
// itself, by PID; the Samba AD DC must already be running.
//
// Accounts: ss-employee, ss-other, ss-helper (in the group ss-helpdesk), in
// OU=userphoto-selfservice beside the test OU (added here if missing, as
// testkit::servers::samba_selfservice_fixtures does); never in the test OU.
// svc-photos may write photos only in the test OU, so this server writes
// as the domain administrator.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { png } from './png.js';

const BIN = process.env.USERPHOTO_BIN;
const SHOTS = process.env.USERPHOTO_SCREENSHOTS;
const WORK = process.env.USERPHOTO_WORK;
const SERVERS = process.env.USERPHOTO_TEST_SERVERS_DIR;
if (!BIN || !SHOTS || !WORK || !SERVERS) {
  throw new Error('run this test with `e2e/run team` (it builds userphoto and sets the environment)');
}
const HOW_TO_START = 'start it with `scripts/test-servers up` (and export USERPHOTO_TEST_SERVERS_DIR=<its folder>)';

function facts() {
  let f = process.env;
  if (!process.env.USERPHOTO_TEST_AD_URL) {
    const file = path.join(SERVERS, 'samba', 'env');
    let text;
    try { text = fs.readFileSync(file, 'utf8'); } catch (e) {
      throw new Error(`the Samba AD DC test server is not set up (${file}: ${e.code}); ${HOW_TO_START}`);
    }
    f = Object.fromEntries(text.split('\n').map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#') && l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  }
  const need = (k) => {
    const v = f[`USERPHOTO_TEST_AD_${k}`];
    if (!v) throw new Error(`USERPHOTO_TEST_AD_${k} is missing; ${HOW_TO_START}`);
    return v;
  };
  return {
    url: need('URL'), baseDn: need('BASE_DN'), caFile: need('CA_FILE'), realm: need('REALM').toLowerCase(),
    adminDn: need('ADMIN_DN'), adminUpn: need('ADMIN_UPN'), adminPassword: need('ADMIN_PASSWORD'),
    userPassword: need('USER_PASSWORD'),
  };
}

let ad;
let ou;

/** An OpenLDAP tool as the administrator over LDAPS, verified against the test CA. */
function ldap(tool, args, input) {
  return execFileSync(tool, ['-x', '-H', ad.url, '-D', ad.adminDn, '-y', path.join(WORK, 'admin-password'), ...args], {
    env: { ...process.env, LDAPTLS_CACERT: ad.caFile, LDAPTLS_REQCERT: 'demand' },
    input: input || '', encoding: 'utf8', timeout: 30000, stdio: ['pipe', 'pipe', 'pipe'],
  });
}

function ensureFixtures() {
  const pwd = Buffer.from(`"${ad.userPassword}"`, 'utf16le').toString('base64');
  let ldif = `dn: ${ou}\nobjectClass: organizationalUnit\nou: userphoto-selfservice\n\n`;
  for (const [sam, display] of [['ss-employee', 'Sam Employee'], ['ss-other', 'Olive Other'], ['ss-helper', 'Hal Helpdesk']]) {
    ldif += `dn: CN=${sam},${ou}\nobjectClass: user\nsAMAccountName: ${sam}\nuserPrincipalName: ${sam}@${ad.realm}\n`
      + `displayName: ${display}\nuserAccountControl: 512\nunicodePwd:: ${pwd}\n\n`;
  }
  ldif += `dn: CN=ss-helpdesk,${ou}\nobjectClass: group\nsAMAccountName: ss-helpdesk\nmember: CN=ss-helper,${ou}\n\n`;
  try {
    ldap('ldapadd', ['-c'], ldif);
  } catch (e) {
    const bad = String(e.stderr || '').split('\n').filter((l) => l.includes('ldap_add:') && !l.includes('Already exists'));
    if (bad.length) throw new Error(`ldapadd: ${e.stderr}`);
  }
}

/** ss-employee's thumbnailPhoto as AD stores it (null when none). */
function thumbnail(sam) {
  const out = ldap('ldapsearch', ['-LLL', '-o', 'ldif-wrap=no', '-b', `CN=${sam},${ou}`, '-s', 'base', 'thumbnailPhoto']);
  const line = out.split('\n').find((l) => l.startsWith('thumbnailPhoto::'));
  return line ? Buffer.from(line.slice('thumbnailPhoto::'.length).trim(), 'base64') : null;
}

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

// ------------------------------------------------------------ the server (stopped by PID)

let server = null;
let baseUrl;
const config = () => path.join(WORK, 'team.toml');

function startServe() {
  const err = fs.openSync(path.join(WORK, 'team-serve.err'), 'a');
  const child = spawn(BIN, ['--config', config(), 'serve', '--no-open', '--listen', '127.0.0.1:0'], {
    env: { ...process.env, USERPHOTO_E2E_ADMIN_PASSWORD: ad.adminPassword }, stdio: ['ignore', 'pipe', err],
  });
  server = child;
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`userphoto serve printed no address in 60 s: ${text}`)), 60000);
    child.stdout.on('data', (d) => {
      text += d;
      const m = text.match(/team mode is at (http:\/\/\S+\/)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`userphoto serve exited early (${code}): ${fs.readFileSync(path.join(WORK, 'team-serve.err'), 'utf8').slice(-2000)}`));
    });
  });
}

async function stopServe(signal = 'SIGTERM') {
  if (!server || server.exitCode !== null || server.signalCode !== null) return;
  server.removeAllListeners('exit');
  const gone = new Promise((r) => server.once('exit', r));
  process.kill(server.pid, signal);
  const t = setTimeout(() => { try { process.kill(server.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
  await gone;
  clearTimeout(t);
}

// ------------------------------------------------------------ browsers

let browser;
const pages = {};

async function newPage(name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => { throw e; });
  pages[name] = page;
  return page;
}

const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

async function signIn(page, name, password) {
  await page.goto(baseUrl);
  await page.waitForSelector('body[data-ready="true"]');
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function submitPhoto(page, file, colour) {
  const p = path.join(WORK, file);
  fs.writeFileSync(p, png(900, 900, colour));
  await page.locator('#file').setInputFiles(p);
  await page.locator('#preview:not([hidden])').waitFor();
  await page.locator('#crop:not([hidden])').waitFor();
  await page.locator('#submit:enabled').waitFor();
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/requests') && r.request().method() === 'POST');
  await page.locator('#submit').click();
  const res = await answer;
  assert.equal(res.status(), 200, await res.text());
  return (await res.json()).id;
}

function requestsList() {
  const out = execFileSync(BIN, ['--config', config(), '--json', 'requests', 'list', '--all'], {
    env: { ...process.env, USERPHOTO_E2E_ADMIN_PASSWORD: ad.adminPassword }, encoding: 'utf8', timeout: 60000,
  });
  return out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

before(async () => {
  ad = facts();
  ou = `OU=userphoto-selfservice,${ad.baseDn}`;
  fs.writeFileSync(path.join(WORK, 'admin-password'), ad.adminPassword, { mode: 0o600 });
  try {
    ensureFixtures();
  } catch (e) {
    throw new Error(`the Samba AD DC at ${ad.url} does not answer (${String(e.stderr || e.message).trim()}); ${HOW_TO_START}`);
  }
  // ss-employee has a photo already, so the approval must back it up.
  const old = png(96, 96, [200, 30, 30]);
  ldap('ldapmodify', [], `dn: CN=ss-employee,${ou}\nchangetype: modify\nreplace: thumbnailPhoto\nthumbnailPhoto:: ${Buffer.from(old).toString('base64')}\n\n`);
  fs.writeFileSync(config(), [
    '[ad]',
    `url = "${ad.url}"`,
    `base_dn = "${ou}"`,
    `bind_dn = "${ad.adminUpn}"`,
    'password_env = "USERPHOTO_E2E_ADMIN_PASSWORD"',
    `ca_file = "${ad.caFile}"`,
    '',
    '[backup]',
    `dir = "${path.join(WORK, 'team-backups')}"`,
    '',
    '[audit]',
    `path = "${path.join(WORK, 'team-audit.jsonl')}"`,
    '',
    '[team]',
    `database = "${path.join(WORK, 'team-requests.sqlite')}"`,
    `approver_group = "CN=ss-helpdesk,${ou}"`,
    '',
  ].join('\n'));
  baseUrl = await startServe();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  await stopServe();
});

let firstId;

test('team: a wrong password is refused without saying which part was wrong', async () => {
  const page = await newPage('stranger');
  await signIn(page, 'ss-employee', 'not-the-password');
  const error = page.locator('#signin-error');
  await error.waitFor();
  assert.equal(await error.textContent(), 'The name or password is not right.');
  await signIn(page, 'ss-nobody', ad.userPassword);
  await page.waitForFunction(() => document.querySelector('#signin-error').textContent.length > 0);
  assert.equal(await error.textContent(), 'The name or password is not right.');
  assert.equal(await page.locator('#employee').isVisible(), false);
  await shot(page, 't01-wrong-password');
});

test('team: an employee signs in, uploads, frames and submits', async () => {
  const page = await newPage('employee');
  await signIn(page, 'ss-employee', ad.userPassword);
  await page.locator('body[data-signed-in="true"]').waitFor();
  assert.match(await page.locator('#who').textContent(), /Sam Employee/);
  assert.equal(await page.locator('#approver').isVisible(), false);
  firstId = await submitPhoto(page, 'sam.png', [40, 120, 200]);
  await page.locator(`#mine li[data-id="${firstId}"][data-state="pending"]`).waitFor();
  // The crop editor's checks are shown (a drawn disc is no face).
  await shot(page, 't02-submitted');
});

test('team: an employee cannot reach the queue or another employee\'s request', async () => {
  const page = await newPage('other');
  await signIn(page, 'ss-other', ad.userPassword);
  await page.locator('body[data-signed-in="true"]').waitFor();
  assert.equal(await page.locator('#approver').isVisible(), false);
  const statuses = await page.evaluate(async (id) => {
    const s = async (u, o) => (await fetch(u, o)).status;
    return {
      queue: await s('api/queue'),
      show: await s(`api/requests/${id}`),
      photo: await s(`api/requests/${id}/photo.jpg`),
    };
  }, firstId);
  assert.deepEqual(statuses, { queue: 403, show: 404, photo: 404 });
});

test('team: the queue survives a server restart and the command line shows the same queue', async () => {
  await stopServe('SIGKILL');
  baseUrl = await startServe();
  const listed = requestsList();
  const mine = listed.find((r) => r.id === firstId);
  assert.ok(mine, JSON.stringify(listed));
  assert.equal(mine.state, 'pending');
  assert.equal(mine.user, 'ss-employee');
  const page = await newPage('approver');
  await signIn(page, 'ss-helper', ad.userPassword);
  await page.locator('#approver:not([hidden])').waitFor();
  await page.locator(`#queue li[data-id="${firstId}"]`).waitFor();
  const onPage = await page.locator('#queue li[data-id]').evaluateAll((lis) => lis.map((li) => Number(li.dataset.id)));
  const cli = requestsList().filter((r) => ['pending', 'approving', 'failed'].includes(r.state)).map((r) => r.id);
  assert.deepEqual(onPage.sort(), cli.sort(), 'the page and `requests list --json` show one queue');
  // The proposed photo is shown, as it will be written.
  await page.waitForFunction((id) => {
    const img = document.querySelector(`#queue li[data-id="${id}"] img.proposed`);
    return img && img.complete && img.naturalWidth > 0;
  }, firstId, { timeout: 30000 });
  await shot(page, 't03-queue-after-restart');
});

test('team: the approver approves; ldapsearch shows the new thumbnail, backed up and audited', async () => {
  const page = pages.approver;
  const before = thumbnail('ss-employee');
  const item = page.locator(`#queue li[data-id="${firstId}"]`);
  const answer = page.waitForResponse((r) => r.url().endsWith(`/api/queue/${firstId}/approve`));
  await item.locator('button.approve').click();
  const res = await answer;
  const done = await res.json();
  assert.equal(done.state, 'approved', JSON.stringify(done));
  await item.waitFor({ state: 'detached' });
  const now = thumbnail('ss-employee');
  assert.ok(now && (!before || sha256(now) !== sha256(before)), 'AD holds a new thumbnail');
  const audit = fs.readFileSync(path.join(WORK, 'team-audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const line = audit[audit.length - 1];
  assert.equal(line.approved_by, 'ss-helper');
  assert.equal(line.user_name, 'ss-employee');
  assert.equal(line.new_sha256, sha256(now));
  assert.ok(line.backup, 'the replaced thumbnail was kept');
  const kept = fs.readFileSync(path.join(WORK, 'team-backups', line.backup));
  assert.equal(sha256(kept), line.old_sha256);
  // The employee sees it approved.
  const emp = pages.employee;
  await signIn(emp, 'ss-employee', ad.userPassword);
  await emp.locator(`#mine li[data-id="${firstId}"][data-state="approved"]`).waitFor();
  await shot(emp, 't04-approved');
});

test('team: a rejected request shows its reason to the employee', async () => {
  const emp = pages.employee;
  const id = await submitPhoto(emp, 'sam2.png', [90, 60, 160]);
  const page = pages.approver;
  await page.reload();
  await page.locator('body[data-signed-in="true"]').waitFor();
  const item = page.locator(`#queue li[data-id="${id}"]`);
  await item.waitFor();
  await item.locator('input.reject-reason').fill('Please use a photo that shows your face');
  await item.locator('button.reject').click();
  await item.waitFor({ state: 'detached' });
  await emp.reload();
  const mine = emp.locator(`#mine li[data-id="${id}"][data-state="rejected"]`);
  await mine.waitFor();
  assert.equal(await mine.locator('.reason').textContent(), 'Please use a photo that shows your face');
  await shot(emp, 't05-rejected');
});
