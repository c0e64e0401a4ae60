// Form widgets bound to a place in the document: a labelled input, a text in every language
// side by side with its live count, a "what comes next" chooser, and list editing.

import { h, langName, nextId } from './dom.js';
import { addNode, bodyOf, getAt, setAt, languages, missingLanguages, KINDS } from './doc.js';
import { screenCounts, chars, smsParts, retryCount } from './count.js';
import { state, change } from './state.js';

/** Functions that redraw every count in the open form (called after each keystroke). */
let counters = [];
export const resetCounters = () => {
  counters = [];
};
export const refreshCounts = () => counters.forEach((f) => f());

export function field(label, input, hint) {
  const id = input.id || nextId();
  input.id = id;
  const kids = [h('label', { for: id }, label), input];
  if (hint) {
    const hid = `${id}-hint`;
    input.setAttribute('aria-describedby', hid);
    kids.push(h('p', { class: 'hint', id: hid }, hint));
  }
  return h('div', { class: 'field' }, kids);
}

/** A text/number/textarea input bound to `path`. */
export function bound(label, path, opts = {}) {
  const { type = 'text', hint, placeholder, parse, show } = opts;
  const cur = show ? show(getAt(state.doc, path)) : getAt(state.doc, path);
  const el = type === 'textarea'
    ? h('textarea', { rows: opts.rows || 3, 'data-path': path.join('/'), placeholder })
    : h('input', { type, 'data-path': path.join('/'), placeholder, inputmode: type === 'number' ? 'numeric' : null });
  el.value = cur === undefined || cur === null ? '' : String(cur);
  const read = parse || (type === 'number' ? (v) => (v.trim() === '' ? undefined : Number(v)) : (v) => v);
  el.addEventListener('input', () => change((d) => setAt(d, path, read(el.value)), { key: path.join('/'), form: false }));
  return field(label, el, hint);
}

/** A yes/no box bound to `path`; unticked removes the key. */
export function checkbox(label, path, onValue = true) {
  const el = h('input', { type: 'checkbox', 'data-path': path.join('/'), checked: getAt(state.doc, path) === onValue });
  el.addEventListener('change', () => change((d) => setAt(d, path, el.checked ? onValue : undefined)));
  const id = nextId();
  el.id = id;
  return h('div', { class: 'field check' }, el, h('label', { for: id }, label));
}

export function select(label, path, options, opts = {}) {
  const cur = getAt(state.doc, path) ?? opts.default ?? '';
  const el = h('select', { 'data-path': path.join('/') }, options.map(([v, t]) => h('option', { value: v, selected: v === cur }, t)));
  if (!options.some(([v]) => v === cur)) el.prepend(h('option', { value: cur, selected: true }, `${cur} (not known here)`));
  el.addEventListener('change', () => change((d) => setAt(d, path, opts.parse ? opts.parse(el.value) : el.value)));
  return field(label, el, opts.hint);
}

function exactChars(nodeId, lang) {
  const s = ((state.report || {}).screens || []).find((x) => x.flow === state.flow && x.node === nodeId && x.language === lang);
  return s || null;
}

/**
 * A text in every language of the file, side by side. `screen` = the node path when this
 * text is part of a USSD screen (the count is then the whole screen's, options included);
 * `sms` counts SMS parts instead.
 */
