// Message sets: the messages as a table (when, and the text in each language with its SMS
// count), the sending window and time zone, and a preview of who gets what on which day.

import { h, clear, say, langName, when } from './dom.js';
import { api } from './api.js';
import { getAt, languages } from './doc.js';
import { state, change } from './state.js';
import { bound, select, textField, field } from './fields.js';

const DAYS = [['mon', 'Mon'], ['tue', 'Tue'], ['wed', 'Wed'], ['thu', 'Thu'], ['fri', 'Fri'], ['sat', 'Sat'], ['sun', 'Sun']];
let current = null;
let preview = null;

/** "-36w" → "36 weeks before", for people who do not read offsets. */
export function describeOffset(o) {
  const m = /^([+-]?)(\d+)([dw])$/.exec(String(o || '').trim());
  if (!m) return '';
  const n = Number(m[2]);
  if (n === 0) return 'on the day';
  const unit = m[3] === 'w' ? (n === 1 ? 'week' : 'weeks') : n === 1 ? 'day' : 'days';
  return `${n} ${unit} ${m[1] === '-' ? 'before' : 'after'}`;
}

/** The offset one step after `o`: "-36w" → "-35w", "+2d" → "+3d"; else "0d". */
export function nextOffset(o) {
  const m = /^([+-]?)(\d+)([dw])$/.exec(String(o || '').trim());
  if (!m) return '0d';
  const n = (m[1] === '-' ? -1 : 1) * Number(m[2]) + 1;
  return n === 0 ? `0${m[3]}` : `${n > 0 ? '+' : '-'}${Math.abs(n)}${m[3]}`;
}

function setForm(name) {
  const p = ['message_sets', name];
  const set = getAt(state.doc, p);
  const win = set.window || {};
  const days = win.days || ['mon', 'tue', 'wed', 'thu', 'fri'];
  const anchor = set.anchor || '';
  const rows = (set.messages || []).map((m, i) => {
    const mp = [...p, 'messages', i];
    const whenIn = m.at !== undefined
      ? bound(`Message ${i + 1}: date`, [...mp, 'at'], { type: 'date' })
      : bound(`Message ${i + 1}: when`, [...mp, 'offset'], { hint: describeOffset(m.offset) ? `${describeOffset(m.offset)} the ${anchor || 'date'}` : 'e.g. -36w, +2d or 0d' });
    return h('tr', {},
      h('td', {}, whenIn),
      h('td', {}, textField(`Message ${i + 1}`, [...mp, 'text'], { sms: true, rows: 2 })),
      h('td', {}, h('button', { type: 'button', class: 'remove', 'aria-label': `Remove message ${i + 1}`, onclick: () => change((d) => getAt(d, [...p, 'messages']).splice(i, 1)) }, 'Remove')));
  });
  const langs = languages(state.doc);
  return h('div', { class: 'set' },
    h('div', { class: 'grid3' },
      bound('Sent on the SMS channel', [...p, 'channel']),
      bound('Counted from the contact’s date (field)', [...p, 'anchor'], { parse: (v) => v || undefined, hint: 'e.g. edd, the expected delivery date. Empty: fixed dates.' }),
      bound('Time zone', [...p, 'window', 'timezone'], { placeholder: 'Africa/Johannesburg' }),
      bound('Send from (HH:MM)', [...p, 'window', 'from'], { type: 'time' }),
      bound('Send until (HH:MM)', [...p, 'window', 'until'], { type: 'time' }),
      select('Joining late', [...p, 'on_subscribe'], [['skip', 'Skip messages already past'], ['catch_up', 'Send the latest past one, then go on']], { default: 'skip' })),
    h('fieldset', { class: 'days' }, h('legend', {}, 'Days it may send on'),
      DAYS.map(([d, label]) => {
        const id = `day-${d}`;
        return h('span', { class: 'check' }, h('input', { type: 'checkbox', id, checked: days.includes(d), onchange: (e) => change((doc) => {
          const cur = getAt(doc, [...p, 'window', 'days']) || [...days];
          const next = e.target.checked ? DAYS.map(([x]) => x).filter((x) => cur.includes(x) || x === d) : cur.filter((x) => x !== d);
          if (!getAt(doc, [...p, 'window'])) doc.message_sets[name].window = {};
          doc.message_sets[name].window.days = next;
        }) }), h('label', { for: id }, label));
      })),
    h('table', { class: 'messages' },
      h('caption', {}, `${(set.messages || []).length} messages`),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, `Text (${langs.map(langName).join(', ')})`), h('th', { scope: 'col' }, h('span', { class: 'sr' }, 'Remove')))),
      h('tbody', {}, rows)),
    h('button', { type: 'button', class: 'add', onclick: () => change((d) => {
      const list = getAt(d, [...p, 'messages']) || [];
      const last = list[list.length - 1];
      const offset = nextOffset(last && last.offset);
      list.push({ offset, text: langs.length > 1 ? Object.fromEntries(langs.map((l) => [l, ''])) : '' });
      d.message_sets[name].messages = list;
    }) }, 'Add a message'),
    previewForm(name, langs));
}

