// The studio in a real Chromium, used the way a programme manager uses it (issue 13):
// sign in; build a two-language flow from nothing in a new file; publish it; see an over-long
// isiZulu screen flagged; fix it; simulate to the end; save the run as a test and run the
// tests; publish; an Africa's Talking callback answers the new menu within 2 s; roll back and
// it answers the old one; a second author's conflicting save is refused with a message.
// Screenshots go to screenshots/ (editor.png, simulator.png); figures are printed as JSON
// lines {"figure": "...", "ms": n} or {"figure": "...", "bytes": n}. Exits 1 with the failed step's name on any failure.
//
// Env: SEEDGATE_URL (http://127.0.0.1:8080), SEEDGATE_EMAIL/SEEDGATE_PASSWORD (a publisher),
// SEEDGATE_EMAIL2/SEEDGATE_PASSWORD2 (an author), SEEDGATE_AT_CHANNEL (an Africa's Talking
// USSD channel this script makes through the API with SEEDGATE_ADMIN_TOKEN once its flow,
// SEEDGATE_AT_FLOW (default studio_test), is published: a channel naming an unpublished flow
// is refused), SEEDGATE_AT_CODE (its service code, default *134*550#), CHROMIUM
// (/usr/bin/chromium), HEADED=1 to watch.

import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined || v === '') {
    console.error(`studio.mjs: set ${k}`);
    process.exit(2);
  }
  return v;
};
const BASE = env('SEEDGATE_URL', 'http://127.0.0.1:8080').replace(/\/$/, '');
const A = { email: env('SEEDGATE_EMAIL'), password: env('SEEDGATE_PASSWORD') };
const B = { email: env('SEEDGATE_EMAIL2'), password: env('SEEDGATE_PASSWORD2') };
const CHANNEL = env('SEEDGATE_AT_CHANNEL');
const FLOW = env('SEEDGATE_AT_FLOW', 'studio_test');
const CODE = env('SEEDGATE_AT_CODE', '*134*550#');
const ADMIN_TOKEN = env('SEEDGATE_ADMIN_TOKEN');
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
const SHOTS = path.join(here, 'screenshots');
const FILE = `studio-${Date.now().toString(36)}.yaml`;
const T = 15000;

const V1 = { eng: 'Welcome to Clinic Tips.', zul: 'Siyakwamukela ku-Clinic Tips.' };
const V2 = { eng: 'Clinic Tips: free advice for you and your baby.', zul: 'Clinic Tips: iseluleko samahhala kuwe nengane yakho.' };
const CHOICE_ZUL = 'Izikhathi zomtholampilo';
const TOO_LONG_ZUL = `${V2.zul} ${'Sicela ukhethe okukodwa kulokhu okulandelayo ukuze uqhubeke nokubhalisa kwakho. '.repeat(3)}`;

const figures = [];
const figure = (name, value, unit = 'ms') => {
  const line = { figure: name, [unit]: Math.round(value) };
  figures.push(line);
  console.log(JSON.stringify(line));
};

let current = 'start';
let pages = [];
async function step(name, f) {
  current = name;
  const t0 = performance.now();
  await f();
  console.log(`ok - ${name} (${Math.round(performance.now() - t0)} ms)`);
}

/**
 * What the browser received for the app's first load (its page, assets and API calls, not
 * the sign-in pages): bytes as they came over the wire (compressed bodies plus headers).
 */
function countFirstLoad(page) {
  const sizes = [];
  const listener = (res) => {
    const u = new URL(res.url());
    const app = u.pathname === '/studio/' || u.pathname.startsWith('/api/')
      || (u.pathname.startsWith('/studio/assets/') && !u.pathname.endsWith('/login.css'));
    if (app) sizes.push(res.request().sizes().then((z) => ({ url: u.pathname, body: z.responseBodySize, headers: z.responseHeadersSize })).catch(() => ({ url: u.pathname, body: 0, headers: 0 })));
  };
  page.on('response', listener);
  return async () => {
    page.off('response', listener);
    const all = await Promise.all(sizes);
    return { files: all.length, body: all.reduce((a, z) => a + z.body, 0), total: all.reduce((a, z) => a + z.body + z.headers, 0) };
  };
}

