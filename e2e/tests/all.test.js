// The web UI in real headless Chromium, against `userphoto demo`
// (started by e2e/run; its address, sandbox and screenshot folder come in
// the environment). One browser signs in with the one-time token; the
// security checks reuse its session over raw HTTP.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { png, ramp, halves, jpegSize } from './png.js';
import { request, rawStatus } from './http.js';

const URL0 = process.env.USERPHOTO_URL;
const SANDBOX = process.env.USERPHOTO_SANDBOX;
const SHOTS = process.env.USERPHOTO_SCREENSHOTS;
const WORK = process.env.USERPHOTO_WORK;
const BIN = process.env.USERPHOTO_BIN;
if (!URL0 || !SANDBOX || !SHOTS || !WORK || !BIN) {
  throw new Error('run these tests with e2e/run (it starts userphoto demo and sets USERPHOTO_URL)');
}
const BASE = new URL(URL0).origin;
// The UI's own base (`http://127.0.0.1:PORT/s/<random>`), learned at
// sign-in: every page and API URL is under it, and only there does the
// browser send the session cookie. THE helper for raw signed-in requests:
// `app('/api/session')` with `sessionHeaders()`.
let APP = null;
const app = (p) => {
  assert.ok(APP, 'signed in first');
  return `${APP}${p}`;
};

let browser;
let context;
let page;

const shot = (name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
const pane = (kind) => page.locator(`#pane-${kind}`);

async function pickUser(text, option) {
  const box = page.getByRole('combobox', { name: 'Select user' });
  await box.fill('');
  await box.fill(text);
  await page.waitForFunction(() => document.querySelectorAll('[role=option]').length === 1);
  const opt = page.getByRole('option', { name: new RegExp(option) });
  await opt.first().waitFor();
  await opt.first().click();
  await page.waitForFunction(() => !document.querySelector('.pane .info')?.textContent.includes('Loading'));
  await page.waitForTimeout(150);
}

async function photoFile(name, w, h, colour) {
  const file = path.join(WORK, name);
  fs.writeFileSync(file, png(w, h, colour));
  return file;
}

async function toastText(re) {
  const t = page.locator('.toast', { hasText: re });
  await t.first().waitFor({ timeout: 20000 });
  return t.first().textContent();
}

before(async () => {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (e) => { throw e; });
});

after(async () => {
  if (browser) await browser.close();
});

test('the sign-in link opens the main screen, labelled DEMO, with the mode', async () => {
  const res = await page.goto(URL0);
  assert.equal(res.status(), 200);
  assert.equal(new URL(page.url()).search, '', 'the token leaves the address bar');
  APP = new URL('.', page.url()).href.replace(/\/$/, '');
  assert.match(new URL(APP).pathname, /^\/s\/[0-9a-f]{32,}$/, 'the UI is under a random base path');
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.locator('#demo-badge').isVisible(), true);
  assert.equal(await page.locator('#mode').textContent(), 'ON-PREMISES');
  assert.match(await page.title(), /DEMO/);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name.startsWith('userphoto_session'));
  assert.ok(session && session.httpOnly && session.sameSite === 'Strict');
  assert.equal(session.path, `${new URL(APP).pathname}/`, 'the cookie is bound to the base path');
  await shot('01-start');
});

/** Screenshots of the coverage section at 1280×900 and 1024×700 (what is in view). */
async function coverageShots(name) {
  for (const [w, hgt] of [[1280, 900], [1024, 700]]) {
    await page.setViewportSize({ width: w, height: hgt });
    await page.locator('#coverage-out').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(SHOTS, `${name}-${w}x${hgt}.png`) });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

const coverageRows = () => page.locator('#coverage-rows tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));

// Before anything is written: the sandbox as seeded (demo.rs, PEOPLE). AD:
// 20 people, 13 with a photo (7 "both", 3 with Exchange's 64×64, 3 AD
// only), 6 without (5 with no photo anywhere and Kiosk Account, who has no
// mailbox but is in AD), Board Member not accessible. HD: 10 with a photo,
// 8 without (3 AD only + 5), 2 unreadable (no mailbox, not accessible).
test('coverage: counts per target, who has no photo or only Exchange\'s 64×64, filtered, as CSV', async () => {
  const box = page.locator('#coverage');
  await box.scrollIntoViewIfNeeded();
  assert.equal(await page.locator('#coverage-out').isVisible(), false, 'nothing counted before asked');
  await page.getByRole('button', { name: 'Count photos' }).click();
  await page.locator('#coverage[data-loaded="true"]').waitFor({ timeout: 60000 });
  assert.match(await page.locator('#coverage-when').textContent(), /^Counted \d{4}-\d\d-\d\d/);
  const summary = await page.locator('#coverage-summary tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  assert.deepEqual(summary, [
    // target, users, with, no photo, only 64×64, HD but no thumbnail, unreadable
    ['AD', '20', '13', '6', '3', '0', '1'],
    ['HD', '20', '10', '8', '0', '0', '2'],
  ]);
  // The default filter: no photo or only the 64×64 (6 + 3 in AD, 8 in HD).
  assert.equal(await page.locator('#coverage-matching').textContent(), '17 rows match.');
  const rows = await coverageRows();
  assert.equal(rows.length, 17);
  assert.ok(rows.some((r) => r[0] === 'AD' && r[1] === 'Grace.Hopper' && r[3] === 'none' && r[4] === 'no photo'), JSON.stringify(rows));
  assert.ok(rows.some((r) => r[0] === 'AD' && r[1] === 'Linus.Torvalds' && r[3] === '64×64' && r[4] === 'only Exchange\'s 64×64'), JSON.stringify(rows));
  assert.ok(!rows.some((r) => r[1] === 'Ada.Lovelace'), 'people with both photos are not listed');
  await coverageShots('30-coverage');

  // Only Exchange's 64×64: the three people seeded so.
  await page.locator('#coverage-show').selectOption('only-exchange-thumbnail');
  await page.waitForFunction(() => document.getElementById('coverage-matching').textContent === '3 rows match.', null, { timeout: 20000 });
  assert.deepEqual((await coverageRows()).map((r) => r[1]).sort(), ['Barbara.Liskov', 'Hedy.Lamarr', 'Linus.Torvalds']);
  // And a name.
  await page.locator('#coverage-q').fill('hedy');
  await page.waitForFunction(() => document.getElementById('coverage-matching').textContent === '1 row match.', null, { timeout: 20000 });
  const [hedy] = await coverageRows();
  assert.deepEqual([hedy[0], hedy[1], hedy[2], hedy[3], hedy[4]], ['AD', 'Hedy.Lamarr', 'Hedy Lamarr', '64×64', 'only Exchange\'s 64×64']);
  await coverageShots('31-coverage-filtered');

  // The CSV is what the filter shows, in `userphoto report --csv`'s columns.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()]);
  assert.equal(download.suggestedFilename(), 'userphoto-coverage.csv');
  const csv = fs.readFileSync(await download.path(), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'target,user,display_name,has_photo,bytes,width,height,findings,last_written,last_file');
  assert.equal(csv.length, 2, csv.join('\n'));
  assert.match(csv[1], /^ad,Hedy\.Lamarr,Hedy Lamarr,true,\d+,64,64,only Exchange's 64×64,,$/);

  // HD only, no photo: the eight, and the CSV follows the filter.
  await page.locator('#coverage-q').fill('');
  await page.locator('#coverage-show').selectOption('no-photo');
  await page.locator('#coverage-target').selectOption('folder');
  await page.waitForFunction(() => document.getElementById('coverage-matching').textContent === '8 rows match.', null, { timeout: 20000 });
  assert.ok((await coverageRows()).every((r) => r[0] === 'HD' && r[3] === 'none'));
  const [all] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()]);
  const lines = fs.readFileSync(await all.path(), 'utf8').trim().split('\n');
  assert.equal(lines.length, 9, lines.join('\n'));
  assert.ok(lines.slice(1).every((l) => l.startsWith('folder,') && l.includes(',false,')), lines.join('\n'));
  // Back to the default for whoever looks next.
  await page.locator('#coverage-show').selectOption('missing');
  await page.locator('#coverage-target').selectOption('');
  await page.evaluate(() => window.scrollTo(0, 0));
});

