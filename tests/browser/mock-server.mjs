// A stand-in for the gateway's studio API (coord/API.md), for working on the studio's pages
// and on studio.mjs without building seedgate. It is NOT the server and tests nothing of it:
// its validator and interpreter are toys (menus, questions, ends, jumps, web calls).
//
//   node tests/browser/mock-server.mjs [port]    (default 8099; users a@x / b@x, password "pw")

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, emit as emitYaml } from '../../services/api/studio/yaml.js';
import { screenCounts } from '../../services/api/studio/count.js';
import { bodyOf, edges, languages, missingLanguages, textIn } from '../../services/api/studio/doc.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const studio = path.join(here, '../../services/api/studio');
const root = path.join(here, '../..');
const port = Number(process.argv[2] || 8099);

const users = {
  'a@x': { password: 'pw', role: 'publisher', must_change: false },
  'b@x': { password: 'pw', role: 'author', must_change: false },
  'new@x': { password: 'once', role: 'publisher', must_change: true },
};
const sessions = new Map();
const files = new Map();
const now = () => new Date().toISOString();

for (const f of ['demo.yaml', 'registration.yaml']) {
  const text = fs.readFileSync(path.join(root, 'flows', f), 'utf8');
  files.set(f, { text, doc: parseYaml(text), revision: 1, updated_by: 'import', updated_at: now(), layout: {}, versions: [{ number: 1, text, doc: parseYaml(text), published_by: 'import', published_at: now() }], live: 1, audit: [{ action: 'import', actor: 'import', revision: 1, version: 1, at: now() }] });
}
const channels = [{ name: 'demo-at', type: 'africastalking', flow: 'demo', max_screen_chars: 182 }, { name: 'momconnect-at', type: 'africastalking', flow: 'registration', max_screen_chars: 182 }, { name: 'studio-at', type: 'africastalking', flow: 'studio_test', max_screen_chars: 182 }];

function report(doc) {
  const errors = [];
  const warnings = [];
  const screens = [];
  const paths = {};
  const langs = languages(doc);
  for (const [fname, flow] of Object.entries(doc.flows || {})) {
    const nodes = flow.nodes || {};
    if (!nodes[flow.start]) errors.push({ file: null, line: null, flow: fname, node: null, message: `start \`${flow.start}\` is not a node` });
    for (const [id, node] of Object.entries(nodes)) {
      const b = bodyOf(node);
      if (b.kind === 'none') errors.push({ flow: fname, node: id, message: `node \`${id}\` has no body` });
      for (const e of edges({ nodes: { [id]: node } })) {
        if (!e.to.startsWith('flow:') && !nodes[e.to]) errors.push({ flow: fname, node: id, message: `node \`${id}\` goes to \`${e.to}\`, which does not exist` });
      }
      const texts = [];
      if (b.kind === 'menu') texts.push(b.value.text, ...(b.value.options || []).map((o) => o.label));
      if (b.kind === 'ask' || b.kind === 'end') texts.push(b.value.text);
      for (const t of texts) {
        const miss = typeof t === 'object' && t ? missingLanguages(t, langs) : t === '' ? langs : [];
        if (miss.length) errors.push({ flow: fname, node: id, message: `a text of \`${id}\` has no translation in ${miss.join(', ')}` });
      }
      const counts = flow.channel !== 'sms' ? screenCounts(node, langs) : null;
      for (const [l, n] of Object.entries(counts || {})) {
        screens.push({ flow: fname, node: id, language: l, chars: n, limit: 182 });
        if (n > 182) errors.push({ flow: fname, node: id, message: `the screen of \`${id}\` is ${n} characters in \`${l}\`, over the 182 a USSD screen shows` });
      }
    }
    const out = [];
    const walk = (id, seen) => {
      const node = nodes[id];
      if (!node || seen.includes(id) || out.length > 50) return;
      const p = [...seen, id];
      if (bodyOf(node).kind === 'end') {
        const n = p.filter((x) => ['menu', 'ask', 'end'].includes(bodyOf(nodes[x]).kind)).length;
        out.push({ end: id, screens: n, secs: n * 10, slices: Math.max(1, Math.ceil((n * 10) / 20)), path: p });
      }
      for (const e of edges({ nodes: { [id]: node } })) walk(e.to, p);
    };
    walk(flow.start, []);
    paths[fname] = out;
  }
  return { errors, warnings, paths, screens };
}