export function textField(label, path, { screen = null, sms = false, rows = 3, retry = false } = {}) {
  const langs = languages(state.doc);
  const t = getAt(state.doc, path);
  const wrap = h('fieldset', { class: 'text-field' }, h('legend', {}, label));
  const perLang = langs.length > 1 && !(typeof t === 'string' && t !== '');
  const box = (lang) => {
    const id = nextId('t');
    const value = perLang ? (t && typeof t === 'object' ? t[lang] ?? '' : '') : typeof t === 'string' ? t : (t && t[langs[0]]) || '';
    const ta = h('textarea', { id, rows: Math.min(7, Math.max(rows, Math.ceil(chars(value) / 26))), 'data-path': [...path, perLang ? lang : ''].join('/'), lang: lang === 'zul' ? 'zu' : lang === 'eng' ? 'en' : null, 'aria-describedby': `${id}-count` });
    ta.value = value;
    ta.addEventListener('input', () => change((d) => {
      if (perLang) {
        const cur = getAt(d, path);
        setAt(d, path, { ...(cur && typeof cur === 'object' ? cur : {}), [lang]: ta.value });
      } else setAt(d, path, ta.value);
    }, { key: ta.dataset.path, form: false }));
    const count = h('p', { class: 'count', id: `${id}-count`, 'aria-live': 'polite', 'data-testid': `count-${lang}` });
    const name = perLang ? `${label} — ${langName(lang)}` : langs.length > 1 ? `${label} (every language)` : label;
    const update = () => {
      const doc = state.doc;
      const missing = perLang && missingLanguages(getAt(doc, path), [lang]).length > 0;
      const parts = [];
      let over = false;
      if (screen) {
        const node = getAt(doc, screen);
        const counts = screenCounts(node, langs) || {};
        const shown = perLang ? [lang] : langs;
        for (const l of shown) {
          const n = counts[l] ?? 0;
          const exact = exactChars(screen[screen.length - 1], l);
          const limit = exact && exact.limit ? exact.limit : state.limit;
          const real = exact && exact.chars !== n ? ` (${exact.chars} on the phone)` : '';
          const bad = Math.max(n, exact ? exact.chars : 0) > limit;
          over = over || bad;
          parts.push(`${shown.length > 1 ? `${langName(l)}: ` : ''}screen ${n}${real} of ${limit} characters${bad ? ` — too long by ${Math.max(n, exact ? exact.chars : 0) - limit}` : ''}`);
          if (retry) {
            const r = retryCount(node, l, langs[0]);
            if (r !== null && r > limit) {
              over = true;
              parts.push(`with the error above it: ${r} — too long by ${r - limit}`);
            }
          }
        }
      } else if (sms) {
        const v = ta.value;
        const p = smsParts(v);
        parts.push(`${chars(v)} characters · ${p.parts} SMS${p.parts === 1 ? '' : ' parts'}${p.encoding === 'UCS-2' ? ' (special characters make SMS shorter)' : ''}`);
      } else parts.push(`${chars(ta.value)} characters`);
      if (missing) parts.unshift('Missing translation.');
      count.textContent = parts.join(' · ');
      count.classList.toggle('over', over);
      col.classList.toggle('missing', missing);
      col.classList.toggle('over', over);
      ta.setAttribute('aria-invalid', over || missing ? 'true' : 'false');
    };
    const col = h('div', { class: 'lang-col' }, h('label', { for: id }, name), ta, count);
    counters.push(update);
    update();
    return col;
  };
  const cols = h('div', { class: 'lang-cols' }, (perLang ? langs : [langs[0]]).map(box));
  wrap.append(cols);
  if (langs.length > 1 && !perLang) {
    wrap.append(h('button', {
      type: 'button', class: 'link',
      onclick: () => change((d) => setAt(d, path, Object.fromEntries(langs.map((l) => [l, typeof t === 'string' ? t : ''])))),
    }, 'Write it in each language'));
  }
  return wrap;
}

/** What comes next: a screen of this flow, another flow, or a new screen made on the spot. */
export function nextSelect(label, path, { allowNone = false } = {}) {
  const flow = state.doc.flows[state.flow];
  const cur = getAt(state.doc, path) ?? '';
  const opts = [h('option', { value: '' }, allowNone ? '— nothing —' : '— choose what comes next —')];
  const nodes = Object.keys(flow.nodes || {});
  for (const id of nodes) {
    const b = bodyOf(flow.nodes[id]);
    opts.push(h('option', { value: id, selected: id === cur }, `${id} (${b.known ? KINDS[b.kind].name : b.kind})`));
  }
  for (const other of Object.keys(state.doc.flows).filter((f) => f !== state.flow)) {
    opts.push(h('option', { value: `flow:${other}`, selected: cur === `flow:${other}` }, `Start the flow ${other}`));
  }
  if (cur && !nodes.includes(cur) && !cur.startsWith('flow:')) opts.push(h('option', { value: cur, selected: true }, `${cur} (missing!)`));
  for (const k of ['menu', 'ask', 'end']) opts.push(h('option', { value: `new:${k}` }, `+ New ${KINDS[k].name.toLowerCase()}`));
  const el = h('select', { 'data-path': path.join('/') }, opts);
  el.addEventListener('change', () => {
    const v = el.value;
    if (v.startsWith('new:')) {
      const kind = v.slice(4);
      change((d) => {
        const id = addNode(d, state.flow, kind, kind === 'end' ? 'goodbye' : kind === 'ask' ? 'question' : 'menu');
        setAt(d, path, id);
      });
    } else change((d) => setAt(d, path, v === '' && allowNone ? undefined : v));
  });
  return field(label, el);
}

/** A list of rows with "Remove" on each and an "Add" button after. */
export function listEditor(title, path, row, { add, addLabel, empty }) {
  const list = getAt(state.doc, path) || [];
  const sec = h('fieldset', { class: 'list' }, h('legend', {}, title));
  if (!list.length && empty) sec.append(h('p', { class: 'hint' }, empty));
  list.forEach((item, i) => {
    const rm = h('button', {
      type: 'button', class: 'remove', 'aria-label': `Remove ${title.toLowerCase()} ${i + 1}`,
      onclick: () => change((d) => getAt(d, path).splice(i, 1)),
    }, 'Remove');
    sec.append(h('div', { class: 'row' }, row(item, [...path, i], i), rm));
  });
  sec.append(h('button', {
    type: 'button', class: 'add',
    onclick: () => change((d) => {
      if (!Array.isArray(getAt(d, path))) setAt(d, path, []);
      getAt(d, path).push(add(getAt(d, path)));
    }),
  }, addLabel));
  return sec;
}

/** Test arguments as typed: "4, 42" → [4, 42]. */
export function parseArgs(v) {
  if (v.trim() === '') return undefined;
  return v.split(',').map((s) => s.trim()).map((s) => (/^-?\d+(\.\d+)?$/.test(s) ? Number(s) : s));
}

export const showArgs = (a) => (Array.isArray(a) ? a.join(', ') : '');
