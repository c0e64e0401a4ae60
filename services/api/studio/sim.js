// The phone simulator: dial the flow's code and read each screen exactly as the channel
// shows it (its pages, "more" included), answer, watch the session clock and 20 s slices;
// SMS flows as a chat with the wait fast-forwarded. The server runs the real interpreter on
// the draft or the published version against a pretend contact. A run can be saved as a test.

import { h, clear, say, langName } from './dom.js';
import { api } from './api.js';
import { languages } from './doc.js';
import { buildTranscript, uniqueTestName, diffLines } from './transcript.js';
import { state, emit, change } from './state.js';

const sim = {
  run: null,
  source: 'draft',
  webhooks: 'stub',
  stubStatus: 200,
  stubBody: '{"id": "TEST-1"}',
  language: '',
  code: '',
  timer: null,
};
let root = null;
let ctx = null;

function flowName() {
  return sim.flow && state.doc && state.doc.flows && state.doc.flows[sim.flow] ? sim.flow : state.flow;
}

function isSms() {
  const f = state.doc && state.doc.flows && state.doc.flows[flowName()];
  return f && f.channel === 'sms';
}

function defaultCode() {
  const f = state.doc && state.doc.flows && state.doc.flows[flowName()];
  for (const t of (f && f.tests) || []) for (const s of t.steps || []) if (s.dial) return s.dial;
  const ch = state.channels.find((c) => c.flow === flowName());
  return (ch && (ch.service_code || ch.code)) || '*134*550#';
}

function channelFor() {
  const ch = state.channels.find((c) => c.flow === flowName());
  return ch ? ch.name : undefined;
}