function enter(doc, flowName, id, st, stub, effects) {
  const flow = doc.flows[flowName];
  const lang = (st.contact && st.contact.language) || languages(doc)[0];
  const base = languages(doc)[0];
  for (let i = 0; i < 50; i++) {
    const node = flow.nodes[id];
    st.entered.push(id);
    st.node = id;
    const b = bodyOf(node);
    for (const a of node.actions || []) effects.push(`action: ${Object.keys(a)[0]}`);
    if (b.kind === 'menu') return { text: textIn(b.value.text, lang, base) + b.value.options.map((o) => `\n${o.key}. ${textIn(o.label, lang, base)}`).join(''), continue: true };
    if (b.kind === 'ask') return { text: textIn(b.value.text, lang, base), continue: true };
    if (b.kind === 'end') return { text: textIn(b.value.text, lang, base), continue: false };
    if (b.kind === 'goto') id = b.value;
    else if (b.kind === 'webhook') {
      st.webhook = { url: b.value.url, stubbed: true, status: stub ? stub.status : 200 };
      id = (stub ? stub.status : 200) < 300 ? b.value.on_success : b.value.on_failure;
    } else if (b.kind === 'switch') id = b.value.other;
    else return { text: `(the mock cannot run ${b.kind})`, continue: false };
  }
  return { text: 'loop', continue: false };
}

function simulate(doc, req) {
  const flowName = req.flow;
  const flow = doc.flows[flowName];
  const st = { entered: [], contact: req.contact || {}, node: req.state && req.state.node, webhook: null };
  const effects = [];
  let screen;
  if (!req.state) screen = enter(doc, flowName, flow.start, st, req.stub, effects);
  else if (req.timeout) screen = { text: '', continue: false };
  else {
    const node = flow.nodes[req.state.node];
    const b = bodyOf(node);
    if (b.kind === 'menu') {
      const o = b.value.options.find((x) => String(x.key) === String(req.input).trim());
      if (o) screen = enter(doc, flowName, o.goto, st, req.stub, effects);
      else {
        screen = enter(doc, flowName, req.state.node, st, req.stub, effects);
        screen.text = `${textIn(flow.invalid_choice, languages(doc)[0], languages(doc)[0]) || 'Sorry, that is not one of the options.'}\n${screen.text}`;
      }
    } else if (b.kind === 'ask') screen = enter(doc, flowName, b.value.goto || b.value.other, st, req.stub, effects);
    else screen = { text: '', continue: false };
  }
  const pages = [];
  const t = screen.text;
  if ([...t].length > 182) {
    pages.push(`${[...t].slice(0, 170).join('')}\n98. More`, [...t].slice(170).join(''));
  } else pages.push(t);
  return { screen: { ...screen, pages }, flow: flowName, node: st.node, state: { flow: flowName, node: st.node }, entered: st.entered, effects, webhook: st.webhook, contact: { msisdn: '+27000000000', ...st.contact }, results: {} };
}

function runTests(doc) {
  const results = [];
  for (const [fname, flow] of Object.entries(doc.flows || {})) {
    for (const t of flow.tests || []) {
      let st = null;
      let res = { flow: fname, name: t.name, passed: true, step: null, expected: null, actual: null };
      for (const [i, s] of (t.steps || []).entries()) {
        const out = simulate(doc, { flow: fname, state: s.dial ? null : st, input: s.input, timeout: s.timeout, contact: t.contact, stub: Object.values(t.webhooks || {})[0] });
        st = out.state;
        const e = s.expect || {};
        const text = out.screen.text;
        const bad = (e.continue !== undefined && e.continue !== out.screen.continue) || (e.screen !== undefined && e.screen.trimEnd() !== text.trimEnd()) || (e.contains !== undefined && !text.includes(e.contains));
        if (bad) {
          res = { ...res, passed: false, step: i + 1, expected: e.screen ?? e.contains ?? String(e.continue), actual: text };
          break;
        }
      }
      results.push(res);
    }
  }
  return results;
}