test('type-ahead finds users on the server; the keyboard picks one', async () => {
  const box = page.getByRole('combobox', { name: 'Select user' });
  await box.focus();
  await page.keyboard.type('gr');
  // The debounced search answers for "gr" alone: one user.
  await page.waitForFunction(() => document.querySelectorAll('[role=option]').length === 1);
  await page.getByRole('option', { name: /Grace Hopper/ }).waitFor();
  await shot('02-search');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#user-summary').textContent.includes('Grace.Hopper'));
  await page.locator('#pane-ad .state-no-photo').waitFor();
  await page.locator('#pane-folder .state-no-photo').waitFor();
});

test('dropping a large photo shows the cropped preview and ticks AD and HD', async () => {
  const bytes = png(800, 1000).toString('base64');
  await page.evaluate(async (b64) => {
    const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bin], 'Grace.Hopper 800x1000.png', { type: 'image/png' }));
    document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, bytes);
  await page.locator('#input-preview:not([hidden])').waitFor();
  await page.waitForFunction(() => document.getElementById('input-info').textContent.includes('800×1000'));
  assert.equal(await page.getByLabel('Replace 96×96 (AD)').isChecked(), true);
  assert.equal(await page.getByLabel('Replace 648×648 (HD)').isChecked(), true);
  const size = await page.locator('#input-preview').evaluate((img) => [img.naturalWidth, img.naturalHeight]);
  assert.deepEqual(size, [648, 648], 'the preview is the square that will be written');
  await shot('03-photo-dropped');
});

test('Import writes HD then AD, and the panes show the new photos', async () => {
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  const text = await toastText(/written/);
  assert.match(text, /HD written.*AD written/, 'HD first, then AD');
  await page.locator('#pane-ad img').waitFor();
  await page.locator('#pane-folder img').waitFor();
  await page.waitForFunction(() => document.querySelector('#pane-ad-info').textContent.includes('96×96'));
  assert.match(await page.locator('#pane-folder-info').textContent(), /648×648/);
  // And on the "server": the sandbox folders hold the prepared JPEGs.
  const ad = fs.readFileSync(path.join(SANDBOX, 'ad', 'photos', 'u03.jpg'));
  const hd = fs.readFileSync(path.join(SANDBOX, 'hd', 'photos', 'u03.jpg'));
  assert.deepEqual(jpegSize(ad), [96, 96]);
  assert.deepEqual(jpegSize(hd), [648, 648]);
  // The card says what happened and when, after the toasts are gone.
  const result = page.locator('#import-result');
  assert.match(await result.textContent(), /^Written \d\d:\d\d to HD and AD, nothing to back up\.$/);
  await page.evaluate(async () => (await import(new URL('assets/toasts.js', document.baseURI).href)).clearToasts());
  assert.equal(await result.isVisible(), true, 'the result stays without the toasts');
  await shot('04-imported');
});

test('a photo of 96×96 or less ticks AD only', async () => {
  await page.locator('#file').setInputFiles(await photoFile('small.png', 80, 80));
  await page.waitForFunction(() => document.getElementById('input-info').textContent.includes('80×80'));
  assert.equal(await page.getByLabel('Replace 96×96 (AD)').isChecked(), true);
  assert.equal(await page.getByLabel('Replace 648×648 (HD)').isChecked(), false);
  await shot('05-small-photo');
});

test('Remove asks first, keeps a backup, and empties the pane', async () => {
  await page.getByRole('button', { name: 'Remove AD' }).click();
  const dialog = page.getByRole('dialog', { name: 'Remove photo?' });
  await dialog.waitFor();
  await shot('06-confirm-remove');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await page.locator('#pane-ad img').waitFor();
  await page.getByRole('button', { name: 'Remove AD' }).click();
  await dialog.getByRole('button', { name: 'Remove' }).click();
  await toastText(/removed/);
  await page.locator('#pane-ad .state-no-photo').waitFor();
  assert.equal(fs.existsSync(path.join(SANDBOX, 'ad', 'photos', 'u03.jpg')), false);
  const backups = fs.readdirSync(path.join(SANDBOX, 'backups'), { recursive: true });
  assert.ok(backups.some((f) => String(f).endsWith('.jpg')), 'the removed photo was backed up');
  await shot('07-removed');
});

test('history: the backups held with "Restore this one", through backup → write → audit', async () => {
  // Grace's AD photo was just removed (and kept); her history shows it.
  const history = page.locator('#history');
  await page.locator('#backup-list li').first().waitFor({ timeout: 20000 });
  assert.match(await page.locator('#history-title').textContent(), /Grace Hopper/);
  const items = page.locator('#backup-list li');
  assert.equal(await items.count(), 1, 'one photo kept: the AD photo before the remove');
  const text = await items.first().textContent();
  assert.match(text, /AD · kept before the photo was removed/);
  await page.waitForFunction(() => {
    const img = document.querySelector('#backup-list img');
    return img && img.complete && img.naturalWidth === 96;
  }, null, { timeout: 20000 });
  const audit = await page.locator('#audit-list li').allTextContents();
  assert.ok(audit.some((l) => /AD · photo removed by .*\(the old one kept\)/.test(l)), `the audit says so: ${audit}`);
  assert.ok(audit.some((l) => /HD · photo written/.test(l)), `the first import is there too: ${audit}`);
  await history.scrollIntoViewIfNeeded();
  await shot('07b-history');
  const kept = fs.readFileSync(path.join(SANDBOX, 'backups', JSON.parse(fs.readFileSync(path.join(SANDBOX, 'backups', 'manifest.jsonl'), 'utf8').trim().split('\n').filter((l) => l.includes('"u03"')).pop()).path));
  await items.first().getByRole('button', { name: 'Restore this one' }).click();
  const dialog = page.getByRole('dialog', { name: 'Restore this photo?' });
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Restore' }).click();
  await page.locator('#pane-ad img').waitFor({ timeout: 20000 });
  assert.deepEqual(fs.readFileSync(path.join(SANDBOX, 'ad', 'photos', 'u03.jpg')), kept, 'the kept bytes are back in AD');
  assert.match(await page.locator('#import-result').textContent(), /^Restored \d\d:\d\d to AD, nothing to back up\.$/);
  await page.waitForFunction(() => [...document.querySelectorAll('#audit-list li')].some((l) => /AD · photo restored from a backup/.test(l.textContent)), null, { timeout: 20000 });
  await shot('07c-restored');
});

