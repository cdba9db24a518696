// Team mode with Entra sign-in, in Chromium: `userphoto serve` with
// [team] sign_in = "entra" against the Graph EMULATOR's authorize, token
// and JWKS endpoints, writing approved photos to the Samba AD DC. An
// employee clicks "Sign in with Microsoft", signs in at the emulator's
// page, comes back signed in as their UPN, submits; a member of the
// approvers' group (groups claim) approves; ldapsearch reads the new
// thumbnail. The test starts and stops both servers by PID.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { chromium } from 'playwright-core';
import { png } from './png.js';

const BIN = process.env.USERPHOTO_BIN;
const EMU = process.env.USERPHOTO_GRAPH_EMULATOR_BIN;
const SHOTS = process.env.USERPHOTO_SCREENSHOTS;
const WORK = process.env.USERPHOTO_WORK;
const SERVERS = process.env.USERPHOTO_TEST_SERVERS_DIR;
if (!BIN || !EMU || !SHOTS || !WORK || !SERVERS) {
  throw new Error('run this test with `e2e/run team` (it builds userphoto and graph-emulator and sets the environment)');
}
const HOW_TO_START = 'start it with `scripts/test-servers up` (and export USERPHOTO_TEST_SERVERS_DIR=<its folder>)';
const GROUP = '99999999-8888-7777-6666-555555555555';
const EMU_PASSWORD = 'emulator-user-password';

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
const children = [];

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
  try {
    ldap('ldapadd', ['-c'], ldif);
  } catch (e) {
    const bad = String(e.stderr || '').split('\n').filter((l) => l.includes('ldap_add:') && !l.includes('Already exists'));
    if (bad.length) throw new Error(`ldapadd: ${e.stderr}`);
  }
}

function thumbnail(sam) {
  const out = ldap('ldapsearch', ['-LLL', '-o', 'ldif-wrap=no', '-b', `CN=${sam},${ou}`, '-s', 'base', 'thumbnailPhoto']);
  const line = out.split('\n').find((l) => l.startsWith('thumbnailPhoto::'));
  return line ? Buffer.from(line.slice('thumbnailPhoto::'.length).trim(), 'base64') : null;
}

function startProcess(name, cmd, args, env, re) {
  const err = fs.openSync(path.join(WORK, `${name}.err`), 'w');
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', err] });
  children.push(child);
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} printed nothing matching ${re} in 60 s: ${text}`)), 60000);
    child.stdout.on('data', (d) => {
      text += d;
      const m = text.match(re);
      if (m) { clearTimeout(timer); resolve({ text, match: m }); }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited early (${code}): ${fs.readFileSync(path.join(WORK, `${name}.err`), 'utf8').slice(-2000)}`));
    });
  });
}

async function stopAll() {
  for (const child of children.reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.removeAllListeners('exit');
    const gone = new Promise((r) => child.once('exit', r));
    process.kill(child.pid, 'SIGTERM');
    const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
    await gone;
    clearTimeout(t);
  }
}

let baseUrl;
let browser;

before(async () => {
  ad = facts();
  ou = `OU=userphoto-selfservice,${ad.baseDn}`;
  fs.writeFileSync(path.join(WORK, 'admin-password'), ad.adminPassword, { mode: 0o600 });
  ensureFixtures();
  const employee = `ss-employee@${ad.realm}`;
  const helper = `ss-helper@${ad.realm}`;
  const emu = await startProcess('graph-emulator-entra', EMU,
    ['--listen', '127.0.0.1:0', '--users', '2', '--synced-user', employee, '--synced-user', helper,
      '--group-member', `${helper}=${GROUP}`],
    { RUST_LOG: 'warn' }, /login_url = "([^"]+)"/);
  const field = (k) => emu.text.match(new RegExp(`${k} = "([^"]+)"`))[1];
  const config = path.join(WORK, 'team-entra.toml');
  fs.writeFileSync(config, [
    '[ad]',
    `url = "${ad.url}"`,
    `base_dn = "${ou}"`,
    `bind_dn = "${ad.adminUpn}"`,
    'password_env = "USERPHOTO_E2E_ADMIN_PASSWORD"',
    `ca_file = "${ad.caFile}"`,
    '',
    '[m365]',
    `tenant_id = "${field('tenant_id')}"`,
    `client_id = "${field('client_id')}"`,
    'client_secret_env = "USERPHOTO_E2E_M365_SECRET"',
    `graph_url = "${field('graph_url')}"`,
    `login_url = "${field('login_url')}"`,
    '',
    '[backup]',
    `dir = "${path.join(WORK, 'entra-backups')}"`,
    '',
    '[audit]',
    `path = "${path.join(WORK, 'entra-audit.jsonl')}"`,
    '',
    '[team]',
    'sign_in = "entra"',
    'targets = ["ad"]',
    `database = "${path.join(WORK, 'entra-requests.sqlite')}"`,
    `approver_group = "${GROUP}"`,
    '',
  ].join('\n'));
  const serve = await startProcess('userphoto-serve-entra', BIN,
    ['--config', config, 'serve', '--no-open', '--listen', '127.0.0.1:0'],
    { USERPHOTO_E2E_ADMIN_PASSWORD: ad.adminPassword, USERPHOTO_E2E_M365_SECRET: 'emulator-secret' },
    /team mode is at (http:\/\/\S+\/)/);
  baseUrl = serve.match[1];
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  await stopAll();
});

async function signIn(upn) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => { throw e; });
  await page.goto(baseUrl);
  await page.waitForSelector('body[data-ready="true"]');
  await page.getByRole('link', { name: 'Sign in with Microsoft' }).click();
  await page.getByLabel('Email, phone, or Skype').fill(upn);
  await page.getByLabel('Password').fill(EMU_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('body[data-signed-in="true"]').waitFor({ timeout: 30000 });
  return page;
}

test('team (Entra): sign in with Microsoft, submit, the group member approves into AD', async () => {
  const emp = await signIn(`ss-employee@${ad.realm}`);
  assert.match(await emp.locator('#who').textContent(), /ss.employee/i);
  assert.equal(await emp.locator('#approver').isVisible(), false);
  const file = path.join(WORK, 'entra.png');
  fs.writeFileSync(file, png(800, 800, [30, 160, 90]));
  await emp.locator('#file').setInputFiles(file);
  await emp.locator('#submit:enabled').waitFor();
  const answer = emp.waitForResponse((r) => r.url().endsWith('/api/requests') && r.request().method() === 'POST');
  await emp.locator('#submit').click();
  const id = (await (await answer).json()).id;
  await emp.screenshot({ path: path.join(SHOTS, 'te01-entra-submitted.png'), fullPage: true });

  const boss = await signIn(`ss-helper@${ad.realm}`);
  await boss.locator('#approver:not([hidden])').waitFor();
  const item = boss.locator(`#queue li[data-id="${id}"]`);
  await item.waitFor();
  const before = thumbnail('ss-employee');
  const done = boss.waitForResponse((r) => r.url().endsWith(`/api/queue/${id}/approve`));
  await item.locator('button.approve').click();
  assert.equal((await (await done).json()).state, 'approved');
  const now = thumbnail('ss-employee');
  const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
  assert.ok(now && (!before || sha(now) !== sha(before)), 'AD holds the new thumbnail');
  const audit = fs.readFileSync(path.join(WORK, 'entra-audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(audit[audit.length - 1].approved_by, `ss-helper@${ad.realm}`);
  await boss.screenshot({ path: path.join(SHOTS, 'te02-entra-approved.png'), fullPage: true });
});
