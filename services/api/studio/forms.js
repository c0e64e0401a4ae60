// The form of one screen (node): its name, kind and first-screen mark; a form per kind for
// everything the language has; "when this screen opens" actions; a raw YAML form for a kind
// the studio does not know. Also the flow's own settings when no screen is chosen.

import { h, clear, say } from './dom.js';
import { KINDS, bodyOf, getAt, setAt, languages, renameNode, deleteNode, changeKind } from './doc.js';
import { state, change, emit } from './state.js';
import { bound, checkbox, select, textField, nextSelect, listEditor, parseArgs, showArgs, field, resetCounters } from './fields.js';

export const TESTS = ['has_text', 'has_number', 'has_number_between', 'has_number_lt', 'has_number_lte', 'has_number_gt', 'has_number_gte', 'has_number_eq', 'has_any_word', 'has_all_words', 'has_phrase', 'has_only_phrase', 'has_beginning', 'has_pattern', 'has_date', 'has_date_lt', 'has_date_gt', 'has_phone', 'has_email', 'has_value', 'has_group'];
const TEST_WORDS = {
  has_text: 'Any answer', has_number: 'A number', has_number_between: 'A number between', has_number_lt: 'A number below',
  has_number_lte: 'A number at most', has_number_gt: 'A number above', has_number_gte: 'A number at least', has_number_eq: 'The number',
  has_any_word: 'Any of the words', has_all_words: 'All the words', has_phrase: 'The phrase', has_only_phrase: 'Only the phrase',
  has_beginning: 'Starts with', has_pattern: 'Matches the pattern', has_date: 'A date', has_date_lt: 'A date before', has_date_gt: 'A date after',
  has_phone: 'A phone number', has_email: 'An email address', has_value: 'The value', has_group: 'Is in the group',
};
const testOptions = TESTS.map((t) => [t, `${TEST_WORDS[t]} (${t})`]);

const ACTIONS = {
  set_field: ['Save a contact detail', () => ({ name: '', value: '' })],
  set_name: ['Set the contact’s name', () => ''],
  set_language: ['Set the contact’s language', () => ''],
  add_group: ['Add to a group', () => ''],
  remove_group: ['Remove from a group', () => ''],
  subscribe: ['Start a message set', () => ''],
  unsubscribe: ['Stop a message set', () => ''],
  send_sms: ['Send an SMS', () => ({ text: '' })],
  opt_out: ['Opt out of all messages', () => true],
};

function caseRow(p, i) {
  return h('div', { class: 'grid2' },
    select(`Rule ${i + 1}: the answer is`, [...p, 'test'], testOptions),
    bound('Values (comma between)', [...p, 'args'], { parse: parseArgs, show: showArgs, hint: 'e.g. 4, 42 or yes, yebo' }),
    bound('Name this answer (category)', [...p, 'category']),
    nextSelect('Then go to', [...p, 'goto']));
}

function menuForm(np) {
  const p = [...np, 'menu'];
  return [
    textField('What the screen says', [...p, 'text'], { screen: np }),
    listEditor('Choices', [...p, 'options'], (o, op, i) => h('div', { class: 'option' },
      bound(`Choice ${i + 1}: number to press`, [...op, 'key']),
      textField(`Choice ${i + 1}`, [...op, 'label'], { screen: np, rows: 1 }),
      nextSelect(`Choice ${i + 1}: then go to`, [...op, 'goto']),
      bound(`Choice ${i + 1}: save as (optional)`, [...op, 'value'], { parse: (v) => v || undefined })),
    { addLabel: 'Add a choice', add: (list) => ({ key: String(list.length + 1), label: emptyText(), goto: '' }) }),
    bound('Save the choice as (result name)', [...p, 'result'], { parse: (v) => v || undefined, hint: 'Later screens read it as @results.<name>.' }),
  ];
}

const emptyText = () => {
  const langs = languages(state.doc);
  return langs.length > 1 ? Object.fromEntries(langs.map((l) => [l, ''])) : '';
};

