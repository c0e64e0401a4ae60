// The flow file as plain JSON (the server's `doc`): reading and changing it without YAML.
// Pure functions only (no DOM), so `node --test` checks them.

/** Body kinds the studio has a form for, with the words staff see. */
export const KINDS = {
  menu: { name: 'Menu', hint: 'A screen with numbered choices' },
  ask: { name: 'Question', hint: 'A screen where the person types an answer' },
  end: { name: 'Last screen', hint: 'Shows a message and ends the session' },
  switch: { name: 'Decide', hint: 'Chooses what comes next from something already known' },
  webhook: { name: 'Send to a system', hint: 'Calls another system over the web' },
  goto: { name: 'Jump', hint: 'Goes straight on to another screen or flow' },
  subflow: { name: 'Run another flow', hint: 'Runs another flow, then comes back' },
  random: { name: 'Random split', hint: 'Sends people down branches at random' },
  wait: { name: 'Wait', hint: 'Waits for a time (SMS flows), then goes on' },
};

/** Keys whose string value names the next node. */
const NEXT_KEYS = new Set(['goto', 'then', 'other', 'on_fail', 'on_success', 'on_failure']);

export const deepClone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

export function languages(doc) {
  const l = doc && Array.isArray(doc.languages) ? doc.languages : null;
  return l && l.length ? l : ['eng'];
}

/** The node's body: `{kind, value, known}`; kind `none` or `several` when not exactly one. */
export function bodyOf(node) {
  if (node === null || typeof node !== 'object') return { kind: 'none', value: undefined, known: false };
  const keys = Object.keys(node).filter((k) => k !== 'actions');
  if (keys.length === 0) return { kind: 'none', value: undefined, known: false };
  if (keys.length > 1) return { kind: 'several', keys, value: undefined, known: false };
  const kind = keys[0];
  return { kind, value: node[kind], known: Object.hasOwn(KINDS, kind) };
}

/** A short label for the arrow at `path` (keys from the node down to the next-key). */
function exitLabel(node, path) {
  const [kind, a, i, b] = path;
  const at = (p) => p.reduce((o, k) => (o == null ? undefined : o[k]), node);
  if (kind === 'menu' && a === 'options') return String(at([kind, a, i, 'key']) ?? '');
  if (a === 'cases') {
    const c = at([kind, a, i]) || {};
    return String(c.category || [c.test, ...(c.args || [])].filter((x) => x !== undefined).join(' '));
  }
  if (kind === 'random' && a === 'branches') return `${at([kind, a, i, 'weight']) ?? '?'}%`;
  if (kind === 'group' || a === 'groups') return String(at([kind, a, i, 'group']) ?? at([kind, a, i, 'name']) ?? '');
  const last = path[path.length - 1];
  const words = {
    other: 'anything else', on_fail: 'too many wrong answers', on_success: 'worked',
    on_failure: 'failed', then: 'afterwards',
  };
  if (a === 'timeout') return 'no answer';
  if (kind === 'wait') return 'after the wait';
  if (kind === 'ask' && last === 'goto') return 'answered';
  return words[last] || (b ?? '');
}

/** Every arrow out of a node: `{to, label, path}` where `path` locates the string in the node. */
export function exits(node) {
  const out = [];
  const walk = (v, path) => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (path.length === 0 && k === 'actions') continue;
        if (NEXT_KEYS.has(k) && typeof x === 'string') out.push({ to: x, path: [...path, k], label: exitLabel(node, [...path, k]) });
        else walk(x, [...path, k]);
      }
    }
  };
  walk(node, []);
  return out;
}

export function getAt(obj, path) {
  return path.reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

/** Sets `value` at `path`, making objects/arrays on the way; `undefined` deletes the key. */
export function setAt(obj, path, value) {
  let o = obj;
  for (let i = 0; i < path.length - 1; i++) {
    if (o[path[i]] == null || typeof o[path[i]] !== 'object') o[path[i]] = typeof path[i + 1] === 'number' ? [] : {};
    o = o[path[i]];
  }
  const last = path[path.length - 1];
  if (value === undefined) {
    if (Array.isArray(o)) o.splice(last, 1);
    else delete o[last];
  } else o[last] = value;
}

/** An empty text: one string, or one per language when the file has several. */
export function emptyText(langs) {
  return langs.length > 1 ? Object.fromEntries(langs.map((l) => [l, ''])) : '';
}

/** A new node of `kind`, ready to fill in. */
export function newBody(kind, langs, id = 'answer') {
  const t = () => emptyText(langs);
  switch (kind) {
    case 'menu': return { menu: { text: t(), options: [{ key: '1', label: t(), goto: '' }] } };
    case 'ask': return { ask: { text: t(), result: id, goto: '' } };
    case 'end': return { end: { text: t() } };
    case 'switch': return { switch: { on: '@contact.language', cases: [{ test: 'has_text', goto: '' }], other: '' } };
    case 'webhook': return { webhook: { url: '', timeout_ms: 2000, on_success: '', on_failure: '' } };
    case 'goto': return { goto: '' };
    case 'subflow': return { subflow: { flow: '', then: '' } };
    case 'random': return { random: { branches: [{ weight: 50, goto: '' }, { weight: 50, goto: '' }] } };
    case 'wait': return { wait: { for: '1d', goto: '' } };
    default: throw new Error(`unknown kind ${kind}`);
  }
}

/** A node name not yet used in `flow`, from `base` (`welcome`, `welcome_2`, …). */
export function uniqueName(flow, base) {
  const slug = String(base || 'screen').toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '') || 'screen';
  const nodes = (flow && flow.nodes) || {};
  if (!Object.hasOwn(nodes, slug)) return slug;
  for (let i = 2; ; i++) if (!Object.hasOwn(nodes, `${slug}_${i}`)) return `${slug}_${i}`;
}