function previewForm(name, langs) {
  const date = h('input', { id: 'preview-date', type: 'date', value: preview && preview.date ? preview.date : new Date(Date.now() + 200 * 864e5).toISOString().slice(0, 10) });
  const lang = h('select', { id: 'preview-lang' }, langs.map((l) => h('option', { value: l }, langName(l))));
  const out = h('div', { class: 'preview', 'aria-live': 'polite' });
  const show = () => {
    clear(out);
    if (!preview || preview.set !== name) return;
    if (preview.error) {
      out.append(h('p', { class: 'error', role: 'alert' }, preview.error));
      return;
    }
    const msgs = preview.messages || [];
    out.append(h('p', {}, `A mother whose date is ${preview.date} gets ${msgs.length} messages${preview.time_zone ? ` (times in ${preview.time_zone})` : ''}:`),
      h('ol', { class: 'preview-list' }, msgs.map((m) => h('li', {}, h('strong', {}, when(m.date)), ' — ', (m.texts && (m.texts[lang.value] ?? Object.values(m.texts)[0])) || ''))));
  };
  show();
  return h('form', { class: 'preview-form', onsubmit: async (e) => {
    e.preventDefault();
    preview = { set: name, date: date.value };
    try {
      const res = await api.preview(state.file.file, { set: name, start_date: date.value });
      preview = { ...preview, ...res };
    } catch (err) {
      preview.error = err.message;
    }
    show();
  } },
  h('h3', {}, 'Preview'),
  state.dirty ? h('p', { class: 'hint' }, 'The preview uses the last saved draft.') : null,
  h('div', { class: 'inline' }, field('The mother’s date (e.g. due date)', date), field('Language', lang), h('button', { type: 'submit' }, 'Show her messages')),
  out);
}

export function drawSets(root) {
  clear(root);
  const sets = Object.keys((state.doc && state.doc.message_sets) || {});
  if (current && !sets.includes(current)) current = null;
  current = current || sets[0] || null;
  const pick = h('select', { id: 'set-pick', onchange: (e) => { current = e.target.value; drawSets(root); } }, sets.map((s) => h('option', { value: s, selected: s === current }, s)));
  const nameIn = h('input', { id: 'set-new', placeholder: 'weekly_tips' });
  root.append(h('div', { class: 'toolbar' },
    sets.length ? field('Message set', pick) : h('p', {}, 'This file has no message sets.'),
    h('form', { class: 'inline', onsubmit: (e) => {
      e.preventDefault();
      const n = nameIn.value.trim().toLowerCase().replace(/[^a-z0-9_]+/g, '_');
      if (!n) return;
      change((d) => {
        d.message_sets = d.message_sets || {};
        d.message_sets[n] = { channel: (state.channels.find((c) => /sms/i.test(c.type || '')) || {}).name || 'sms', anchor: 'edd', window: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', until: '17:00', timezone: 'Africa/Johannesburg' }, messages: [] };
      });
      current = n;
      say(`Added the message set ${n}.`);
    } }, h('label', { for: 'set-new' }, 'New message set'), nameIn, h('button', { type: 'submit' }, 'Add'))));
  if (current) root.append(setForm(current));
}