function askForm(np, flow) {
  const p = [...np, 'ask'];
  const ask = getAt(state.doc, p) || {};
  const out = [
    textField('The question', [...p, 'text'], { screen: np, retry: true }),
    bound('Save the answer as (result name)', [...p, 'result'], { parse: (v) => v || undefined }),
  ];
  const v = ask.validate;
  out.push(h('div', { class: 'field check' },
    h('input', { type: 'checkbox', id: 'ask-check', checked: Boolean(v), onchange: (e) => change((d) => setAt(d, [...p, 'validate'], e.target.checked ? { test: 'has_number', error: emptyText(), retries: 2 } : undefined)) }),
    h('label', { for: 'ask-check' }, 'Check the answer, and ask again when it is wrong')));
  if (v) {
    out.push(h('fieldset', { class: 'sub' }, h('legend', {}, 'Checking the answer'),
      select('A right answer is', [...p, 'validate', 'test'], testOptions),
      bound('Values (comma between)', [...p, 'validate', 'args'], { parse: parseArgs, show: showArgs }),
      textField('Shown above the question after a wrong answer', [...p, 'validate', 'error'], { rows: 2 }),
      bound('Wrong answers allowed', [...p, 'validate', 'retries'], { type: 'number' }),
      nextSelect('After too many wrong answers go to', [...p, 'validate', 'on_fail'], { allowNone: true })));
  }
  out.push(nextSelect('After an answer go to', [...p, 'goto'], { allowNone: true }));
  out.push(listEditor('Answers that go elsewhere', [...p, 'cases'], (c, cp, i) => caseRow(cp, i),
    { addLabel: 'Add a rule', add: () => ({ test: 'has_any_word', args: [''], goto: '' }), empty: 'Every answer goes the same way.' }));
  if ((ask.cases || []).length) out.push(nextSelect('Any other answer goes to', [...p, 'other'], { allowNone: true }));
  if (flow.channel === 'sms' || ask.timeout) {
    out.push(h('div', { class: 'field check' },
      h('input', { type: 'checkbox', id: 'ask-timeout', checked: Boolean(ask.timeout), onchange: (e) => change((d) => setAt(d, [...p, 'timeout'], e.target.checked ? { after: '1d', goto: '' } : undefined)) }),
      h('label', { for: 'ask-timeout' }, 'Go on when no answer comes (SMS)')));
    if (ask.timeout) {
      out.push(bound('Wait for an answer for', [...p, 'timeout', 'after'], { hint: '30m, 6h, 2d or 1w' }), nextSelect('When no answer came go to', [...p, 'timeout', 'goto']));
    }
  }
  return out;
}

function switchForm(np) {
  const p = [...np, 'switch'];
  return [
    bound('Decide on', [...p, 'on'], { hint: 'What to look at, e.g. @contact.language or @results.weeks' }),
    listEditor('Rules', [...p, 'cases'], (c, cp, i) => caseRow(cp, i), { addLabel: 'Add a rule', add: () => ({ test: 'has_text', goto: '' }) }),
    nextSelect('Otherwise go to', [...p, 'other']),
  ];
}

function webhookForm(np) {
  const p = [...np, 'webhook'];
  const w = getAt(state.doc, p) || {};
  return [
    select('Method', [...p, 'method'], [['POST', 'POST (send)'], ['GET', 'GET (fetch)'], ['PUT', 'PUT'], ['PATCH', 'PATCH'], ['DELETE', 'DELETE']], { default: 'POST' }),
    bound('Address (URL)', [...p, 'url'], { type: 'text', placeholder: '@globals.registry_url' }),
    bound('What to send (body)', [...p, 'body'], { type: 'textarea', parse: (v) => v || undefined }),
    headersEditor([...p, 'headers'], w.headers || {}),
    bound('Give up after (milliseconds)', [...p, 'timeout_ms'], { type: 'number', hint: 'USSD screens must answer fast: keep it at 2000 or less.' }),
    bound('Save the answer as (result name)', [...p, 'result'], { parse: (v) => v || undefined }),
    nextSelect('When it worked go to', [...p, 'on_success']),
    nextSelect('When it failed go to', [...p, 'on_failure']),
  ];
}