test('Use existing HD replaces Exchange\'s 64×64 with a 96×96 of the HD photo', async () => {
  await pickUser('linus', 'Linus Torvalds');
  await page.waitForFunction(() => document.querySelector('#pane-ad-info').textContent.includes('64×64'));
  await page.getByRole('button', { name: 'Use existing HD' }).click();
  await toastText(/made from the HD photo/);
  await page.waitForFunction(() => document.querySelector('#pane-ad-info').textContent.includes('96×96'));
  await shot('08-use-existing-hd');
});

test('View web image opens the 648×648 photo in a new tab', async () => {
  const [popup] = await Promise.all([
    context.waitForEvent('page'),
    page.getByRole('link', { name: 'View web image' }).click(),
  ]);
  await popup.waitForLoadState();
  const size = await popup.evaluate(() => {
    const img = document.querySelector('img');
    return img ? [img.naturalWidth, img.naturalHeight] : null;
  });
  assert.deepEqual(size, [648, 648]);
  await popup.close();
});

test('no mailbox and not accessible look different, with the reason on hover', async () => {
  await pickUser('kiosk', 'Kiosk Account');
  await page.locator('#pane-folder .state-no-mailbox').waitFor();
  assert.match(await page.locator('#pane-folder-frame').getAttribute('aria-label'), /No mailbox/);
  await shot('09-no-mailbox');
  await pickUser('board', 'Board Member');
  await page.locator('#pane-ad .state-not-accessible').waitFor();
  const reason = await page.locator('#pane-ad-frame').getAttribute('title');
  assert.ok(reason && reason.length > 5, 'the reason is on hover');
  await page.locator('#pane-ad-frame').hover();
  await shot('10-not-accessible');
});

test('readiness: a target the page knows cannot be written is unticked, disabled, and says why', async () => {
  const ad = page.getByLabel('Replace 96×96 (AD)');
  const hd = page.getByLabel('Replace 648×648 (HD)');
  // Kiosk: no mailbox, so HD cannot be written; AD can.
  await pickUser('kiosk', 'Kiosk Account');
  await page.locator('#pane-folder .state-no-mailbox').waitFor();
  await page.locator('#file').setInputFiles(await photoFile('kiosk.png', 700, 700, [120, 100, 90]));
  await page.waitForFunction(() => document.getElementById('input-info').textContent.includes('700×700'));
  assert.equal(await hd.isChecked(), false, 'HD is not ticked for a user without a mailbox');
  assert.equal(await hd.isDisabled(), true);
  assert.match(await page.locator('#tick-folder-why').textContent(), /no mailbox/);
  assert.equal(await ad.isChecked(), true, 'AD still is');
  assert.equal(await ad.isEnabled(), true);
  assert.equal(await page.locator('#tick-ad-why').textContent(), '');
  assert.match(await page.locator('#import-help').textContent(), /^Ready: AD for Kiosk Account\.$/);
  // "Use existing HD" is disabled, and the page says why.
  assert.equal(await page.getByRole('button', { name: 'Use existing HD' }).isDisabled(), true);
  assert.match(await page.locator('#use-hd-why').textContent(), /Kiosk Account has no mailbox/);
  await shot('09b-readiness-no-mailbox');
  // Board Member: neither target can be read nor written; Import stays off.
  await pickUser('board', 'Board Member');
  await page.locator('#pane-ad .state-not-accessible').waitFor();
  await page.locator('#pane-folder .state-not-accessible').waitFor();
  await page.locator('#file').setInputFiles(await photoFile('board.png', 700, 700, [120, 100, 90]));
  await page.waitForFunction(() => document.getElementById('input-info').textContent.includes('700×700'));
  for (const [box, kind] of [[ad, 'ad'], [hd, 'folder']]) {
    assert.equal(await box.isChecked(), false);
    assert.equal(await box.isDisabled(), true);
    assert.match(await page.locator(`#tick-${kind}-why`).textContent(), /not accessible/);
  }
  assert.equal(await page.getByRole('button', { name: 'Import', exact: true }).isDisabled(), true);
  assert.match(await page.locator('#import-help').textContent(), /Nothing can be written for Board Member/);
  assert.match(await page.locator('#use-hd-why').textContent(), /cannot be read/);
  await shot('10b-readiness-not-accessible');
  // Another user: the boxes come back.
  await pickUser('ada', 'Ada Lovelace');
  await page.locator('#pane-folder img').waitFor();
  assert.equal(await hd.isEnabled(), true);
  assert.equal(await ad.isEnabled(), true);
  assert.equal(await page.locator('#tick-folder-why').textContent(), '');
});

test('dark theme', async () => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await pickUser('ada', 'Ada Lovelace');
  await page.locator('#pane-folder img').waitFor();
  await shot('11-dark');
  await page.emulateMedia({ colorScheme: 'light' });
});

// ------------------------------------------------------------ toasts, input reset

/** The toasts on screen (not folded away). */
const shownToasts = () => page.locator('#toasts .toast:visible');

test('the warnings of one import come in one toast; the next action clears the last one\'s toasts', async () => {
  await pickUser('hedy', 'Hedy Lamarr');
  // A flat, nearly black square: no face, very dark — warnings for AD and HD alike.
  await page.locator('#file').setInputFiles(await photoFile('dark.png', 700, 700, [6, 6, 6]));
  await page.waitForFunction(() => document.getElementById('input-info').textContent.includes('700×700'));
  const checks = await page.locator('#input-checks li').allTextContents();
  assert.ok(checks.length >= 2, `several quality warnings: ${checks}`);
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await toastText(/Hedy.*written/);
  const warn = page.locator('.toast.warn');
  await warn.first().waitFor();
  assert.equal(await warn.count(), 1, 'the warnings are one toast');
  const lines = await warn.locator('li').allTextContents();
  assert.ok(lines.length >= 2, `several warnings, listed in the one toast: ${lines}`);
  assert.equal(new Set(lines).size, lines.length, `each warning once: ${lines}`);
  for (const l of lines) assert.match(l, /^HD, AD: /, `each says the targets it is about: ${l}`);
  assert.ok(await shownToasts().count() <= 3);
  await shot('21-toasts-import');

  // A new action: the last one's toasts go, its own come.
  await page.getByRole('button', { name: 'Remove AD' }).click();
  await page.getByRole('dialog', { name: 'Remove photo?' }).getByRole('button', { name: 'Remove' }).click();
  await toastText(/removed/);
  assert.deepEqual(await page.locator('#toasts .toast').allTextContents().then((t) => t.map((x) => x.replace('×', '').trim())),
    ['Hedy Lamarr: AD photo removed (backed up).']);
});

