// YAML for the raw tab and the raw form of a body the studio has no form for: `emit` writes any
// JSON value as readable YAML; `parse` reads back the plain subset that `emit` and people
// usually write (block maps and lists, `{}`/`[]` flow style, quoted and plain scalars, `|`
// blocks, comments). Anything else (anchors, tags, folded `>`): `parse` throws and the server,
// which has a real YAML parser, is asked instead.

const RESERVED = /^(true|false|yes|no|on|off|null|~|y|n)$/i;
const PLAIN = /^[A-Za-z_][A-Za-z0-9_@.\-/]*( [A-Za-z0-9_@.\-/]+)*$/;

function scalar(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v);
  if (PLAIN.test(s) && !RESERVED.test(s)) return s;
  return JSON.stringify(s);
}

const key = (k) => (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) && !RESERVED.test(k) ? k : JSON.stringify(k));
const isScalar = (v) => v === null || typeof v !== 'object';

/** One line `{a: 1, b: x}` / `[1, 2]` when short and flat, else null. */
function flow(v) {
  if (Array.isArray(v)) {
    if (!v.every(isScalar)) return null;
    const s = `[${v.map(scalar).join(', ')}]`;
    return s.length <= 80 ? s : null;
  }
  const entries = Object.entries(v);
  if (entries.length === 0) return '{}';
  if (!entries.every(([, x]) => isScalar(x) || (Array.isArray(x) && x.length === 0))) return null;
  const s = `{${entries.map(([k, x]) => `${key(k)}: ${Array.isArray(x) ? '[]' : scalar(x)}`).join(', ')}}`;
  return s.length <= 90 ? s : null;
}

function lines(v, indent, out) {
  const pad = ' '.repeat(indent);
  if (Array.isArray(v)) {
    for (const item of v) {
      if (isScalar(item)) out.push(`${pad}- ${scalar(item)}`);
      else {
        const f = flow(item);
        if (f !== null) out.push(`${pad}- ${f}`);
        else if (Array.isArray(item)) {
          out.push(`${pad}-`);
          lines(item, indent + 2, out);
        } else {
          const sub = [];
          lines(item, indent + 2, sub);
          out.push(`${pad}- ${sub[0].slice(indent + 2)}`, ...sub.slice(1));
        }
      }
    }
    return;
  }
  for (const [k, x] of Object.entries(v)) {
    if (isScalar(x)) out.push(`${pad}${key(k)}: ${scalar(x)}`);
    else if (Array.isArray(x) && x.length === 0) out.push(`${pad}${key(k)}: []`);
    else {
      const f = Array.isArray(x) || Object.keys(x).length === 0 || indent >= 6 ? flow(x) : null;
      if (f !== null) out.push(`${pad}${key(k)}: ${f}`);
      else {
        out.push(`${pad}${key(k)}:`);
        lines(x, indent + 2, out);
      }
    }
  }
}

/** Any JSON value as YAML text (ending in a newline). */
export function emit(value) {
  if (isScalar(value)) return `${scalar(value)}\n`;
  const f = Array.isArray(value) && value.length === 0 ? '[]' : Object.keys(value).length === 0 ? '{}' : null;
  if (f) return `${f}\n`;
  const out = [];
  lines(value, 0, out);
  return `${out.join('\n')}\n`;
}

// ---- parse ----

class Fail extends Error {}