function headersEditor(path, headers) {
  const sec = h('fieldset', { class: 'list' }, h('legend', {}, 'Headers'));
  Object.entries(headers).forEach(([k, v], i) => {
    const name = h('input', { value: k, 'aria-label': `Header ${i + 1} name` });
    const val = h('input', { value: v, 'aria-label': `Header ${i + 1} value` });
    const save = () => change((d) => {
      const e = Object.entries(getAt(d, path) || {});
      e[i] = [name.value, val.value];
      setAt(d, path, Object.fromEntries(e));
    }, { key: `${path.join('/')}/${i}`, form: false });
    name.addEventListener('change', save);
    val.addEventListener('input', save);
    sec.append(h('div', { class: 'row' }, name, val, h('button', { type: 'button', class: 'remove', 'aria-label': `Remove header ${i + 1}`, onclick: () => change((d) => {
      const e = Object.entries(getAt(d, path) || {});
      e.splice(i, 1);
      setAt(d, path, e.length ? Object.fromEntries(e) : undefined);
    }) }, 'Remove')));
  });
  sec.append(h('button', { type: 'button', class: 'add', onclick: () => change((d) => setAt(d, path, { ...(getAt(d, path) || {}), [`X-Header-${Object.keys(headers).length + 1}`]: '' })) }, 'Add a header'));
  return sec;
}

function subflowForm(np) {
  const p = [...np, 'subflow'];
  const others = Object.keys(state.doc.flows).filter((f) => f !== state.flow).map((f) => [f, f]);
  return [select('Run the flow', [...p, 'flow'], [['', '— choose a flow —'], ...others]), nextSelect('When it is done, go to', [...p, 'then'])];
}

function randomForm(np) {
  const p = [...np, 'random'];
  return [listEditor('Branches', [...p, 'branches'], (b, bp, i) => h('div', { class: 'grid2' },
    bound(`Branch ${i + 1}: share (weight)`, [...bp, 'weight'], { type: 'number' }),
    nextSelect(`Branch ${i + 1}: go to`, [...bp, 'goto'])), { addLabel: 'Add a branch', add: () => ({ weight: 50, goto: '' }) })];
}

function waitForm(np) {
  const p = [...np, 'wait'];
  const w = getAt(state.doc, p) || {};
  const mode = w.until !== undefined ? 'until' : 'for';
  const pick = h('select', { id: 'wait-mode', onchange: (e) => change((d) => {
    const cur = getAt(d, p) || {};
    const v = cur.for ?? cur.until ?? '';
    const next = { ...cur };
    delete next.for;
    delete next.until;
    next[e.target.value] = e.target.value === 'for' ? v || '1d' : v || '@(date_add(today, days=1))';
    setAt(d, p, next);
  }) }, h('option', { value: 'for', selected: mode === 'for' }, 'for a time'), h('option', { value: 'until', selected: mode === 'until' }, 'until a date and time'));
  return [field('Wait', pick), bound(mode === 'for' ? 'How long' : 'Until', [...p, mode], { hint: mode === 'for' ? '30m, 6h, 2d or 1w' : 'A date, or an expression giving one' }), nextSelect('Then go to', [...p, 'goto'])];
}

/**
 * A kind the studio has no form for (or a node with two): its body as JSON — which is YAML too,
 * in YAML's flow style, so the file stays one language — read back on change.
 */
function rawForm(np) {
  const node = getAt(state.doc, np) || {};
  const body = Object.fromEntries(Object.entries(node).filter(([k]) => k !== 'actions'));
  const ta = h('textarea', { id: 'raw-node', rows: 10, class: 'code', spellcheck: 'false', 'data-path': `${np.join('/')}/raw` });
  ta.value = JSON.stringify(body, null, 2);
  const msg = h('p', { class: 'hint', id: 'raw-node-msg', role: 'status' }, 'This kind of screen has no form here yet: change it as written here (the Raw YAML tab shows the whole file).');
  ta.setAttribute('aria-describedby', 'raw-node-msg');
  ta.addEventListener('change', () => {
    let v;
    try {
      v = JSON.parse(ta.value);
    } catch (e) {
      msg.textContent = `This cannot be read (${e.message}). Nothing changed; the Raw YAML tab takes any YAML.`;
      return;
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      msg.textContent = 'It must be {"kind": {…}}. Nothing changed.';
      return;
    }
    change((d) => {
      const n = getAt(d, np);
      for (const k of Object.keys(n)) if (k !== 'actions') delete n[k];
      Object.assign(n, v);
    });
  });
  return [h('div', { class: 'field' }, h('label', { for: 'raw-node' }, 'The screen as written in the file'), ta, msg)];
}

