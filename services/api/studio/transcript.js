// A simulator run as a transcript test (the `tests:` format of flow files), and a line diff
// for showing a failed test's expected screen against the actual one. Pure.

/**
 * `run` = {name, code, contact?, stubs?: {node: {status, body}}, steps: [{kind: 'dial'|'input'|
 * 'timeout', input?, screen?: {text, continue}, sms?: [text]}]}. Every screen is expected
 * exactly as it was shown; SMS the step sent are expected too.
 */
export function buildTranscript(run) {
  const t = { name: run.name };
  const contact = run.contact || {};
  const c = {};
  if (contact.language) c.language = contact.language;
  if (contact.fields && Object.keys(contact.fields).length) c.fields = { ...contact.fields };
  if (contact.groups && contact.groups.length) c.groups = [...contact.groups];
  if (Object.keys(c).length) t.contact = c;
  if (run.stubs && Object.keys(run.stubs).length) t.webhooks = structuredClone(run.stubs);
  t.steps = run.steps.map((s) => {
    const step = {};
    if (s.kind === 'dial') step.dial = run.code;
    else if (s.kind === 'timeout') step.timeout = true;
    else step.input = String(s.input ?? '');
    if (s.screen) {
      const expect = { continue: Boolean(s.screen.continue), screen: s.screen.text };
      if (s.sms && s.sms.length) expect.sms = [...s.sms];
      step.expect = expect;
    }
    return step;
  });
  return t;
}

/** A test name not yet used among `tests`. */
export function uniqueTestName(tests, base) {
  const names = new Set((tests || []).map((t) => t.name));
  if (!names.has(base)) return base;
  for (let i = 2; ; i++) if (!names.has(`${base} (${i})`)) return `${base} (${i})`;
}

/** Lines of `a` (expected) against `b` (actual): `[{op: 'same'|'del'|'add', line}]`. */
export function lineDiff(a, b) {
  const x = String(a ?? '').split('\n');
  const y = String(b ?? '').split('\n');
  const n = x.length;
  const m = y.length;
  const lcs = Array.from({ length: n + 1 }, () => new Array(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) { out.push({ op: 'same', line: x[i] }); i++; j++; } else if (lcs[i + 1][j] >= lcs[i][j + 1]) out.push({ op: 'del', line: x[i++] });
    else out.push({ op: 'add', line: y[j++] });
  }
  while (i < n) out.push({ op: 'del', line: x[i++] });
  while (j < m) out.push({ op: 'add', line: y[j++] });
  return out;
}