test('toasts: at most three on screen, the rest folded into "+N more" (errors first), all one click away', async () => {
  // Many at once, through the page's own toast module.
  await page.evaluate(async () => {
    const m = await import(new URL('assets/toasts.js', document.baseURI).href);
    m.clearToasts();
    for (let i = 1; i <= 5; i++) m.toast(`Warning number ${i}`, 'warn');
    m.toast('Error one', 'error');
    m.toast('All done.', 'ok');
    for (const n of ['two', 'three', 'four']) m.toast(`Error ${n}`, 'error');
  });
  assert.equal(await shownToasts().count(), 4, 'three toasts and the "+N more" one');
  const shown = await page.locator('#toasts .toast.error:not(.more)[role=alert]:visible').allTextContents();
  assert.equal(shown.length, 3, `errors come first: ${shown}`);
  const more = page.locator('#toasts .toast.more');
  assert.match(await more.textContent(), /\+7 more messages \(1 error\)/);
  assert.equal(await more.getAttribute('role'), 'alert', 'a folded error is still announced');
  const box = await page.locator('#toasts').boundingBox();
  assert.ok(box.height < 900 / 2, `the stack stays in the corner: ${box.height}px`);
  await shot('22-toasts-folded');
  await more.getByRole('button', { name: 'Show all' }).click();
  assert.equal(await shownToasts().count(), 11, 'all ten and the summary');
  assert.match(await more.textContent(), /10 messages/);
  await shot('23-toasts-all');
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot('24-toasts-all-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  await more.getByRole('button', { name: 'Show fewer' }).click();
  assert.equal(await shownToasts().count(), 4);
  await more.getByRole('button', { name: 'Dismiss all messages' }).click();
  assert.equal(await page.locator('#toasts .toast').count(), 0);
});

test('picking another user clears the photo dropped for the last one', async () => {
  await pickUser('shafi', 'Shafi Goldwasser');
  await page.locator('#file').setInputFiles(await photoFile('shafi.png', 700, 900));
  await page.waitForFunction(() => document.getElementById('input-info').textContent.includes('700×900'));
  await page.locator('#crop:not([hidden])').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Import', exact: true }).isEnabled(), true);
  await pickUser('edsger', 'Edsger Dijkstra');
  assert.equal(await page.locator('#input-preview').isHidden(), true, 'no preview');
  assert.equal(await page.locator('#input-preview').getAttribute('src'), null);
  assert.equal(await page.locator('#drop-empty').isVisible(), true, 'the drop box asks for a photo again');
  assert.equal(await page.locator('#crop').isHidden(), true, 'no crop editor');
  assert.equal(await page.locator('#input-checks').isHidden(), true, 'no warnings of the old photo');
  assert.match(await page.locator('#input-info').textContent(), /any size/);
  assert.equal(await page.getByLabel('Replace 96×96 (AD)').isChecked(), false);
  assert.equal(await page.getByLabel('Replace 648×648 (HD)').isChecked(), false);
  assert.equal(await page.getByRole('button', { name: 'Import', exact: true }).isDisabled(), true);
  assert.match(await page.locator('#import-help').textContent(), /Now drop or choose a photo/);
  await shot('25-user-changed');
});

// ------------------------------------------------------------ crop nudge

/** Mean [r, g, b] of an image (a URL of this origin, or a data: URL), drawn on a canvas. */
function meanColour(src) {
  return page.evaluate(async (url) => {
    const img = new Image();
    img.src = url;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const sum = [0, 0, 0];
    for (let i = 0; i < d.length; i += 4) { sum[0] += d[i]; sum[1] += d[i + 1]; sum[2] += d[i + 2]; }
    const n = d.length / 4;
    return sum.map((v) => v / n);
  }, src);
}
const written = (slot, id) => `data:image/jpeg;base64,${fs.readFileSync(path.join(SANDBOX, slot, 'photos', `${id}.jpg`)).toString('base64')}`;
const cropBox = () => page.locator('#crop-box').evaluate((b) => ({ x: +b.dataset.x, y: +b.dataset.y, side: +b.dataset.side }));
const previewSrc = () => page.locator('#input-preview').evaluate((img) => img.src);
async function previewLoaded(re) {
  await page.waitForFunction((source) => {
    const img = document.getElementById('input-preview');
    return new RegExp(source).test(img.src) && img.complete && img.naturalWidth > 0;
  }, re.source, { timeout: 20000 });
}

test('the crop: the pipeline\'s square on the photo, quality warnings, nudge, import, reset', async () => {
  await pickUser('radia', 'Radia Perlman');
  const bytes = ramp(1200, 600).toString('base64');
  await page.evaluate(async (b64) => {
    const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bin], 'Radia.Perlman wide.png', { type: 'image/png' }));
    document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, bytes);
  await page.waitForFunction(() => document.getElementById('input-info').textContent.includes('1200×600'));
  await page.locator('#crop-stage:not([hidden])').waitFor();
  // No face in a colour ramp: `auto` takes the centred square, and says so.
  assert.deepEqual(await cropBox(), { x: 300, y: 0, side: 600 });
  assert.match(await page.locator('#crop-info').textContent(), /centred square/);
  assert.match(await page.locator('#input-checks').textContent(), /no face/i, 'the quality warning is on the input pane');
  assert.equal(await page.getByRole('button', { name: 'Reset crop' }).isDisabled(), true);
  await previewLoaded(/preview\.jpg$/);
  const [red0] = await meanColour(await previewSrc());
  await shot('16-crop-auto');

  // Import as the pipeline framed it: the centre of the ramp.
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await toastText(/Radia.*written/);
  const [hdRed0] = await meanColour(written('hd', 'u12'));
  assert.ok(Math.abs(hdRed0 - 127) < 12, `centred square: mean red ${hdRed0}`);

  // Nudge with the keyboard: all the way left.
  await page.locator('#crop-box').focus();
  for (let i = 0; i < 12; i++) await page.keyboard.press('ArrowLeft');
  assert.deepEqual(await cropBox(), { x: 0, y: 0, side: 600 }, 'clamped at the left edge');
  assert.equal(await page.locator('#crop').getAttribute('data-nudged'), 'true');
  assert.match(await page.locator('#crop-info').textContent(), /Adjusted by hand/);
  await previewLoaded(/x=0\.00&y=0\.00&side=600\.00/);
  const [redLeft] = await meanColour(await previewSrc());
  assert.ok(redLeft < red0 - 40, `the preview follows the square: ${redLeft} vs ${red0}`);
  await shot('17-crop-nudged');

  // Import the nudged square: the written photo moved left with it (the
  // page clears the last import's toasts itself).
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await toastText(/Radia.*written/);
  const [hdRedLeft] = await meanColour(written('hd', 'u12'));
  assert.ok(hdRedLeft < hdRed0 - 40, `written photo: mean red ${hdRedLeft} vs ${hdRed0} un-nudged`);
  assert.ok(Math.abs(hdRedLeft - 64) < 12, `left square: mean red ${hdRedLeft}`);
  const [adRed] = await meanColour(written('ad', 'u12'));
  assert.ok(Math.abs(adRed - 64) < 14, `the 96×96 got the same square: ${adRed}`);

  // Buttons and dragging move and resize it too.
  await page.getByRole('button', { name: 'Move the crop right' }).click();
  assert.equal((await cropBox()).x, 30, 'a move is 5 % of the square');
  await page.getByRole('button', { name: 'Zoom in' }).click();
  const smaller = await cropBox();
  assert.ok(smaller.side < 600 && smaller.side > 500, `zoomed in, a smaller square: ${smaller.side}`);
  await page.getByRole('button', { name: 'Zoom out' }).click();
  assert.equal((await cropBox()).side, 600);
  const b = await page.locator('#crop-box').boundingBox();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2 + 40, b.y + b.height / 2, { steps: 5 });
  await page.mouse.up();
  const dragged = await cropBox();
  assert.ok(dragged.x > 60, `dragged right: ${dragged.x}`);

  // Reset: the pipeline's square and its preview again.
  await page.getByRole('button', { name: 'Reset crop' }).click();
  assert.deepEqual(await cropBox(), { x: 300, y: 0, side: 600 });
  assert.equal(await page.locator('#crop').getAttribute('data-nudged'), 'false');
  await previewLoaded(/preview\.jpg$/);
  const [redReset] = await meanColour(await previewSrc());
  assert.ok(Math.abs(redReset - red0) < 1, `reset restores the preview: ${redReset} vs ${red0}`);
  await shot('18-crop-reset');
});