function actionsForm(np) {
  const p = [...np, 'actions'];
  const sets = Object.keys(state.doc.message_sets || {}).map((s) => [s, s]);
  return listEditor('When this screen opens', p, (a, ap, i) => {
    const type = a && typeof a === 'object' ? Object.keys(a)[0] : null;
    const known = type && Object.hasOwn(ACTIONS, type);
    const label = known ? ACTIONS[type][0] : `Other: ${type}`;
    const typeSel = h('select', { 'aria-label': `Action ${i + 1}: what to do`, onchange: (e) => change((d) => setAt(d, ap, { [e.target.value]: ACTIONS[e.target.value][1]() })) },
      Object.entries(ACTIONS).map(([k, [t]]) => h('option', { value: k, selected: k === type }, t)), known ? null : h('option', { value: type, selected: true }, label));
    const vp = [...ap, type];
    let body = [];
    if (type === 'set_field') body = [bound(`Action ${i + 1}: detail name`, [...vp, 'name']), bound(`Action ${i + 1}: value`, [...vp, 'value'])];
    else if (type === 'send_sms') body = [textField(`Action ${i + 1}: SMS text`, [...vp, 'text'], { sms: true, rows: 2 }), bound(`Action ${i + 1}: to (empty = the contact)`, [...vp, 'to'], { parse: (v) => v || undefined })];
    else if (type === 'subscribe' || type === 'unsubscribe') body = [select(`Action ${i + 1}: message set`, vp, [['', '— choose —'], ...sets])];
    else if (type === 'opt_out') body = [];
    else if (known) body = [bound(`Action ${i + 1}: ${label.toLowerCase().replace(/^(add to|remove from) a /, '')}`, vp)];
    else body = [h('pre', { class: 'code' }, JSON.stringify(a, null, 2))];
    return h('div', { class: 'action' }, typeSel, body);
  }, { addLabel: 'Add an action', add: () => ({ add_group: '' }), empty: 'Nothing happens on entry.' });
}

function problemsFor(id) {
  const r = state.report || {};
  const mine = (list) => (list || []).filter((p) => p.flow === state.flow && p.node === id);
  const errs = mine(r.errors);
  const warns = mine(r.warnings);
  if (!errs.length && !warns.length) return null;
  return h('ul', { class: 'problems', 'aria-label': 'Problems on this screen', 'data-testid': 'node-problems' },
    errs.map((p) => h('li', { class: 'error' }, h('strong', {}, 'Error: '), p.message)),
    warns.map((p) => h('li', { class: 'warning' }, h('strong', {}, 'Warning: '), p.message)));
}