function plainValue(s) {
  if (/^(null|~)$/.test(s) || s === '') return null;
  if (/^(true|false)$/.test(s)) return s === 'true';
  if (/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/.test(s)) return Number(s);
  if (/^[&*!|>%@`]/.test(s) && !s.startsWith('@')) throw new Fail(`cannot read "${s}"`);
  return s;
}

/** Reads a flow-style value or quoted/plain scalar at text[i]; returns [value, next index]. */
function inline(text, i, stops) {
  while (text[i] === ' ') i++;
  const c = text[i];
  if (c === '"') {
    let j = i + 1;
    while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
    if (j >= text.length) throw new Fail('a "quoted" text is not closed');
    return [JSON.parse(text.slice(i, j + 1)), j + 1];
  }
  if (c === "'") {
    let j = i + 1;
    let s = '';
    for (;;) {
      if (j >= text.length) throw new Fail("a 'quoted' text is not closed");
      if (text[j] === "'" && text[j + 1] === "'") { s += "'"; j += 2; } else if (text[j] === "'") break;
      else s += text[j++];
    }
    return [s, j + 1];
  }
  if (c === '[' || c === '{') {
    const list = c === '[';
    const out = list ? [] : {};
    i++;
    for (;;) {
      while (text[i] === ' ') i++;
      if (text[i] === (list ? ']' : '}')) return [out, i + 1];
      if (list) {
        const [v, j] = inline(text, i, ',]');
        out.push(v);
        i = j;
      } else {
        const [k, j] = inline(text, i, ':,}');
        if (text[j] !== ':') throw new Fail(`"${k}" needs a ":"`);
        const [v, j2] = inline(text, j + 1, ',}');
        out[String(k)] = v;
        i = j2;
      }
      while (text[i] === ' ') i++;
      if (text[i] === ',') i++;
      else if (text[i] !== (list ? ']' : '}')) throw new Fail(`expected "," or "${list ? ']' : '}'}"`);
    }
  }
  let j = i;
  while (j < text.length && !stops.includes(text[j]) && !(text[j] === '#' && text[j - 1] === ' ')) {
    if (text[j] === ':' && stops.includes(':') && text[j + 1] !== ' ' && j + 1 < text.length && !',}'.includes(text[j + 1])) { j++; continue; }
    j++;
  }
  return [plainValue(text.slice(i, j).trim()), j];
}

function rest(s) {
  const [v, j] = inline(s, 0, '');
  const tail = s.slice(j).trim();
  if (tail && !tail.startsWith('#')) throw new Fail(`unexpected "${tail}"`);
  return v;
}

/** Splits `key: value` at the first ": " (or a trailing ":") outside quotes. */
function splitKey(s) {
  if (s[0] === '"' || s[0] === "'") {
    const [k, j] = inline(s, 0, '');
    if (s[j] !== ':') return null;
    return [String(k), s.slice(j + 1)];
  }
  const m = /^([^\s:#[\]{},][^:#]*?):(\s|$)/.exec(s);
  return m ? [m[1], s.slice(m[1].length + 1)] : null;
}

const skip = (ls, at) => {
  while (at < ls.length && ls[at].blank) at++;
  return at;
};

function block(ls, at, indent) {
  at = skip(ls, at);
  const first = ls[at];
  if (first.text.startsWith('- ') || first.text === '-') {
    const out = [];
    while ((at = skip(ls, at)) < ls.length && ls[at].indent === indent && (ls[at].text.startsWith('- ') || ls[at].text === '-')) {
      const after = ls[at].text.slice(1).trimStart();
      if (after === '') {
        const n = skip(ls, at + 1);
        const [v, next] = n < ls.length && ls[n].indent > indent ? block(ls, n, ls[n].indent) : [null, at + 1];
        out.push(v);
        at = next;
      } else {
        const inner = indent + (ls[at].text.length - after.length) + (ls[at].indent - indent);
        ls[at] = { indent: inner, text: after, raw: ls[at].raw };
        const [v, next] = splitKey(after) ? block(ls, at, inner) : [rest(after), at + 1];
        out.push(v);
        at = next;
      }
    }
    return [out, at];
  }
  const out = {};
  while ((at = skip(ls, at)) < ls.length && ls[at].indent === indent && !ls[at].text.startsWith('- ')) {
    const kv = splitKey(ls[at].text);
    if (!kv) throw new Fail(`line "${ls[at].raw.trim()}" is not "name: value"`);
    const [k, v] = kv;
    const val = v.trim();
    at++;
    if (val === '' || val.startsWith('#')) {
      const n = skip(ls, at);
      if (n < ls.length && (ls[n].indent > indent || (ls[n].indent === indent && ls[n].text.startsWith('- ')))) {
        const [x, next] = block(ls, n, ls[n].indent);
        out[k] = x;
        at = next;
      } else out[k] = null;
    } else if (/^\|[-+]?$/.test(val)) {
      const body = [];
      let bi = null;
      while (at < ls.length && (ls[at].blank || ls[at].indent > indent)) {
        if (bi === null && !ls[at].blank) bi = ls[at].indent;
        body.push(ls[at].blank ? '' : ls[at].raw.slice(bi));
        at++;
      }
      while (body.length && body[body.length - 1] === '') body.pop();
      out[k] = body.join('\n') + (val === '|-' ? '' : '\n');
    } else out[k] = rest(val);
  }
  return [out, at];
}

/** YAML text (the subset above) to a JSON value; throws an Error saying what it cannot read. */
export function parse(text) {
  const ls = [];
  for (const raw of String(text).replace(/\t/g, '  ').split('\n')) {
    const t = raw.trim();
    if (t === '') ls.push({ blank: true, indent: 0, text: '', raw });
    else if (!(t.startsWith('#') || t === '---')) ls.push({ indent: raw.length - raw.trimStart().length, text: t, raw });
  }
  const at0 = skip(ls, 0);
  if (at0 >= ls.length) return null;
  try {
    const only = ls.filter((l) => !l.blank);
    if (only.length === 1 && !splitKey(only[0].text) && !only[0].text.startsWith('- ')) return rest(only[0].text);
    const [v, at] = block(ls, at0, ls[at0].indent);
    const left = skip(ls, at);
    if (left < ls.length) throw new Fail(`line "${ls[left].raw.trim()}" is indented oddly`);
    return v;
  } catch (e) {
    if (e instanceof Fail || e instanceof SyntaxError) throw new Error(`Cannot read this YAML here: ${e.message}`);
    throw e;
  }
}