test('the crop: the Import bar stays in view while the crop editor is open (1280×900 and 1024×700)', async () => {
  await pickUser('john', 'John Smith');
  await page.locator('#file').setInputFiles(await photoFile('john.png', 900, 1200));
  await page.locator('#crop-stage:not([hidden])').waitFor();
  for (const [w, hgt] of [[1280, 900], [1024, 700]]) {
    await page.setViewportSize({ width: w, height: hgt });
    await page.locator('#crop-reset').scrollIntoViewIfNeeded();
    const box = await page.getByRole('button', { name: 'Import', exact: true }).boundingBox();
    assert.ok(box && box.y >= 0 && box.y + box.height <= hgt, `Import is in view at ${w}×${hgt}: ${JSON.stringify(box)}`);
    const tick = await page.getByLabel('Replace 648×648 (HD)').boundingBox();
    assert.ok(tick && tick.y + tick.height <= hgt, `the targets are in view at ${w}×${hgt}`);
    await page.screenshot({ path: path.join(SHOTS, `16b-crop-sticky-bar-${w}x${hgt}.png`) });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
});

test('the crop: the quality warnings follow the square, and the square shown is the size written', async () => {
  await pickUser('annie', 'Annie Easley');
  const file = path.join(WORK, 'halves.png');
  fs.writeFileSync(file, halves(1000, 500));
  await page.locator('#file').setInputFiles(file);
  await page.locator('#crop-stage:not([hidden])').waitFor();
  assert.deepEqual(await cropBox(), { x: 250, y: 0, side: 500 });
  const checks = () => page.locator('#input-checks').textContent();
  assert.doesNotMatch(await checks(), /dark/i, 'half light, half dark: not too dark');
  await page.locator('#crop-box').focus();
  for (let i = 0; i < 12; i++) await page.keyboard.press('ArrowLeft');
  assert.equal((await cropBox()).x, 0);
  await page.waitForFunction(() => /dark/i.test(document.getElementById('input-checks').textContent), null, { timeout: 20000 });
  await shot('16c-crop-warnings-follow');
  for (let i = 0; i < 24; i++) await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => !/dark/i.test(document.getElementById('input-checks').textContent), null, { timeout: 20000 });
  // "+" zooms in (a smaller square); the side shown is the side written.
  await page.keyboard.press('+');
  await page.keyboard.press('+');
  const c = await cropBox();
  assert.ok(c.side < 500 && c.side > 300, `zoomed in: ${c.side}`);
  assert.match(await page.locator('#crop-info').textContent(), new RegExp(`${c.side}×${c.side} px square`));
  await page.getByLabel('Replace 96×96 (AD)').uncheck();
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await page.locator('#import-result .result.ok').waitFor({ timeout: 20000 });
  assert.deepEqual(jpegSize(fs.readFileSync(path.join(SANDBOX, 'hd', 'photos', 'u18.jpg'))), [c.side, c.side],
    'the HD photo written is the square shown, not a pixel less');
});

// The real-world corpus (../shared/corpus, or USERPHOTO_CORPUS): read, never copied.
const CORPUS = process.env.USERPHOTO_CORPUS || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../shared/corpus');

test('the crop of a real portrait is framed on the face, shown on the photo (corpus)', async (t) => {
  const file = path.join(CORPUS, 'faces', 'kodim04.png');
  if (!fs.existsSync(file)) {
    assert.notEqual(process.env.USERPHOTO_REQUIRE_CORPUS, '1', `the corpus is required but ${file} is missing`);
    t.skip(`CORPUS ABSENT (${file}): set USERPHOTO_CORPUS to run this test`);
    return;
  }
  // faces.tsv: the face box of kodim04.png (x, y, w, h in source pixels).
  const row = fs.readFileSync(path.join(CORPUS, 'faces', 'faces.tsv'), 'utf8').split('\n')
    .map((l) => l.split('\t')).find((c) => c[0] === 'kodim04.png');
  const [fx, fy, fw, fh] = row[3].split(',').map(Number);
  await page.locator('#file').setInputFiles(file);
  await page.waitForFunction(() => document.getElementById('input-info').textContent.includes('512×768'));
  await page.locator('#crop-stage:not([hidden])').waitFor();
  assert.match(await page.locator('#crop-info').textContent(), /Framed on the face/);
  const c = await cropBox();
  assert.ok(fx >= c.x - 1 && fy >= c.y - 1 && fx + fw <= c.x + c.side + 1 && fy + fh <= c.y + c.side + 1,
    `the face ${[fx, fy, fw, fh]} lies inside the square ${JSON.stringify(c)}`);
  await previewLoaded(/preview\.jpg$/);
  await shot('20-crop-face');
});