const json = (res, status, body, headers = {}) => {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
};
const err = (res, status, code, message, extra = {}) => json(res, status, { error: { code, message }, ...extra });
const readBody = (req) => new Promise((ok) => {
  let b = '';
  req.on('data', (c) => { b += c; });
  req.on('end', () => ok(b));
});
const form = (s) => Object.fromEntries(new URLSearchParams(s));
const page = (title, body) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;
const loginPage = (next, msg = '') => page('Sign in', `${msg ? `<p role="alert">${msg}</p>` : ''}<form method="post" action="/studio/login"><input type="hidden" name="next" value="${next}"><label for="e">Email</label><input id="e" name="email" type="email"><label for="p">Password</label><input id="p" name="password" type="password"><button type="submit">Sign in</button></form>`);

function session(req) {
  const m = /sg_session=([a-f0-9]+)/.exec(req.headers.cookie || '');
  return m ? sessions.get(m[1]) : null;
}

function hashes() {
  const out = {};
  const walk = (dir, rel) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules') continue;
      const p = path.join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p, r);
      else out[`v_${r.replace(/[^A-Za-z0-9]/g, '_')}`] = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex').slice(0, 12);
    }
  };
  walk(studio, '');
  return out;
}

const TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html', '.txt': 'text/plain' };

