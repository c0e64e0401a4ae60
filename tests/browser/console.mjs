// The operator console in a real Chromium (issue 16): an operator signs in at /console/ and
// sees demo-at ok (and no tokens: those are an admin's); an author is refused the console; an
// admin revokes an API token there, whose next call answers 401, and the revocation is in the
// audit trail on the page; an operator replays a dead webhook once its endpoint is back, and
// the endpoint gets the call. Prints {"figure": "console_first_load_bytes", "bytes": n}.
//
// Env: SEEDGATE_URL, SEEDGATE_OPERATOR / SEEDGATE_AUTHOR / SEEDGATE_ADMIN (email:one-time
// password), SEEDGATE_TOKEN (an API token with `send`, named `registry`), SEEDGATE_HOOK_PORT
// (where demo-at's inbound webhook goes: nothing listens there until the replay), CHROMIUM.

import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { chromium } from 'playwright-core';

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined || v === '') {
    console.error(`console.mjs: set ${k}`);
    process.exit(2);
  }
  return v;
};
const BASE = env('SEEDGATE_URL').replace(/\/$/, '');
const who = (k) => {
  const [email, password] = env(k).split(':');
  return { email, password };
};
const OPERATOR = who('SEEDGATE_OPERATOR');
const AUTHOR = who('SEEDGATE_AUTHOR');
const ADMIN = who('SEEDGATE_ADMIN');
const TOKEN = env('SEEDGATE_TOKEN');
const HOOK_PORT = Number(env('SEEDGATE_HOOK_PORT'));
const T = 15000;

let current = 'start';
async function step(name, f) {
  current = name;
  const t0 = performance.now();
  await f();
  console.log(`ok - ${name} (${Math.round(performance.now() - t0)} ms)`);
}

/** Signs in at /console/ (a one-time password is replaced first); lands where the server sends. */
async function signIn(page, user) {
  await page.goto(`${BASE}/console/`);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password', { exact: true }).fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/studio/password' || u.pathname === '/console/', { timeout: T });
  if (new URL(page.url()).pathname === '/studio/password') {
    const fresh = `${user.password}-Console-${Math.random().toString(36).slice(2, 8)}`;
    const boxes = page.locator('input[type=password]');
    await boxes.nth(0).fill(user.password);
    await boxes.nth(1).fill(fresh);
    await boxes.nth(2).fill(fresh);
    await page.locator('form button[type=submit], form input[type=submit]').first().click();
    await page.waitForURL((u) => u.pathname === '/console/', { timeout: T });
    user.password = fresh;
  }
}

async function send(token) {
  const res = await fetch(`${BASE}/api/v1/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ channel: 'demo-sms', to: '+27820000701', content: 'Your clinic visit is on Monday.' }),
  });
  return res.status;
}

async function main() {
  const browser = await chromium.launch({ executablePath: env('CHROMIUM', '/usr/bin/chromium'), headless: !process.env.HEADED });
  try {
    await step('an operator signs in and sees demo-at ok, and no tokens', async () => {
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      const sizes = [];
      page.on('response', (res) => {
        const u = new URL(res.url());
        if (u.pathname === '/console/' || u.pathname.startsWith('/studio/assets/') || u.pathname.startsWith('/api/')) {
          sizes.push(res.request().sizes().then((z) => z.responseBodySize + z.responseHeadersSize).catch(() => 0));
        }
      });
      await signIn(page, OPERATOR);
      await page.waitForSelector('body[data-ready="true"]', { timeout: T });
      await page.locator('[data-testid="status-demo-at"]', { hasText: 'ok' }).waitFor({ timeout: T });
      if (await page.locator('#tokens').isVisible()) throw new Error('an operator sees the tokens');
      const bytes = (await Promise.all(sizes)).reduce((a, b) => a + b, 0);
      console.log(JSON.stringify({ figure: 'console_first_load_bytes', bytes }));
      if (bytes > 300 * 1024) throw new Error(`first load ${bytes} bytes, over 300 KB`);
      await ctx.close();
    });

    await step('an author cannot open the console', async () => {
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      await signIn(page, AUTHOR);
      const h1 = await page.locator('h1').first().textContent();
      if (!/Not for your role/.test(h1 ?? '')) throw new Error(`an author got: ${h1}`);
      const res = await page.goto(`${BASE}/console/`);
      if (res.status() !== 403) throw new Error(`an author's /console/ answered ${res.status()}`);
      await ctx.close();
    });

    await step('an admin revokes a token; its next call answers 401; the trail shows it', async () => {
      if ((await send(TOKEN)) !== 202) throw new Error('the token works before');
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      page.on('dialog', (d) => d.accept());
      await signIn(page, ADMIN);
      await page.waitForSelector('body[data-ready="true"]', { timeout: T });
      const revoke = page.getByRole('button', { name: /^Revoke token registry/ });
      await revoke.click();
      await page.locator('#status', { hasText: 'Token "registry" revoked.' }).waitFor({ timeout: T });
      const code = await send(TOKEN);
      if (code !== 401) throw new Error(`the revoked token's next call answered ${code}`);
      await page.locator('[data-testid="audit"] tbody tr', { hasText: 'token.revoke' }).filter({ hasText: ADMIN.email }).first().waitFor({ timeout: T });
      await page.locator('[data-testid="tokens"] tbody tr', { hasText: 'registry' }).filter({ hasText: 'revoked' }).waitFor({ timeout: T });
      await ctx.close();
    });

    await step('an operator replays a dead webhook once its endpoint is back', async () => {
      // A dial on demo-at: its inbound webhook goes where nothing listens, and dies.
      const dial = await fetch(`${BASE}/channels/demo-at/callback`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ sessionId: 'console-1', phoneNumber: '+27820000702', serviceCode: '*134*550#', text: '' }),
      });
      if (dial.status !== 200) throw new Error(`the dial answered ${dial.status}`);
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      await page.goto(`${BASE}/console/`);
      await page.getByLabel('Email').fill(OPERATOR.email);
      await page.getByLabel('Password', { exact: true }).fill(OPERATOR.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForSelector('body[data-ready="true"]', { timeout: T });
      const row = page.locator('[data-testid="dead"] tbody tr', { hasText: 'demo-at' });
      for (let i = 0; !(await row.count()); i++) {
        if (i > 40) throw new Error('no dead webhook listed for demo-at');
        await page.reload();
        await page.waitForSelector('body[data-ready="true"]', { timeout: T });
      }
      const got = [];
      const server = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c) => { body += c; });
        req.on('end', () => { got.push(body); res.writeHead(200); res.end('ok'); });
      });
      await new Promise((r) => server.listen(HOOK_PORT, '127.0.0.1', r));
      try {
        await page.getByRole('button', { name: /^Replay the inbound webhook of demo-at/ }).first().click();
        await page.locator('#status', { hasText: 'is queued again' }).waitFor({ timeout: T });
        for (let i = 0; got.length === 0; i++) {
          if (i > 100) throw new Error('the endpoint never got the replayed call');
          await new Promise((r) => setTimeout(r, 100));
        }
        if (!got[0].includes('console-1')) throw new Error(`the replayed call: ${got[0].slice(0, 200)}`);
        await page.locator('[data-testid="audit"] tbody tr', { hasText: 'webhook.replay' }).first().waitFor({ timeout: T });
      } finally {
        server.close();
      }
      await ctx.close();
    });
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(`not ok - ${current}: ${e.stack ?? e}`);
  process.exit(1);
});