// ------------------------------------------------------------ no command-line flags on the page

test('the page names no command-line flag: a backup that cannot be kept, a file over the input limit, an upload over the limit', async () => {
  // The backup folder cannot be made: a file has its name.
  const backups = path.join(SANDBOX, 'backups');
  const kept = path.join(WORK, 'backups-kept');
  fs.renameSync(backups, kept);
  fs.writeFileSync(backups, 'not a folder');
  try {
    await pickUser('tim', 'Tim Berners-Lee');
    await page.locator('#file').setInputFiles(await photoFile('tim.png', 700, 700, [200, 60, 60]));
    await page.waitForFunction(() => document.getElementById('input-info').textContent.includes('700×700'));
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    const errors = page.locator('#toasts .toast.error[role=alert]');
    await errors.first().waitFor({ timeout: 20000 });
    await page.waitForFunction(() => document.body.getAttribute('aria-busy') !== 'true');
    const texts = await errors.allTextContents();
    assert.equal(texts.length, 2, `one error per target: ${texts}`);
    for (const t of texts) {
      assert.match(t, /^(HD|AD): the current photo of Tim Berners-Lee \(u13\) could not be backed up, so nothing was changed: .*; check that the folder exists and is writable/);
      assert.doesNotMatch(t, /--[a-z]/);
    }
    await shot('26-backup-failed');
    // Errors stay until read: dismiss them (they sit over the folder box).
    while (await errors.count()) await errors.first().getByRole('button', { name: 'Dismiss' }).click();
  } finally {
    fs.rmSync(backups, { force: true });
    fs.renameSync(kept, backups);
  }

  // A file over the pipeline's 50 MiB input limit (sparse: no disk used)
  // is an error in the plan, before anything runs.
  const dir = path.join(WORK, 'too-large');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir);
  fs.copyFileSync(path.join(SANDBOX, 'incoming', 'Ken.Thompson.jpg'), path.join(dir, 'Ken.Thompson.jpg'));
  const fd = fs.openSync(path.join(dir, 'Hedy.Lamarr huge.jpg'), 'w');
  fs.ftruncateSync(fd, 50 * 1024 * 1024 + 1);
  fs.closeSync(fd);
  await page.getByLabel('Folder on this computer').fill(dir);
  await page.getByRole('button', { name: 'Show plan' }).click();
  await page.waitForFunction(() => document.querySelector('#plan-counts')?.textContent.startsWith('2 files'), null, { timeout: 30000 });
  const row = page.locator('#plan-table tr', { hasText: 'Hedy.Lamarr huge.jpg' });
  assert.equal(await row.getAttribute('data-action'), 'error');
  assert.match(await row.textContent(), /over the 52428800-byte input limit; use a smaller file/);
  await shot('27-plan-too-large');

  // An upload over the server's limit is refused by the page itself.
  fs.writeFileSync(path.join(WORK, 'huge.png'), Buffer.alloc(3 * 1024 * 1024, 1));
  await page.locator('#file').setInputFiles(path.join(WORK, 'huge.png'));
  const tooBig = await toastText(/larger than/);
  assert.match(tooBig, /huge\.png is larger than 2\.1 MB; use a smaller photo/);
  assert.doesNotMatch(await page.locator('body').innerText(), /--[a-z]/, 'no flag anywhere on the page');
});

// ------------------------------------------------------------ security over real HTTP
// (after the folder import tests below have run, see the end of the file)

async function sessionHeaders() {
  const cookies = await context.cookies(app('/'));
  const cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
  const s = await request(app('/api/session'), { headers: { cookie } });
  assert.equal(s.status, 200);
  return { cookie, csrf: s.json.csrf };
}

test('security: no session is 401', async () => {
  const r = await request(app('/api/session'));
  assert.equal(r.status, 401);
  assert.equal(r.json.error.code, 'unauthorized');
  const page401 = await request(`${BASE}/`);
  assert.equal(page401.status, 401);
  const spent = await request(URL0);
  assert.equal(spent.status, 401, 'the sign-in link works once');
});

test('security: the session cookie is not sent, nor valid, outside the base path', async () => {
  // What the browser would send another service on this host: nothing,
  // as no other path is under the cookie's.
  assert.equal((await context.cookies(`${BASE}/api/session`)).length, 0);
  assert.equal((await context.cookies('http://127.0.0.1:1/')).length, 0);
  // And were it sent there anyway, it is worth nothing there.
  const { cookie } = await sessionHeaders();
  const r = await request(`${BASE}/api/session`, { headers: { cookie } });
  assert.equal(r.status, 401);
  const twoHosts = await rawStatus(app('/api/session'), [`Host: ${new URL(BASE).host}`, 'Host: attacker.example', `Cookie: ${cookie}`]);
  assert.equal(twoHosts, 400, 'two Host headers');
});

test('security: a wrong Host is 403 (DNS rebinding)', async () => {
  const { cookie } = await sessionHeaders();
  const r = await request(app('/api/session'), { headers: { cookie, host: 'attacker.example' } });
  assert.equal(r.status, 403);
});

test('security: a cross-origin POST is 403 and changes nothing', async () => {
  const { cookie, csrf } = await sessionHeaders();
  const body = JSON.stringify({ target: 'folder' });
  const r = await request(app('/api/users/u01/remove'), {
    method: 'POST', body,
    headers: { cookie, 'x-csrf-token': csrf, origin: 'http://attacker.example', 'content-type': 'application/json' },
  });
  assert.equal(r.status, 403);
  const noToken = await request(app('/api/users/u01/remove'), {
    method: 'POST', body,
    headers: { cookie, origin: BASE, 'content-type': 'application/json' },
  });
  assert.equal(noToken.status, 403, 'no CSRF token');
  assert.ok(fs.existsSync(path.join(SANDBOX, 'hd', 'photos', 'u01.jpg')), 'nothing was removed');
  // From a page of another origin in the browser, too.
  const evil = await context.newPage();
  await evil.goto('about:blank');
  const status = await evil.evaluate(async (base) => {
    try {
      const r = await fetch(`${base}/api/users/u01/remove`, {
        method: 'POST', mode: 'no-cors', credentials: 'include',
        headers: { 'content-type': 'text/plain' }, body: '{"target":"folder"}',
      });
      return r.type;
    } catch (e) { return 'blocked'; }
  }, APP);
  assert.ok(['opaque', 'blocked'].includes(status));
  await evil.close();
  assert.ok(fs.existsSync(path.join(SANDBOX, 'hd', 'photos', 'u01.jpg')), 'still nothing removed');
});