async function handle(req, res) {
  const url = new URL(req.url, `http://${req.headers.host}`);
  const p = url.pathname;
  const s = session(req);
  if (p === '/studio/login' && req.method === 'GET') return res.end(loginPage(url.searchParams.get('next') || '/studio/'));
  if (p === '/studio/login' && req.method === 'POST') {
    const f = form(await readBody(req));
    const u = users[f.email];
    if (!u || u.password !== f.password) { res.writeHead(401, { 'Content-Type': 'text/html' }); return res.end(loginPage(f.next, 'Wrong email or password.')); }
    const id = crypto.randomBytes(16).toString('hex');
    sessions.set(id, { email: f.email, csrf: crypto.randomBytes(8).toString('hex') });
    res.writeHead(303, { Location: u.must_change ? '/studio/password' : f.next || '/studio/', 'Set-Cookie': `sg_session=${id}; HttpOnly; SameSite=Strict; Path=/` });
    return res.end();
  }
  if (p === '/studio/password') {
    if (!s) { res.writeHead(303, { Location: '/studio/login' }); return res.end(); }
    if (req.method === 'POST') {
      const f = form(await readBody(req));
      users[s.email].password = f.new;
      users[s.email].must_change = false;
      res.writeHead(303, { Location: '/studio/' });
      return res.end();
    }
    return res.end(page('Choose your password', `<form method="post"><label for="c">Current password</label><input id="c" name="current" type="password"><label for="n">New password</label><input id="n" name="new" type="password"><label for="k">Confirm new password</label><input id="k" name="confirm" type="password"><button type="submit">Save password</button></form>`));
  }
  if (p === '/studio/logout' && req.method === 'POST') {
    res.writeHead(303, { Location: '/studio/login' });
    return res.end();
  }
  if (p === '/studio/' || p === '/studio') {
    if (!s) { res.writeHead(303, { Location: `/studio/login?next=${encodeURIComponent(p + url.search)}` }); return res.end(); }
    const vars = { ...hashes(), csrf: s.csrf, email: s.email, role: users[s.email].role };
    const html = fs.readFileSync(path.join(studio, 'index.html'), 'utf8').replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k) => vars[k] ?? '');
    res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'", 'Cache-Control': 'no-cache' });
    return res.end(html);
  }
  if (p.startsWith('/studio/assets/')) {
    const rel = path.normalize(decodeURIComponent(p.slice('/studio/assets/'.length)));
    const file = path.join(studio, rel);
    if (!file.startsWith(studio) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) { res.writeHead(404); return res.end(); }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream', 'Cache-Control': url.searchParams.has('v') ? 'public, max-age=31536000, immutable' : 'no-cache' });
    return res.end(fs.readFileSync(file));
  }
  const cb = /^\/channels\/([^/]+)\/callback$/.exec(p);
  if (cb && req.method === 'POST') {
    const ch = channels.find((c) => c.name === cb[1]);
    const f = form(await readBody(req));
    const entry = [...files.values()].find((x) => x.versions.length && x.versions.find((v) => v.number === x.live).doc.flows[ch.flow]);
    if (!entry) { res.writeHead(404); return res.end('END no flow'); }
    const doc = entry.versions.find((v) => v.number === entry.live).doc;
    const out = simulate(doc, { flow: ch.flow });
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    return res.end(`${out.screen.continue ? 'CON' : 'END'} ${out.screen.text}${f.text ? '' : ''}`);
  }
  if (!p.startsWith('/api/v1/')) return err(res, 404, 'not_found', 'no such page');
  if (!s) return err(res, 401, 'unauthorized', 'your session has expired; sign in again');
  if (req.method !== 'GET' && req.headers['x-csrf-token'] !== s.csrf) return err(res, 403, 'csrf', 'missing or wrong CSRF token');
  const role = users[s.email].role;
  const raw = req.method === 'GET' ? '' : await readBody(req);
  const body = raw ? JSON.parse(raw) : {};
  if (p === '/api/v1/me') return json(res, 200, { email: s.email, role, csrf: s.csrf, must_change: false });
  if (p === '/api/v1/channels') return json(res, 200, { channels });
  if (p === '/api/v1/flows') {
    return json(res, 200, { files: [...files.entries()].map(([file, f]) => ({ file, revision: f.revision, updated_by: f.updated_by, updated_at: f.updated_at, published: f.versions.length > 0, published_at: f.versions.length ? f.versions[f.versions.length - 1].published_at : null, flows: Object.keys(f.doc.flows || {}), errors: report(f.doc).errors.length, warnings: 0 })) });
  }
  if (p === '/api/v1/simulate') {
    const f = files.get(body.file);
    const doc = body.source === 'published' ? f.versions.find((v) => v.number === f.live).doc : f.doc;
    return json(res, 200, simulate(doc, body));
  }
  const m = /^\/api\/v1\/flows\/([^/]+)(?:\/(.+))?$/.exec(p);
  if (!m) return err(res, 404, 'not_found', 'no such route');
  const name = decodeURIComponent(m[1]);
  const sub = m[2] || '';
  const f = files.get(name);
  const docOf = (b) => (b.doc ? b.doc : parseYaml(b.text));
  if (!sub && req.method === 'GET') {
    if (!f) return err(res, 404, 'not_found', `no file ${name}`);
    return json(res, 200, { file: name, revision: f.revision, updated_by: f.updated_by, updated_at: f.updated_at, text: f.text, doc: f.doc, layout: f.layout, published: f.versions.length > 0, report: report(f.doc) });
  }
  if (!sub && req.method === 'PUT') {
    await new Promise((ok) => setTimeout(ok, 50));
    const base = body.base_revision ?? 0;
    if ((f ? f.revision : 0) !== base) return err(res, 409, 'conflict', `${f.updated_by} saved this file first, at ${f.updated_at}.`, { current: { revision: f.revision, updated_by: f.updated_by, updated_at: f.updated_at, text: f.text } });
    const doc = docOf(body);
    const rec = f || { versions: [], audit: [], layout: {}, revision: 0 };
    Object.assign(rec, { doc, text: body.text || emitYaml(doc), revision: rec.revision + 1, updated_by: s.email, updated_at: now() });
    rec.audit.push({ action: 'save', actor: s.email, revision: rec.revision, at: now() });
    files.set(name, rec);
    return json(res, f ? 200 : 201, { file: name, revision: rec.revision, updated_by: s.email, updated_at: rec.updated_at, report: report(doc) });
  }
  if (sub === 'check') return json(res, 200, { report: report(docOf(body)) });
  if (!f) return err(res, 404, 'not_found', `no file ${name}`);
  if (sub === 'layout') { f.layout = body.positions; res.writeHead(204); return res.end(); }
  if (sub === 'publish' || sub === 'rollback') {
    if (!['publisher', 'admin'].includes(role)) return err(res, 403, 'forbidden', 'only a publisher can publish');
    if (sub === 'publish') {
      if (report(f.doc).errors.length) return err(res, 409, 'invalid_flow', 'the draft has errors', { report: report(f.doc) });
      const v = { number: f.versions.length + 1, text: f.text, doc: f.doc, published_by: s.email, published_at: now() };
      f.versions.push(v);
      f.live = v.number;
    } else {
      const prev = f.versions.find((v) => v.number === f.live - 1) || f.versions[0];
      const v = { ...prev, number: f.versions.length + 1, published_by: s.email, published_at: now() };
      f.versions.push(v);
      f.live = v.number;
    }
    f.audit.push({ action: sub, actor: s.email, version: f.live, at: now() });
    return json(res, 200, { version: { number: f.live, published_by: s.email, published_at: now() } });
  }
  if (sub === 'versions') return json(res, 200, { versions: f.versions.map((v) => ({ number: v.number, seq: v.number, published_by: v.published_by, published_at: v.published_at, live: v.number === f.live })), audit: f.audit });
  const rv = /^versions\/(\d+)\/restore$/.exec(sub);
  if (rv) {
    const v = f.versions.find((x) => x.number === Number(rv[1]));
    Object.assign(f, { doc: v.doc, text: v.text, revision: f.revision + 1, updated_by: s.email, updated_at: now() });
    f.audit.push({ action: 'restore', actor: s.email, version: v.number, at: now() });
    return json(res, 200, { file: name, revision: f.revision, text: f.text, doc: f.doc, layout: f.layout, report: report(f.doc) });
  }
  if (sub === 'tests') return json(res, 200, { results: runTests(f.doc) });
  if (sub === 'preview') {
    const set = f.doc.message_sets[body.set];
    const start = new Date(body.start_date);
    return json(res, 200, { messages: set.messages.map((msg, i) => {
      const mm = /^([+-]?)(\d+)([dw])$/.exec(msg.offset || '0d');
      const days = (mm[1] === '-' ? -1 : 1) * Number(mm[2]) * (mm[3] === 'w' ? 7 : 1);
      return { index: i, date: new Date(start.getTime() + days * 864e5).toISOString(), texts: typeof msg.text === 'string' ? { eng: msg.text } : msg.text };
    }), window: set.window, time_zone: (set.window || {}).timezone });
  }
  if (sub.startsWith('stats')) {
    const flow = f.doc.flows[url.searchParams.get('flow')];
    const es = edges(flow).map((e, i) => ({ from: e.from, to: e.to, count: 100 - i * 7 }));
    return json(res, 200, { flow: url.searchParams.get('flow'), days: Number(url.searchParams.get('days')), sessions: 120, completed: 80, completion_rate: 0.667, avg_slices: 2.4, edges: es, ends: Object.keys(flow.nodes).map((n, i) => ({ node: n, count: i * 3 })), started: [{ node: flow.start, count: 120 }] });
  }
  return err(res, 404, 'not_found', 'no such route');
}

http.createServer((req, res) => handle(req, res).catch((e) => { console.error(e); err(res, 500, 'internal', e.message); })).listen(port, '127.0.0.1', () => console.log(`mock gateway on http://127.0.0.1:${port}/studio/`));
