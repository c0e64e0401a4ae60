// A simulator run as a transcript test (the `tests:` format of flow files), and a line diff
// read from a failed test's diff for showing expected against shown. Pure.

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

/**
 * The lines of a failed test's diff as the server writes it ("  - expected", "  + shown",
 * "    same"): `[{op: 'same'|'del'|'add', line}]`, for colouring.
 */
export function diffLines(diff) {
  return String(diff ?? '').replace(/\n$/, '').split('\n').map((line) => {
    const t = line.trimStart();
    const op = t.startsWith('- ') ? 'del' : t.startsWith('+ ') ? 'add' : 'same';
    return { op, line };
  });
}