test('security: an oversized upload is 413', async () => {
  const { cookie, csrf } = await sessionHeaders();
  const big = Buffer.alloc(3 * 1024 * 1024, 0xff);
  const r = await request(app('/api/uploads'), {
    method: 'POST', body: big,
    headers: { cookie, 'x-csrf-token': csrf, origin: BASE, 'content-type': 'application/octet-stream', 'content-length': big.length },
  });
  assert.ok(r.status === 413 || r.status === 0, `got ${r.status}`);
  if (r.status === 413) assert.equal(r.json.error.code, 'too-large');
});

test('security: answers carry a strict CSP', async () => {
  const r = await request(app('/api/session'));
  assert.match(r.headers['content-security-policy'], /default-src 'none'/);
  assert.doesNotMatch(r.headers['content-security-policy'], /unsafe-inline/);
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
});

// ------------------------------------------------------------ folder import

test('folder import: the plan, then confirm each with the current photos beside the new one', async () => {
  const folder = path.join(SANDBOX, 'incoming');
  await page.getByLabel('Folder on this computer').fill(folder);
  await page.getByRole('button', { name: 'Show plan' }).click();
  await page.locator('#plan-table').waitFor();
  const counts = await page.locator('#plan-counts').textContent();
  assert.match(counts, /7 files/);
  assert.match(counts, /1 unmatched/);
  assert.match(counts, /1 duplicates/);
  // The page's plan speaks to the page: no command-line flags; the user
  // without a mailbox is skipped at HD up front.
  const planText = await page.locator('#plan-table').textContent();
  assert.doesNotMatch(planText, /--[a-z]/, 'no CLI flag in the plan');
  const kiosk = page.locator('#plan-table tr', { hasText: 'Kiosk.Account.jpg' }).filter({ hasText: 'no mailbox' });
  assert.equal(await kiosk.getAttribute('data-action'), 'skipped');
  // Targets are named as the page names them (AD, HD), not by their
  // configuration section (ad, folder).
  assert.match(await kiosk.locator('td').nth(3).textContent(), /no mailbox in HD\b/);
  assert.doesNotMatch(planText, /\bin (ad|folder)\b/, 'no section names in the reasons');
  // The file that matches nobody: no user in the User column, its name in File.
  const nobody = page.locator('#plan-table tr[data-action=unmatched]');
  assert.equal(await nobody.count(), 1);
  const cells = await nobody.locator('td').allTextContents();
  assert.equal(cells[0], 'Nobody.Here.jpg');
  assert.equal(cells[1], '— no match');
  assert.match(cells[3], /matches nobody: no user has .*"Nobody\.Here" in AD, HD;/);
  const users = await page.locator('#plan-table tbody td:nth-child(2)').allTextContents();
  assert.ok(!users.some((u) => u.includes('Nobody')), `no user named after the file: ${users}`);
  // Pictures: each row to write shows the new photo (lazily loaded) beside
  // what its target holds now; the user without a mailbox says so.
  const setRows = page.locator('#plan-table tbody tr[data-action=set]');
  assert.ok(await setRows.count() >= 2);
  for (const row of await setRows.all()) {
    const img = row.locator('.plan-pics img').first();
    assert.equal(await img.getAttribute('loading'), 'lazy');
    assert.match(await img.getAttribute('src'), /preview\?file=/);
    assert.equal(await row.locator('.plan-pics .thumb').count(), 2, 'new and current, side by side');
  }
  await page.waitForFunction(() => {
    const img = document.querySelector('#plan-table tr[data-action=set] .plan-pics img');
    return img && img.complete && img.naturalWidth === 648;
  }, null, { timeout: 30000 });
  assert.match(await kiosk.locator('.plan-pics .thumb').nth(1).getAttribute('aria-label'), /Current HD photo: No mailbox/);
  assert.equal(await nobody.locator('.plan-pics .thumb').count(), 1, 'a file for nobody has no current photo');
  // The run button counts people, not writes; no other button is called Import.
  const people = new Set(await setRows.locator('td:nth-child(2)').allTextContents());
  assert.equal(await page.locator('#folder-run').textContent(), `Import photos for ${people.size} users`);
  const firstFile = (await setRows.first().locator('td').first().textContent());
  // Scrolled into view, every row's pictures load.
  await setRows.last().scrollIntoViewIfNeeded();
  await page.waitForFunction(() => [...document.querySelectorAll('#plan-table .plan-pics img')].every((i) => i.complete), null, { timeout: 30000 });
  await page.locator('#plan-title').scrollIntoViewIfNeeded();
  await shot('12-folder-plan');
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot('12-folder-plan-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  assert.equal(await page.getByLabel('Confirm each').isChecked(), true);
  await page.locator('#folder-run').click();
  const step = page.locator('.confirm-step');
  await step.waitFor({ timeout: 30000 });
  await page.waitForFunction(() => {
    const img = document.querySelector('.confirm-step figure img');
    return img && img.complete && img.naturalWidth === 648;
  }, null, { timeout: 30000 });
  // The first question is about the table's first person, counted as people.
  const question = await page.locator('#confirm-question').textContent();
  assert.equal(question.startsWith(`User 1 of ${people.size}: write ${firstFile} for `), true, `${question} (first: ${firstFile})`);
  assert.match(await page.locator('#folder-status').textContent(), new RegExp(`^User 1 of ${people.size}: ${firstFile.replace(/[.]/g, '\\.')} → .*waiting for your answer$`));
  assert.equal(await page.getByRole('button', { name: 'Stop' }).count(), 1, 'one Stop button');
  assert.equal(await page.getByRole('button', { name: 'Import', exact: true }).isVisible(), true);
  assert.equal(await step.getByRole('button', { name: /^Import/ }).count(), 0, 'no second button called Import');
  await shot('13-folder-confirm');
  await step.getByRole('button', { name: 'Yes, write' }).click();
  await page.waitForFunction(() => /^User 2 of/.test(document.getElementById('confirm-question')?.textContent || ''), null, { timeout: 30000 });
  await step.getByRole('button', { name: 'Skip' }).click();
  await page.waitForFunction(() => /^User 3 of/.test(document.getElementById('confirm-question')?.textContent || ''), null, { timeout: 30000 });
  await shot('13b-folder-confirm-third');
  await step.getByRole('button', { name: 'Yes to all the rest' }).click();
  await page.locator('#folder-report').waitFor({ timeout: 60000 });
  const status = await page.locator('#folder-status').textContent();
  assert.match(status, /Done: [1-9]\d* written/);
  assert.match(status, / 0 failed/, 'the user without a mailbox is skipped, not failed');
  await shot('14-folder-done');
  const report = await page.request.get(await page.evaluate(() => document.getElementById('folder-report').href));
  assert.equal(report.status(), 200);
  const json = await report.json();
  assert.ok(json.summary.written >= 1);
  assert.ok(json.items.some((i) => i.outcome === 'unmatched'));
  // The outcome stands beside each row of the plan.
  const result = (file, outcome) => page.locator(`#plan-table tbody tr[data-outcome="${outcome}"]`, { hasText: file });
  assert.equal(await page.locator('#plan-table thead th').nth(4).textContent(), 'Result');
  assert.ok(await result('', 'written').count() >= 1, 'written rows say so');
  assert.equal(await result('', 'failed').count(), 0);
});

test('folder import: a write that fails says why on its row, in the page\'s words', async () => {
  // Tim has a photo in AD and HD; the backup folder cannot be made (a
  // file has its name), so neither may be replaced.
  const backups = path.join(SANDBOX, 'backups');
  const kept = path.join(WORK, 'backups-kept-2');
  fs.mkdirSync(backups, { recursive: true });
  fs.renameSync(backups, kept);
  fs.writeFileSync(backups, 'not a folder');
  try {
    const dir = path.join(WORK, 'tim-again');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    fs.renameSync(await photoFile('Tim.Berners-Lee.png', 500, 500, [30, 90, 160]), path.join(dir, 'Tim.Berners-Lee.png'));
    await page.getByLabel('Folder on this computer').fill(dir);
    await page.getByRole('button', { name: 'Show plan' }).click();
    await page.waitForFunction(() => document.querySelector('#plan-counts')?.textContent.startsWith('1 file ·'), null, { timeout: 30000 });
    await page.getByLabel('Confirm each').uncheck();
    await page.locator('#folder-run').click();
    await page.locator('#folder-report').waitFor({ timeout: 60000 });
    assert.match(await page.locator('#folder-status').textContent(), / 2 failed/);
    const failed = page.locator('#plan-table tbody tr[data-outcome="failed"]');
    await failed.first().waitFor({ timeout: 10000 });
    assert.equal(await failed.count(), 2);
    const targets = [];
    for (const row of await failed.all()) {
      const cells = await row.locator('td').allTextContents();
      targets.push(cells[2]);
      assert.match(cells[4], /^failed: the current photo of Tim Berners-Lee \(u13\) could not be backed up, so nothing was changed: .*check that the folder exists and is writable/);
      assert.doesNotMatch(cells[4], /--[a-z]/);
    }
    assert.deepEqual(targets.sort(), ['AD', 'HD']);
    await shot('14b-folder-failed');
  } finally {
    fs.rmSync(backups, { force: true });
    fs.renameSync(kept, backups);
    await page.getByLabel('Confirm each').check();
  }
});

test('folder import: a folder chosen in the browser is uploaded and planned', async () => {
  const dir = path.join(SANDBOX, 'incoming');
  await page.locator('#folder-files').setInputFiles(dir);
  await page.waitForFunction(() => document.querySelector('#plan-counts')?.textContent.includes('7 files'), null, { timeout: 60000 });
  await shot('15-folder-uploaded');
});

test('folder import: a folder dropped on the box is walked (with its subfolders kept), uploaded and planned', async () => {
  // A real folder on disk, with subfolders, one name in two of them, and
  // hidden files.
  const dir = path.join(WORK, 'dropped-folder');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'more'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'again', '.hidden'), { recursive: true });
  const names = fs.readdirSync(path.join(SANDBOX, 'incoming')).sort();
  // The paths `import -r` shows for this folder.
  const files = names.map((f, i) => (i < 2 ? `more/${f}` : f));
  files.push(`again/${names[0]}`);
  for (const f of files) fs.copyFileSync(path.join(SANDBOX, 'incoming', path.basename(f)), path.join(dir, f));
  fs.writeFileSync(path.join(dir, '.DS_Store'), 'not a photo');
  fs.writeFileSync(path.join(dir, 'again', '.hidden', names[1]), 'hidden');
  await page.evaluate(() => { document.getElementById('folder-out').replaceChildren(); });

  // Drag it from "the desktop": Chromium's DevTools protocol dispatches an
  // operating-system drag carrying the folder's path, so the page gets a
  // real directory entry (what a person dragging from a file manager gives).
  const box = page.locator('#folder');
  await box.scrollIntoViewIfNeeded();
  const b = await box.boundingBox();
  const cdp = await context.newCDPSession(page);
  const data = { items: [], files: [dir], dragOperationsMask: 1 };
  for (const type of ['dragEnter', 'dragOver', 'drop']) {
    await cdp.send('Input.dispatchDragEvent', { type, x: b.x + b.width / 2, y: b.y + b.height / 2, data });
  }
  await cdp.detach();
  await page.waitForFunction(() => document.querySelector('#plan-counts')?.textContent.includes('files'), null, { timeout: 60000 });
  const counts = await page.locator('#plan-counts').textContent();
  assert.match(counts, new RegExp(`^${files.length} files`), `every photo, the subfolder's too, and no hidden file: ${counts}`);
  const planned = await page.locator('#plan-table tbody tr td:first-child').allTextContents();
  for (const f of files) assert.ok(planned.includes(f), `${f} is in the plan with its subfolder: ${planned}`);
  assert.ok(!planned.some((f) => f.includes('.DS_Store') || f.includes('.hidden')));
  await shot('19-folder-dropped');
});