async function signIn(page, who) {
  await page.goto(`${BASE}/studio/`);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/studio\/(password)?(\?.*)?$/, { timeout: T });
  if (new URL(page.url()).pathname === '/studio/password') {
    // A one-time password: choose a new one (current, new, confirm).
    const fresh = `${who.password}-Studio-${Math.random().toString(36).slice(2, 8)}`;
    const boxes = page.locator('input[type=password]');
    await boxes.nth(0).fill(who.password);
    await boxes.nth(1).fill(fresh);
    await boxes.nth(2).fill(fresh);
    await page.locator('form button[type=submit], form input[type=submit]').first().click();
    await page.waitForURL((u) => u.pathname === '/studio/', { timeout: T });
    who.password = fresh;
  }
  await page.waitForSelector('body[data-ready="true"]', { timeout: T });
}

const node = (page, id) => page.locator(`[data-testid="node-${id}"]`);
const side = (page) => page.locator('#side');

async function saved(page) {
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.waitForFunction(() => document.querySelector('[data-testid="save-state"]')?.dataset.dirty === 'false', null, { timeout: T });
}

async function noErrors(page) {
  await page.waitForFunction(() => /No problems found|Problems: 0 errors/.test(document.querySelector('#problems-title')?.textContent || ''), null, { timeout: T });
}

async function publish(page) {
  await page.getByRole('tab', { name: 'Versions' }).click();
  await page.getByRole('button', { name: 'Publish the draft' }).click();
  await page.locator('[data-testid="versions-message"]', { hasText: 'Publishing: done.' }).waitFor({ timeout: T });
  return performance.now();
}

async function rollback(page) {
  await page.getByRole('tab', { name: 'Versions' }).click();
  await page.getByRole('button', { name: 'Roll back to the version before' }).click();
  await page.locator('[data-testid="versions-message"]', { hasText: 'Rolling back: done.' }).waitFor({ timeout: T });
  return performance.now();
}

/** POST /api/v1/channels for CHANNEL running FLOW: the status it answers, and its body. */
async function makeChannel() {
  const res = await fetch(`${BASE}/api/v1/channels`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ name: CHANNEL, type: 'africastalking-ussd', flow: FLOW }),
  });
  return [res.status, await res.text()];
}