/** The key that shows the next page, read from a page's last line ("98. More"). */
export function moreKey(page) {
  const last = String(page || '').trim().split('\n').pop() || '';
  const m = /^([0-9#*]{1,3})[.:)]?\s+\S/.exec(last);
  return m ? m[1] : null;
}

function clock() {
  const r = sim.run;
  if (!r) return '';
  const secs = Math.floor(((r.endedAt || performance.now()) - r.startedAt) / 1000);
  const slices = Math.max(1, Math.ceil(secs / 20) || 1);
  return `Session ${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')} · ${slices} × 20 s slice${slices === 1 ? '' : 's'} used`;
}

function tick() {
  const el = root && root.querySelector('[data-testid="sim-clock"]');
  if (el) el.textContent = clock();
}

async function step(kind, input) {
  const r = sim.run;
  const body = {
    file: state.file.file, source: sim.source, flow: r.flow, webhooks: sim.webhooks,
    ...(channelFor() ? { channel: channelFor() } : {}),
    ...(kind !== 'dial' ? { state: r.state } : {}),
    ...(kind === 'input' ? { input } : {}),
    ...(kind === 'timeout' ? { timeout: true, state: r.state } : {}),
    ...(sim.language ? { contact: { language: sim.language } } : {}),
  };
  if (sim.webhooks === 'stub') {
    let parsed = {};
    try {
      parsed = sim.stubBody.trim() ? JSON.parse(sim.stubBody) : {};
    } catch {
      r.error = 'The pretend answer is not valid JSON.';
      draw();
      return;
    }
    body.stub = { status: Number(sim.stubStatus) || 200, body: parsed };
  }
  r.busy = true;
  draw();
  let res;
  try {
    res = await api.simulate(body);
  } catch (e) {
    r.busy = false;
    r.error = e.message;
    draw();
    return;
  }
  r.busy = false;
  r.error = null;
  r.state = res.state;
  const screen = res.screen || null;
  const calls = res.webhooks || [];
  r.steps.push({ kind, input, screen });
  for (const c of calls) if (c.stubbed && c.node) r.stubs[c.node] = body.stub;
  r.screen = screen;
  r.page = 0;
  r.effects = res.effects || [];
  r.webhooks = calls;
  if (sms()) {
    if (kind === 'input') r.chat.push({ who: 'me', text: input });
    if (screen && screen.text) r.chat.push({ who: 'flow', text: screen.text });
  }
  // `entered`: every {flow, node} this step went through; the map lights the shown flow's.
  r.trail.push(...(res.entered || []).filter((e) => e.flow === (res.flow || r.flow)).map((e) => e.node));
  state.active = { flow: res.flow || r.flow, node: res.node, trail: [...r.trail] };
  emit('active');
  if (!screen || !screen.continue) {
    r.ended = true;
    r.endedAt = performance.now();
    clearInterval(sim.timer);
  }
  draw();
  root.querySelector(r.ended ? '[data-testid="sim-save-test"], [data-testid="sim-dial"]' : '#sim-reply')?.focus();
}

const sms = () => isSms();

function dial() {
  clearInterval(sim.timer);
  sim.run = { flow: flowName(), startedAt: performance.now(), steps: [], trail: [], stubs: {}, chat: [], state: null, page: 0, ended: false };
  sim.timer = setInterval(tick, 1000);
  step('dial');
}

function reply(text) {
  const r = sim.run;
  if (!r || r.ended || r.busy) return;
  const pages = (r.screen && r.screen.pages) || [];
  if (!sms() && pages.length > 1 && r.page < pages.length - 1 && moreKey(pages[r.page]) === text.trim()) {
    r.page += 1;
    draw();
    root.querySelector('#sim-reply')?.focus();
    return;
  }
  step('input', text);
}

async function saveAsTest(name) {
  const r = sim.run;
  const f = r.flow;
  const tests = (state.doc.flows[f] && state.doc.flows[f].tests) || [];
  const t = buildTranscript({
    name: uniqueTestName(tests, name || 'a run from the phone'), code: sim.code || defaultCode(),
    contact: sim.language ? { language: sim.language } : {}, stubs: r.stubs, steps: r.steps,
  });
  change((d) => {
    d.flows[f].tests = d.flows[f].tests || [];
    d.flows[f].tests.push(t);
  });
  const ok = await ctx.save();
  say(ok ? `Saved the run as the test “${t.name}”.` : 'The test is added to the flow; saving it failed — see the message above.', ok ? 'ok' : 'error');
  sim.savedTest = ok ? t.name : null;
  draw();
}

async function runTests() {
  sim.results = { busy: true };
  draw();
  try {
    const res = await api.tests(state.file.file);
    sim.results = { list: res.results || [] };
  } catch (e) {
    sim.results = { error: e.message };
  }
  draw();
}

function results() {
  const r = sim.results;
  if (!r) return null;
  if (r.busy) return h('p', { role: 'status' }, 'Running the tests…');
  if (r.error) return h('p', { class: 'error', role: 'alert' }, r.error);
  const failed = r.list.filter((x) => !x.passed).length;
  return h('div', { class: 'results', 'data-testid': 'test-results' },
    h('p', { role: 'status' }, r.list.length ? `${r.list.length - failed} passed, ${failed} failed` : 'This file has no tests yet.'),
    h('ul', {}, r.list.map((x) => h('li', { class: x.passed ? 'pass' : 'fail' },
      h('span', {}, `${x.passed ? '✓' : '✗'} ${x.flow}: ${x.name}`),
      x.passed ? null : h('div', { class: 'diff', 'aria-label': `Expected against actual, step ${x.step}` },
        h('p', {}, x.step ? `At step ${x.step}: lines with − were expected, lines with + came instead.` : 'After the last step: lines with − were expected, lines with + came instead.'),
        h('pre', {}, diffLines(x.diff).map((d) => h('span', { class: d.op }, `${d.line}\n`))))))));
}

function options() {
  const langs = languages(state.doc);
  const flows = Object.keys((state.doc && state.doc.flows) || {});
  const radio = (name, value, label, cur, set) => h('label', { class: 'radio' },
    h('input', { type: 'radio', name, value, checked: cur === value, onchange: () => { set(value); draw(); } }), label);
  return h('details', { class: 'sim-options' }, h('summary', {}, 'Phone settings'),
    flows.length > 1 ? h('div', { class: 'field' }, h('label', { for: 'sim-flow' }, 'Flow'),
      h('select', { id: 'sim-flow', onchange: (e) => { sim.flow = e.target.value; sim.code = ''; draw(); } }, flows.map((f) => h('option', { value: f, selected: f === flowName() }, f)))) : null,
    h('fieldset', {}, h('legend', {}, 'Which version'),
      radio('sim-source', 'draft', 'The draft (being written)', sim.source, (v) => { sim.source = v; }),
      radio('sim-source', 'published', 'The published (live) one', sim.source, (v) => { sim.source = v; })),
    h('div', { class: 'field' }, h('label', { for: 'sim-lang' }, 'The pretend mother reads'),
      h('select', { id: 'sim-lang', onchange: (e) => { sim.language = e.target.value; } },
        h('option', { value: '', selected: sim.language === '' }, 'The flow chooses'),
        langs.map((l) => h('option', { value: l, selected: sim.language === l }, langName(l))))),
    h('fieldset', {}, h('legend', {}, 'Calls to other systems (webhooks)'),
      radio('sim-hooks', 'stub', 'Pretend, with this answer', sim.webhooks, (v) => { sim.webhooks = v; }),
      radio('sim-hooks', 'real', 'Call them for real', sim.webhooks, (v) => { sim.webhooks = v; }),
      sim.webhooks === 'stub' ? h('div', { class: 'grid2' },
        h('div', { class: 'field' }, h('label', { for: 'sim-stub-status' }, 'Answer status'), h('input', { id: 'sim-stub-status', type: 'number', value: sim.stubStatus, oninput: (e) => { sim.stubStatus = e.target.value; } })),
        h('div', { class: 'field' }, h('label', { for: 'sim-stub-body' }, 'Answer (JSON)'), h('textarea', { id: 'sim-stub-body', rows: 2, class: 'code', oninput: (e) => { sim.stubBody = e.target.value; } }, sim.stubBody))) : null));
}

function phone() {
  const r = sim.run;
  const pages = (r && r.screen && r.screen.pages) || [];
  const text = r && r.screen ? (pages.length ? pages[Math.min(r.page, pages.length - 1)] : r.screen.text) : '';
  const screen = sms() && r
    ? h('ol', { class: 'chat', 'aria-label': 'Messages', 'aria-live': 'polite', 'data-testid': 'phone-screen' }, r.chat.map((m) => h('li', { class: m.who }, h('span', { class: 'sr' }, m.who === 'me' ? 'You: ' : 'Flow: '), m.text)))
    : h('pre', { class: 'screen', 'aria-live': 'polite', 'aria-label': 'Phone screen', 'data-testid': 'phone-screen', tabindex: 0 },
      r ? (r.busy && !text ? 'Dialling…' : text || (r.ended ? 'Session ended.' : '')) : 'Dial the code to start.');
  const kids = [screen];
  if (r && pages.length > 1 && !sms()) kids.push(h('p', { class: 'pages', 'data-testid': 'phone-pages' }, `Page ${r.page + 1} of ${pages.length}${r.page < pages.length - 1 ? ` — reply ${moreKey(pages[r.page]) || 'the more key'} for the next` : ''}`));
  kids.push(h('p', { class: 'clock', 'data-testid': 'sim-clock' }, clock()));
  if (r && r.ended) kids.push(h('p', { class: 'ended', 'data-testid': 'sim-ended' }, r.screen && r.screen.continue === false ? 'The session has ended.' : 'The session was dropped.'));
  if (r && r.error) kids.push(h('p', { class: 'error', role: 'alert' }, r.error));
  return h('div', { class: `phone${sms() ? ' sms' : ''}` }, kids);
}

function controls() {
  const r = sim.run;
  const out = [];
  if (!r || r.ended) {
    const code = h('input', { id: 'sim-code', value: sim.code || defaultCode(), autocomplete: 'off', oninput: (e) => { sim.code = e.target.value; } });
    out.push(h('form', { class: 'inline', onsubmit: (e) => { e.preventDefault(); sim.code = code.value; dial(); } },
      h('label', { for: 'sim-code' }, sms() ? 'Keyword or code' : 'Number to dial'), code,
      h('button', { type: 'submit', 'data-testid': 'sim-dial' }, sms() ? 'Start' : 'Dial')));
  } else {
    const input = h('input', { id: 'sim-reply', autocomplete: 'off', inputmode: sms() ? 'text' : 'tel', disabled: r.busy });
    out.push(h('form', { class: 'inline', onsubmit: (e) => { e.preventDefault(); const v = input.value; input.value = ''; reply(v); } },
      h('label', { for: 'sim-reply' }, 'Your reply'), input, h('button', { type: 'submit', disabled: r.busy }, 'Send')));
    out.push(h('button', { type: 'button', onclick: () => step('timeout') }, sms() ? 'Fast-forward the wait' : 'The network drops the call'));
  }
  for (const w of (r && r.webhooks) || []) out.push(h('p', { class: 'hint' }, `Web call to ${w.url}: ${w.stubbed ? 'pretended' : 'called'}, answered ${w.status || 'nothing'}.`));
  if (r && r.effects && r.effects.length) out.push(h('details', {}, h('summary', {}, 'What happened behind the scenes'), h('ul', {}, r.effects.map((e) => h('li', {}, e)))));
  if (r && r.ended && r.steps.length) {
    const name = h('input', { id: 'sim-test-name', value: `${r.flow} run ${new Date().toLocaleTimeString()}` });
    out.push(h('form', { class: 'inline', onsubmit: (e) => { e.preventDefault(); saveAsTest(name.value.trim()); } },
      h('label', { for: 'sim-test-name' }, 'Test name'), name, h('button', { type: 'submit', 'data-testid': 'sim-save-test' }, 'Save as test')));
  }
  if (sim.savedTest) out.push(h('p', { class: 'ok', role: 'status' }, `Saved as the test “${sim.savedTest}”.`));
  out.push(h('button', { type: 'button', 'data-testid': 'run-tests', onclick: runTests }, 'Run tests'), results());
  return out;
}

export function draw() {
  if (!root) return;
  clear(root);
  root.append(h('h2', { id: 'sim-title' }, 'Try it on a phone'));
  if (!state.file) {
    root.append(h('p', { class: 'hint' }, 'Open a flow file to try it.'));
    return;
  }
  if (state.dirty && sim.source === 'draft') {
    root.append(h('p', { class: 'warning', role: 'status' }, 'The phone runs the last saved draft: ', h('button', { type: 'button', class: 'link', onclick: () => ctx.save() }, 'save now'), ' to try your changes.'));
  }
  root.append(options(), phone(), ...controls().filter(Boolean));
}

export function initSim(el, context) {
  root = el;
  ctx = context;
  draw();
}

export function resetSim() {
  clearInterval(sim.timer);
  sim.run = null;
  sim.results = null;
  sim.savedTest = null;
  sim.flow = null;
  sim.code = '';
  state.active = null;
  draw();
}