test('a new sign-in link without a restart: the spent link says how, `userphoto demo --link` gives one that works once', async () => {
  const ctx2 = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const p2 = await ctx2.newPage();
  const spent = await p2.goto(URL0);
  assert.equal(spent.status(), 401, 'the printed link was spent by the first test');
  assert.match(await p2.locator('body').textContent(), /used already.*run `userphoto demo --link`.*keeps running/s);
  await p2.screenshot({ path: path.join(SHOTS, '40-link-spent.png') });
  // Asked of the running demo (its sandbox is the data folder), no restart.
  const out = execFileSync(BIN, ['demo', '--link', '--data', SANDBOX], { encoding: 'utf8', timeout: 60000 });
  const link = (out.match(/http:\/\/\S+token=[0-9a-f]+/) || [])[0];
  assert.ok(link, `demo --link printed a link: ${out}`);
  assert.notEqual(link, URL0);
  assert.equal(new URL(link).origin, BASE, 'the same server');
  assert.equal((await p2.goto(link)).status(), 200);
  await p2.waitForSelector('body[data-ready="true"]');
  assert.equal(await p2.locator('#demo-badge').isVisible(), true);
  // What was done in the first browser is there: the same server, kept.
  await p2.getByRole('combobox', { name: 'Select user' }).fill('gr');
  await p2.getByRole('option', { name: /Grace Hopper/ }).waitFor();
  for (const [w, hgt] of [[1280, 900], [1024, 700]]) {
    await p2.setViewportSize({ width: w, height: hgt });
    await p2.screenshot({ path: path.join(SHOTS, `41-link-new-${w}x${hgt}.png`) });
  }
  // Once: a third browser with the same link is refused.
  const ctx3 = await browser.newContext();
  const p3 = await ctx3.newPage();
  assert.equal((await p3.goto(link)).status(), 401);
  await ctx3.close();
  await ctx2.close();
  // The first browser's session still works.
  assert.equal((await page.request.get(app('/api/session'))).status(), 200);
});