/** The channel's callback, as Africa's Talking calls it, until it shows `line` (at most 2 s). */
async function callbackShows(line, since) {
  let last = '';
  for (;;) {
    const res = await fetch(`${BASE}/channels/${encodeURIComponent(CHANNEL)}/callback`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ sessionId: `studio-${Date.now()}-${Math.random().toString(36).slice(2)}`, phoneNumber: '+27820000001', serviceCode: CODE, text: '' }),
    });
    last = `${res.status} ${await res.text()}`;
    if (last.startsWith('200 CON ') && last.slice(8).split('\n')[0] === line) return performance.now() - since;
    if (performance.now() - since > 2000) throw new Error(`the callback did not answer "CON ${line}…" within 2 s of publishing; last answer: ${last.slice(0, 200)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM)`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: !process.env.HEADED, args: ['--no-sandbox'] });
  try {
    const ctxA = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await ctxA.newPage();
    pages = [page];
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));

    await step('sign in', async () => {
      const firstLoad = countFirstLoad(page);
      await signIn(page, A);
      const z = await firstLoad();
      figure('first_load_bytes', z.total, 'bytes');
      figure('first_load_body_bytes', z.body, 'bytes');
      if (z.total > 300000) throw new Error(`the first load took ${z.total} bytes over ${z.files} responses; at most 300 KB`);
    });

    await step('a second load comes from the cache', async () => {
      const again = countFirstLoad(page);
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]', { timeout: T });
      const z = await again();
      figure('reload_bytes', z.total, 'bytes');
    });

    await step('the registration flow opens and is editable', async () => {
      // In the page: from the navigation's start until the map's boxes are there and the app
      // is ready (a click opens a form); then, by the driver, until the form is open.
      await page.addInitScript(() => {
        const seen = () => {
          if (window.__editable || document.body?.dataset.ready !== 'true' || !document.querySelector('[data-testid="node-consent"]')) return;
          window.__editable = performance.now();
        };
        new MutationObserver(seen).observe(document, { subtree: true, childList: true, attributes: true });
      });
      const t0 = performance.now();
      await page.goto(`${BASE}/studio/?file=registration.yaml`);
      await node(page, 'consent').click({ timeout: T });
      await side(page).getByLabel('What the screen says — English').waitFor({ timeout: T });
      figure('registration_form_open_ms', performance.now() - t0);
      figure('registration_flow_editable_ms', await page.evaluate(() => window.__editable));
    });

    await step('build a two-language flow from nothing in a new file', async () => {
      await page.getByRole('button', { name: 'New file', exact: true }).click();
      const dlg = page.getByRole('dialog', { name: 'New flow file' });
      await dlg.getByLabel('File name').fill(FILE.replace(/\.yaml$/, ''));
      await dlg.getByLabel('isiZulu', { exact: true }).check();
      await dlg.getByLabel('Name of the first flow').fill(FLOW);
      await dlg.getByLabel('Runs over').selectOption('ussd');
      await dlg.getByRole('button', { name: 'Create' }).click();
      await node(page, 'welcome').click({ timeout: T });
      const s = side(page);
      await s.getByLabel('What the screen says — English').fill(V1.eng);
      await s.getByLabel('What the screen says — isiZulu').fill(V1.zul);
      await s.getByLabel('Choice 1 — English').fill('Clinic times');
      await s.getByLabel('Choice 1 — isiZulu').fill(CHOICE_ZUL);
      await s.getByLabel('Choice 1: then go to').selectOption({ label: '+ New last screen' });
      await node(page, 'goodbye').click({ timeout: T });
      await s.getByLabel('The last screen says — English').fill('Clinics open 8:00 to 16:00 on weekdays.');
      await s.getByLabel('The last screen says — isiZulu').fill('Imitholampilo ivula ngo-8:00 kuya ku-16:00 phakathi nesonto.');
      await noErrors(page);
      await saved(page);
    });

    await step('publish the first version; a channel made for it then answers it', async () => {
      const [refused, why] = await makeChannel();
      if (refused !== 422 || !why.includes('unknown_flow')) throw new Error(`a channel naming the unpublished flow: ${refused} ${why}`);
      await publish(page);
      const [made, body] = await makeChannel();
      if (made !== 201) throw new Error(`the channel, once its flow is published: ${made} ${body}`);
      figure('channel_to_live_ms', await callbackShows(V1.eng, performance.now()));
      await page.getByRole('tab', { name: 'Map' }).click();
    });

    await step('an over-long isiZulu screen is flagged as it is typed', async () => {
      await node(page, 'welcome').click();
      const s = side(page);
      await s.getByLabel('What the screen says — English').fill(V2.eng);
      await page.waitForFunction(() => !document.querySelector('[data-testid="node-welcome"]')?.classList.contains('has-errors'), null, { timeout: T });
      // Typed up to one character under the limit (182, less "\n1. " and the choice), then
      // one keystroke more: from that key to the count turning red, and to the server's flag.
      const zul = s.getByLabel('What the screen says — isiZulu');
      const room = 182 - [...`\n1. ${CHOICE_ZUL}`].length;
      await zul.fill(TOO_LONG_ZUL.slice(0, room).trimEnd().padEnd(room, 'a'));
      await page.waitForFunction(() => !document.querySelector('[data-testid="node-welcome"]')?.classList.contains('has-errors'), null, { timeout: T });
      if (await s.locator('[data-testid="count-zul"].over').count()) throw new Error('a screen of exactly 182 characters is flagged');
      await page.waitForTimeout(500);
      const checks = Number(await page.evaluate(() => document.body.dataset.checks || 0));
      // Timed in the page, from the key's event to the count's and the map's class (the
      // driver's own waits poll, adding up to ~0.5 s that nobody at the keyboard sees).
      await page.evaluate(() => {
        const w = { key: 0, over: 0, flagged: 0 };
        window.__typing = w;
        document.addEventListener('keydown', () => { w.key = performance.now(); }, { capture: true, once: true });
        const seen = () => {
          if (!w.key) return;
          if (!w.over && document.querySelector('[data-testid="count-zul"].over')) w.over = performance.now();
          if (!w.flagged && document.querySelector('[data-testid="node-welcome"].has-errors')) w.flagged = performance.now();
        };
        new MutationObserver(seen).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['class'] });
      });
      const t0 = performance.now();
      await zul.press('a');
      await s.locator('[data-testid="count-zul"].over').first().waitFor({ timeout: T });
      await page.locator('[data-testid="node-welcome"].has-errors').waitFor({ timeout: T });
      const typed = await page.evaluate(() => window.__typing);
      figure('local_count_flags_ms', typed.over - typed.key);
      figure('validation_while_typing_ms', typed.flagged - typed.key);
      figure('validation_while_typing_driver_ms', performance.now() - t0);
      await page.waitForFunction((n) => Number(document.body.dataset.checks) > n, checks);
      figure('check_round_trip_ms', Number(await page.evaluate(() => document.body.dataset.lastCheckMs)));
      const text = await page.locator('[data-testid="problems"]').textContent();
      if (!/zul/i.test(text)) throw new Error(`the problem list does not name isiZulu: ${text}`);
    });

    await step('fix it', async () => {
      await side(page).getByLabel('What the screen says — isiZulu').fill(V2.zul);
      await page.waitForFunction(() => !document.querySelector('[data-testid="node-welcome"]')?.classList.contains('has-errors'), null, { timeout: T });
      await noErrors(page);
      await saved(page);
      await page.screenshot({ path: path.join(SHOTS, 'editor.png') });
    });

    await step('the Raw YAML tab shows the file as the server writes it, and reads an edit back', async () => {
      await page.getByRole('tab', { name: 'Raw YAML' }).click();
      const raw = page.getByLabel('The whole file as YAML');
      await page.waitForFunction(() => /studio_test:[\s\S]*Clinics open 8:00 to 16:00/.test(document.querySelector('#raw-text')?.value || ''), null, { timeout: T });
      await raw.fill((await raw.inputValue()).replace('8:00 to 16:00', '8:00 to 16:30'));
      await page.getByRole('tab', { name: 'Map' }).click();
      await node(page, 'goodbye').click({ timeout: T });
      const eng = side(page).getByLabel('The last screen says — English');
      if (!(await eng.inputValue()).includes('16:30')) throw new Error(`the edit in the YAML did not reach the form: ${await eng.inputValue()}`);
      await saved(page);
    });

    await step('simulate to the end', async () => {
      const sim = page.locator('[data-testid="simulator"]');
      await sim.getByTestId('sim-dial').click();
      await sim.locator('[data-testid="phone-screen"]', { hasText: V2.eng }).waitFor({ timeout: T });
      await node(page, 'welcome').and(page.locator('.active')).waitFor({ timeout: T });
      await sim.screenshot({ path: path.join(SHOTS, 'simulator.png') });
      await sim.getByLabel('Your reply').fill('1');
      await sim.getByRole('button', { name: 'Send', exact: true }).click();
      await sim.getByTestId('sim-ended').waitFor({ timeout: T });
      await sim.locator('[data-testid="phone-screen"]', { hasText: 'Clinics open' }).waitFor({ timeout: T });
    });

    await step('save the run as a test, and run the tests', async () => {
      const sim = page.locator('[data-testid="simulator"]');
      await sim.getByLabel('Test name').fill('clinic times');
      await sim.getByTestId('sim-save-test').click();
      await sim.getByText('Saved as the test “clinic times”.').waitFor({ timeout: T });
      await sim.getByTestId('run-tests').click();
      await sim.getByTestId('test-results').getByText(/^1 passed, 0 failed$/).waitFor({ timeout: T });
    });

    await step('publish; the callback answers the new menu within 2 s', async () => {
      const t = await publish(page);
      figure('publish_to_live_ms', await callbackShows(V2.eng, t));
    });

    await step('roll back; the callback answers the old menu', async () => {
      const t = await rollback(page);
      figure('rollback_to_live_ms', await callbackShows(V1.eng, t));
      await page.getByRole('tab', { name: 'Map' }).click();
    });

    await step('a second author’s conflicting save is refused with a message', async () => {
      const ctxB = await browser.newContext({ viewport: { width: 1366, height: 768 } });
      const pageB = await ctxB.newPage();
      pages.push(pageB);
      await signIn(pageB, B);
      await pageB.goto(`${BASE}/studio/?file=${FILE}`);
      await node(pageB, 'goodbye').click({ timeout: T });
      await node(page, 'goodbye').click();
      await side(page).getByLabel('The last screen says — English').fill('Clinics open 7:30 to 16:00 on weekdays.');
      await saved(page);
      await side(pageB).getByLabel('The last screen says — English').fill('Clinics open 8:00 to 17:00 on weekdays.');
      await pageB.getByRole('button', { name: 'Save', exact: true }).click();
      const dlg = pageB.getByTestId('conflict');
      await dlg.waitFor({ state: 'visible', timeout: T });
      const text = await dlg.textContent();
      if (!text.includes(A.email)) throw new Error(`the conflict message does not say who saved first: ${text}`);
      await dlg.getByRole('button', { name: 'Keep mine as a copy' }).click();
      await pageB.locator('#status', { hasText: 'saved as a new file' }).waitFor({ timeout: T });
      await ctxB.close();
    });

    if (errors.length) throw new Error(`the page reported errors: ${errors.join('; ')}`);
    console.log(`studio: ${figures.length} figures; all steps passed`);
  } catch (e) {
    for (const [i, p] of pages.entries()) {
      const file = path.join(SHOTS, `failure-${i + 1}.png`);
      await p.screenshot({ path: file }).then(() => console.error(`  screenshot of the failure: ${file}`), () => {});
    }
    throw e;
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(`FAILED at step "${current}": ${String(e.message || e).split('\n')[0]}`);
  process.exit(1);
});