/** Adds a node; returns its name. The first node of a flow becomes its start. */
export function addNode(doc, flowName, kind, base) {
  const flow = doc.flows[flowName];
  flow.nodes = flow.nodes || {};
  const id = uniqueName(flow, base || kind);
  flow.nodes[id] = newBody(kind, languages(doc), id);
  if (!flow.start) flow.start = id;
  return id;
}

/** Removes a node; arrows that went to it are left pointing nowhere (the check flags them). */
export function deleteNode(doc, flowName, id) {
  const flow = doc.flows[flowName];
  delete flow.nodes[id];
  if (flow.start === id) flow.start = Object.keys(flow.nodes)[0] || '';
}

/** Swaps the node's body for a new one of `kind`, keeping its actions. */
export function changeKind(doc, flowName, id, kind) {
  const flow = doc.flows[flowName];
  const old = flow.nodes[id] || {};
  flow.nodes[id] = { ...(old.actions ? { actions: old.actions } : {}), ...newBody(kind, languages(doc), id) };
}

/** Renames a node and every arrow, start, layout key and test stub that named it. */
export function renameNode(doc, flowName, from, to, layout) {
  const flow = doc.flows[flowName];
  if (from === to) return;
  if (!/^[a-z0-9_][a-z0-9_-]*$/.test(to)) throw new Error('Use small letters, digits and _ only.');
  if (Object.hasOwn(flow.nodes, to)) throw new Error(`There is already a screen called ${to}.`);
  flow.nodes = Object.fromEntries(Object.entries(flow.nodes).map(([k, v]) => [k === from ? to : k, v]));
  for (const node of Object.values(flow.nodes)) {
    for (const e of exits(node)) if (e.to === from) setAt(node, e.path, to);
  }
  if (flow.start === from) flow.start = to;
  for (const t of flow.tests || []) {
    if (t.webhooks && Object.hasOwn(t.webhooks, from)) {
      t.webhooks = Object.fromEntries(Object.entries(t.webhooks).map(([k, v]) => [k === from ? to : k, v]));
    }
  }
  if (layout && layout[`${flowName}/${from}`]) {
    layout[`${flowName}/${to}`] = layout[`${flowName}/${from}`];
    delete layout[`${flowName}/${from}`];
  }
}

/** The arrows of one flow: `{from, to, label, path, external}`; `flow:x` goes to another flow. */
export function edges(flow) {
  const out = [];
  for (const [from, node] of Object.entries((flow && flow.nodes) || {})) {
    for (const e of exits(node)) {
      if (!e.to) continue;
      out.push({ from, ...e, external: e.to.startsWith('flow:') });
    }
  }
  return out;
}

/** A text in `lang`, else the base language (as the interpreter shows it). */
export function textIn(t, lang, base) {
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object') return t[lang] ?? t[base] ?? '';
  return '';
}

/** The file's languages a translated text has no (or an empty) entry for. */
export function missingLanguages(t, langs) {
  if (t == null) return [...langs];
  if (typeof t === 'string') return t === '' ? [...langs] : [];
  return langs.filter((l) => typeof t[l] !== 'string' || t[l].trim() === '');
}

/** The first words of a node's text, for its box on the graph. */
export function summary(node, lang, base) {
  const b = bodyOf(node);
  const v = b.value;
  if (b.kind === 'menu' || b.kind === 'ask' || b.kind === 'end') return textIn(v && v.text, lang, base);
  if (b.kind === 'switch') return `Decide on ${(v && v.on) || '…'}`;
  if (b.kind === 'webhook') return `${(v && v.method) || 'POST'} ${(v && v.url) || '…'}`;
  if (b.kind === 'goto') return `Next: ${v || '…'}`;
  if (b.kind === 'subflow') return `Run ${(v && v.flow) || '…'}`;
  if (b.kind === 'wait') return `Wait ${(v && (v.for || v.until)) || '…'}`;
  if (b.kind === 'random') return `${((v && v.branches) || []).length} branches`;
  return b.kind;
}

/** A new, empty file with one flow. */
export function newFile(langs, flowName, channel) {
  const doc = { languages: [...langs], flows: {} };
  doc.flows[flowName] = { channel, start: 'welcome', nodes: {} };
  doc.flows[flowName].nodes.welcome = newBody('menu', langs);
  return doc;
}