/** Draws the form of the selected screen (or the flow settings) into `root`. */
export function drawForm(root) {
  resetCounters();
  clear(root);
  const flow = state.doc && state.doc.flows && state.doc.flows[state.flow];
  if (!flow) return;
  const id = state.selected;
  if (!id || !flow.nodes || !flow.nodes[id]) {
    root.append(flowSettings(flow));
    return;
  }
  const np = ['flows', state.flow, 'nodes', id];
  const node = flow.nodes[id];
  const b = bodyOf(node);
  const nameIn = h('input', { id: 'node-name', value: id, 'data-path': `${np.join('/')}/name`, autocomplete: 'off' });
  const renameMsg = h('p', { class: 'hint', id: 'node-name-msg', role: 'status' });
  const doRename = () => {
    const to = nameIn.value.trim();
    if (to === id) return;
    try {
      const test = structuredClone(state.doc);
      renameNode(test, state.flow, id, to);
    } catch (e) {
      renameMsg.textContent = e.message;
      return;
    }
    change((d) => renameNode(d, state.flow, id, to, state.layout));
    state.selected = to;
    emit('select', {});
    say(`Renamed ${id} to ${to}; every arrow to it follows.`);
  };
  nameIn.addEventListener('keydown', (e) => { if (e.key === 'Enter') doRename(); });
  const kindSel = h('select', { id: 'node-kind', onchange: (e) => {
    change((d) => changeKind(d, state.flow, id, e.target.value));
    say(`${id} is now a ${KINDS[e.target.value].name}. Ctrl+Z takes it back.`);
  } }, Object.entries(KINDS).map(([k, v]) => h('option', { value: k, selected: k === b.kind, title: v.hint }, v.name)), b.known ? null : h('option', { value: b.kind, selected: true }, b.kind === 'none' ? '— none yet —' : `Other (${b.kind})`));
  const kinds = { menu: menuForm, ask: askForm, switch: switchForm, webhook: webhookForm, subflow: subflowForm, random: randomForm, wait: waitForm };
  let body;
  if (b.kind === 'end') body = [textField('The last screen says', [...np, 'end', 'text'], { screen: np })];
  else if (b.kind === 'goto') body = [nextSelect('Go straight on to', [...np, 'goto'])];
  else if (kinds[b.kind]) body = kinds[b.kind](np, flow);
  else body = rawForm(np);
  root.append(h('form', { class: 'node-form', 'aria-label': `Screen ${id}`, 'data-testid': 'node-form', onsubmit: (e) => e.preventDefault() },
    h('div', { class: 'form-head' },
      h('h2', {}, `${b.known ? KINDS[b.kind].name : 'Screen'}: ${id}`),
      h('button', { type: 'button', class: 'close', onclick: () => { state.selected = null; emit('select', {}); }, 'aria-label': 'Close this screen’s form' }, '×')),
    problemsFor(id),
    h('div', { class: 'grid2' },
      h('div', { class: 'field' }, h('label', { for: 'node-name' }, 'Name of this screen'), h('div', { class: 'inline' }, nameIn, h('button', { type: 'button', onclick: doRename }, 'Rename')), renameMsg),
      field('Kind', kindSel, b.known ? KINDS[b.kind].hint : null)),
    h('div', { class: 'field check' },
      h('input', { type: 'checkbox', id: 'node-start', checked: flow.start === id, disabled: flow.start === id, onchange: () => change((d) => { d.flows[state.flow].start = id; }) }),
      h('label', { for: 'node-start' }, flow.start === id ? 'People start here' : 'Make people start here')),
    body,
    actionsForm(np),
    h('div', { class: 'danger' }, h('button', { type: 'button', class: 'delete', onclick: () => {
      change((d) => deleteNode(d, state.flow, id));
      state.selected = null;
      emit('select', {});
      say(`Deleted ${id}. Ctrl+Z or Undo brings it back.`);
    } }, 'Delete this screen'))));
}

function flowSettings(flow) {
  const fp = ['flows', state.flow];
  const langs = languages(state.doc);
  const langIn = h('input', { id: 'file-langs', value: langs.join(', '), 'data-path': 'languages' });
  langIn.addEventListener('change', () => {
    const list = langIn.value.split(/[\s,]+/).map((s) => s.trim().toLowerCase()).filter(Boolean);
    if (list.length) change((d) => { d.languages = [...new Set(list)]; });
  });
  return h('form', { class: 'node-form', 'aria-label': `Settings of the flow ${state.flow}`, onsubmit: (e) => e.preventDefault() },
    h('h2', {}, `Flow: ${state.flow}`),
    h('p', { class: 'hint' }, 'Choose a screen on the map to change it.'),
    select('Runs over', [...fp, 'channel'], [['ussd', 'USSD (menus on a basic phone)'], ['sms', 'SMS (a conversation)'], ['any', 'Either']], { default: 'ussd' }),
    nextSelect('People start at', [...fp, 'start']),
    textField('Shown when someone presses a number that is not a choice', [...fp, 'invalid_choice'], { rows: 2 }),
    bound('Session budget (seconds)', [...fp, 'budget_secs'], { type: 'number', placeholder: '180', hint: 'A warning shows when a path is expected to take longer. Default 180.' }),
    flow.channel === 'sms' ? bound('An unanswered conversation ends after', [...fp, 'expire_after'], { hint: '30m, 6h, 2d or 1w. Default 7d.' }) : null,
    h('h3', {}, 'This file'),
    field('Languages (codes, the first is the main one)', langIn, 'e.g. eng, zul — every text needs each of them.'),
    bound('Programme name (@globals.programme)', ['globals', 'programme'], { parse: (v) => v || undefined }));
}
