// The studio page: starts up, lists the flow files, and wires the views (map, forms, raw
// YAML, message sets, versions, simulator) to the one state. Loaded by index.html.

import { h, $, clear, say, when, langName } from './dom.js';
import { api, whenExpired } from './api.js';
import { KINDS, addNode, languages, newFile } from './doc.js';
import { limitFor } from './count.js';
import { state, on, emit, undo, change } from './state.js';
import { drawGraph, setLayoutSaver, zoom, tidy, fitNext } from './graph.js';
import { drawForm } from './forms.js';
import { refreshCounts } from './fields.js';
import { drawSets } from './sets.js';
import { loadVersions, drawVersions } from './versions.js';
import { initSim, draw as drawSim, resetSim } from './sim.js';
import * as ed from './editor.js';

const meta = (n) => document.querySelector(`meta[name="${n}"]`)?.content || '';
let tab = 'graph';
let dropoffDays = 0;

function fail(msg) {
  const el = $('#loading');
  if (el) {
    el.textContent = msg;
    el.className = 'error';
  }
  say(msg, 'error');
}

window.addEventListener('error', (e) => say(`Something went wrong in the page: ${e.message}. Your work is kept in this browser; reload the page.`, 'error'));
window.addEventListener('unhandledrejection', (e) => say(`Something went wrong: ${(e.reason && e.reason.message) || e.reason}. Your work is kept in this browser.`, 'error'));

// ---- the list of files ----

async function loadFiles() {
  const res = await api.files();
  state.files = res.files || [];
  drawFileList();
  drawFilePick();
}

function drawFileList() {
  const root = clear($('#file-list'));
  $('#loading').hidden = true;
  $('#new-file').hidden = false;
  if (!state.files.length) {
    root.append(h('p', {}, 'No flow files yet. Start one with “New flow file”.'));
    return;
  }
  root.append(h('table', { class: 'files' },
    h('thead', {}, h('tr', {}, ['File', 'Flows', 'Problems', 'Live', 'Last saved'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, state.files.map((f) => h('tr', {},
      h('td', {}, h('a', { href: `?file=${encodeURIComponent(f.file)}`, 'data-testid': `file-${f.file}`, onclick: (e) => { e.preventDefault(); open(f.file); } }, f.file)),
      h('td', {}, (f.flows || []).join(', ')),
      h('td', {}, f.errors ? `${f.errors} error${f.errors === 1 ? '' : 's'}` : f.warnings ? `${f.warnings} warning${f.warnings === 1 ? '' : 's'}` : 'none'),
      h('td', {}, f.published ? `yes, ${when(f.published_at)}` : 'not yet'),
      h('td', {}, `${f.updated_by || ''} ${when(f.updated_at)}`))))));
}

function drawFilePick() {
  const sel = clear($('#file-pick'));
  sel.append(h('option', { value: '' }, '— all files —'));
  const names = state.files.map((f) => f.file);
  if (state.file && !names.includes(state.file.file)) names.push(state.file.file);
  for (const n of names) sel.append(h('option', { value: n, selected: state.file && state.file.file === n }, n));
}

async function open(name) {
  if (state.dirty && state.file && state.file.file !== name && !confirm('You have unsaved changes. They stay kept in this browser. Open the other file?')) {
    drawFilePick();
    return;
  }
  say(`Opening ${name}…`);
  try {
    await ed.openFile(name);
    history.replaceState(null, '', `?file=${encodeURIComponent(name)}`);
    say(`Opened ${name}.`);
  } catch (e) {
    say(e.status === 404 ? `There is no file called ${name}.` : `Could not open ${name}: ${e.message}`, 'error');
  }
}

function showStart() {
  state.file = null;
  history.replaceState(null, '', location.pathname);
  $('#workspace').hidden = true;
  $('#start').hidden = false;
  $('#top-actions').hidden = true;
  loadFiles().catch((e) => fail(e.message));
}

// ---- the new-file dialog ----

function newFileDialog() {
  const dlg = $('#new-dialog');
  $('#new-error').textContent = '';
  dlg.showModal();
  $('#new-name').focus();
}

function createFromDialog(e) {
  e.preventDefault();
  const name = $('#new-name').value.trim().toLowerCase().replace(/\.ya?ml$/, '');
  const file = `${name}.yaml`;
  const langs = [...document.querySelectorAll('#new-dialog input[type=checkbox]:checked')].map((c) => c.value)
    .concat($('#new-other').value.split(/[\s,]+/).map((s) => s.trim().toLowerCase()).filter(Boolean));
  const flow = $('#new-flow').value.trim();
  const err = $('#new-error');
  if (!ed.FILE_NAME.test(file)) err.textContent = 'Use small letters, digits, - and _ for the file name.';
  else if (state.files.some((f) => f.file === file)) err.textContent = `There is already a file called ${file}.`;
  else if (!langs.length) err.textContent = 'Choose at least one language.';
  else if (!/^[a-z0-9_-]+$/.test(flow)) err.textContent = 'Use small letters, digits, - and _ for the flow name.';
  else {
    $('#new-dialog').close();
    ed.newFileLocal(file, newFile([...new Set(langs)], flow, $('#new-channel').value));
    history.replaceState(null, '', `?file=${encodeURIComponent(file)}`);
    say(`Started ${file}. It is kept in this browser until you save it.`);
  }
}

// ---- the workspace ----

function drawTools() {
  const root = clear($('#graph-tools'));
  const flows = Object.keys((state.doc && state.doc.flows) || {});
  const langs = languages(state.doc || {});
  const flowSel = h('select', { id: 'flow-pick', onchange: (e) => { state.flow = e.target.value; state.selected = null; state.stats = null; state.limit = limitFor(state.channels, state.flow); emit('file'); } },
    flows.map((f) => h('option', { value: f, selected: f === state.flow }, f)));
  const kindSel = h('select', { id: 'add-kind' }, Object.entries(KINDS).map(([k, v]) => h('option', { value: k }, v.name)));
  const addFlowIn = h('input', { id: 'add-flow-name', placeholder: 'follow_up', size: 10 });
  const published = state.file && state.file.published;
  root.append(...[
    flows.length ? h('span', { class: 'inline' }, h('label', { for: 'flow-pick' }, 'Flow'), flowSel) : null,
    h('form', { class: 'inline', onsubmit: (e) => {
      e.preventDefault();
      const n = addFlowIn.value.trim().toLowerCase().replace(/[^a-z0-9_-]+/g, '_');
      if (!n || (state.doc.flows || {})[n]) return;
      change((d) => {
        d.flows = d.flows || {};
        d.flows[n] = newFile(languages(d), n, 'ussd').flows[n];
      });
      state.flow = n;
      emit('file');
      say(`Added the flow ${n}.`);
    } }, h('label', { for: 'add-flow-name' }, 'New flow'), addFlowIn, h('button', { type: 'submit' }, 'Add flow')),
    state.flow ? h('form', { class: 'inline', onsubmit: (e) => {
      e.preventDefault();
      let id;
      change((d) => { id = addNode(d, state.flow, kindSel.value, kindSel.value === 'end' ? 'goodbye' : kindSel.value); });
      state.selected = id;
      emit('select', { focusForm: true });
      say(`Added the screen ${id}.`);
    } }, h('label', { for: 'add-kind' }, 'Add'), kindSel, h('button', { type: 'submit', 'data-testid': 'add-screen' }, 'Add screen')) : null,
    langs.length > 1 ? h('span', { class: 'inline' }, h('label', { for: 'view-lang' }, 'Show texts in'),
      h('select', { id: 'view-lang', onchange: (e) => { state.viewLang = e.target.value; redrawGraph(); } }, langs.map((l) => h('option', { value: l, selected: l === (state.viewLang || langs[0]) }, langName(l))))) : null,
    h('span', { class: 'inline', role: 'group', 'aria-label': 'Zoom' },
      h('button', { type: 'button', 'aria-label': 'Zoom out', onclick: () => { zoom(0.8); redrawGraph(); } }, '−'),
      h('button', { type: 'button', 'aria-label': 'Actual size', onclick: () => { zoom(0); redrawGraph(); } }, '100%'),
      h('button', { type: 'button', 'aria-label': 'Zoom in', onclick: () => { zoom(1.25); redrawGraph(); } }, '+')),
    h('button', { type: 'button', onclick: () => { tidy(); redrawGraph(); say('Laid out afresh.'); } }, 'Tidy the map'),
    published && state.flow ? dropoffTools() : null,
  ].filter(Boolean));
}

function dropoffTools() {
  const opts = [[0, 'Off'], [1, 'Last day'], [7, 'Last 7 days'], [30, 'Last 30 days']];
  const s = state.stats && state.stats.flow === state.flow ? state.stats : null;
  return h('fieldset', { class: 'inline dropoff' }, h('legend', {}, 'Where people stop'),
    opts.map(([d, label]) => h('label', { class: 'radio' }, h('input', { type: 'radio', name: 'dropoff', value: d, checked: dropoffDays === d, onchange: () => loadStats(d) }), label)),
    s ? h('span', { class: 'summary', 'data-testid': 'dropoff-summary' },
      `${s.sessions} sessions · ${Math.round((s.completion_rate || 0) * 100)}% finished · ${(s.avg_slices || 0).toFixed(1)} slices on average`) : null);
}

async function loadStats(days) {
  dropoffDays = days;
  if (!days) {
    state.stats = null;
    emit('stats');
    return;
  }
  try {
    state.stats = await api.stats(state.file.file, state.flow, days);
  } catch (e) {
    state.stats = null;
    say(`Could not load the counts: ${e.message}`, 'error');
  }
  emit('stats');
}

function redrawGraph() {
  const focused = document.activeElement && document.activeElement.dataset && document.activeElement.dataset.node;
  drawGraph($('#graph'));
  if (focused) $(`#graph [data-node="${CSS.escape(focused)}"]`)?.focus();
}

function redrawForm(focusFirst = false) {
  const active = document.activeElement;
  const path = active && active.dataset && active.dataset.path;
  const side = $('#side');
  drawForm(side);
  if (path && side.contains(document.activeElement) === false) {
    const again = side.querySelector(`[data-path="${CSS.escape(path)}"]`);
    if (again) again.focus();
  }
  if (focusFirst) side.querySelector('input, select, textarea')?.focus();
}

function drawProblems() {
  const root = clear($('#problems'));
  const r = state.report || { errors: [], warnings: [] };
  const errs = r.errors || [];
  const warns = r.warnings || [];
  root.append(h('h2', { id: 'problems-title' }, errs.length || warns.length ? `Problems: ${errs.length} error${errs.length === 1 ? '' : 's'}, ${warns.length} warning${warns.length === 1 ? '' : 's'}` : 'No problems found'));
  if (state.parseError) root.append(h('p', { class: 'error' }, state.parseError));
  const item = (p, kind) => h('li', { class: kind },
    p.node && p.flow ? h('button', { type: 'button', class: 'link', onclick: () => {
      if (state.flow !== p.flow) { state.flow = p.flow; emit('file'); }
      state.selected = p.node;
      emit('select', { focusForm: true });
    } }, `${p.flow}: ${p.node}`) : h('span', {}, p.line ? `line ${p.line}` : 'file'),
    ` — ${p.message}`);
  root.append(h('ul', { class: 'problem-list' }, errs.map((p) => item(p, 'error')), warns.map((p) => item(p, 'warning'))));
}

function drawPaths() {
  const root = clear($('#paths'));
  const paths = ((state.report || {}).paths || {})[state.flow] || [];
  if (!paths.length) return;
  root.append(h('h2', { id: 'paths-title' }, 'Time each way takes (20 s billing slices)'),
    h('ul', { class: 'path-list' }, paths.map((p) => h('li', {},
      h('strong', {}, `to ${p.end}: ≈ ${p.slices} slice${p.slices === 1 ? '' : 's'}`), ` (${p.screens} screen${p.screens === 1 ? '' : 's'}, about ${p.secs} s) — `,
      (p.path || []).join(' → ')))));
}

function drawSaveState() {
  const el = $('#save-state');
  const f = state.file;
  if (!f) return;
  el.textContent = state.dirty ? (f.revision ? 'Unsaved changes' : 'New file — not saved yet') : `Saved${f.updated_by ? ` by ${f.updated_by}` : ''} ${when(f.updated_at)}`;
  el.dataset.dirty = state.dirty ? 'true' : 'false';
  $('#undo').disabled = state.history.size === 0;
}

function drawOffer() {
  const el = $('#offer');
  clear(el);
  el.hidden = !state.offer;
  if (!state.offer) return;
  el.append(`This browser kept changes to ${state.file.file} that were not saved (${when(state.offer.at)}). `,
    h('button', { type: 'button', class: 'primary', onclick: () => ed.restoreKept() }, 'Take them back'),
    ' ', h('button', { type: 'button', onclick: () => ed.dropKept() }, 'Drop them'));
}

function showTab(name) {
  tab = name;
  for (const t of ['graph', 'raw', 'sets', 'versions']) {
    const b = $(`#tab-${t}`);
    b.setAttribute('aria-selected', String(t === name));
    b.tabIndex = t === name ? 0 : -1;
    $(`#panel-${t}`).hidden = t !== name;
  }
  if (name === 'raw') {
    // Read-only until the server has written the document as YAML (nothing typed is lost).
    const ta = $('#raw-text');
    ta.value = state.rawDirty ? state.rawText : '';
    ta.readOnly = !state.rawDirty;
    ed.enterRaw().then((ok) => {
      if (!ok || tab !== 'raw' || !ta.readOnly) return;
      ta.value = state.rawText;
      ta.readOnly = false;
    });
  }
  if (name === 'sets') drawSets($('#panel-sets'));
  if (name === 'versions') loadVersions($('#panel-versions'), versionCtx);
  if (name === 'graph') {
    redrawGraph();
    redrawForm();
    drawSaveState();
  }
}

async function pickTab(name) {
  if (name === tab) return;
  if (tab === 'raw' && !(await ed.leaveRaw())) return;
  showTab(name);
  $(`#tab-${name}`).focus();
}

const versionCtx = {
  save: () => ed.save(),
  afterVersionChange: async () => {
    await ed.openFile(state.file.file, { keepLocal: false });
    loadFiles().catch(() => {});
  },
};

function drawWorkspace() {
  $('#start').hidden = true;
  $('#workspace').hidden = false;
  $('#top-actions').hidden = false;
  drawFilePick();
  drawTools();
  redrawGraph();
  redrawForm();
  drawProblems();
  drawPaths();
  drawSaveState();
  drawOffer();
  drawSim();
}

// ---- events from the state ----

let wasDirty = false;
on((what, detail) => {
  if (what === 'file') {
    resetSim();
    fitNext();
    drawWorkspace();
    showTab(state.mode === 'raw' ? 'raw' : tab === 'raw' ? 'graph' : tab);
    return;
  }
  if (what === 'doc') {
    if (state.mode !== 'raw') ed.scheduleCheck();
    redrawGraph();
    if (detail.form) {
      redrawForm();
      drawTools();
      if (tab === 'sets') drawSets($('#panel-sets'));
    } else refreshCounts();
    drawSaveState();
    if (state.dirty !== wasDirty) drawSim();
  } else if (what === 'report') {
    redrawGraph();
    drawProblems();
    drawPaths();
    refreshCounts();
    const slot = $('#side [data-testid="node-problems"]');
    if (state.selected && (slot || (state.report && (state.report.errors || []).some((p) => p.node === state.selected)))) redrawForm();
  } else if (what === 'select') {
    redrawGraph();
    redrawForm(detail.focusForm);
  } else if (what === 'active' || what === 'stats') {
    redrawGraph();
    if (what === 'stats') drawTools();
  } else if (what === 'saved') {
    drawSaveState();
    drawSim();
    drawProblems();
    loadFiles().catch(() => {});
    if (tab === 'versions') loadVersions($('#panel-versions'), versionCtx);
  } else if (what === 'conflict') {
    const c = state.conflict;
    $('#conflict-text').textContent = `${c.message || ''} ${c.updated_by ? `${c.updated_by} saved it at ${when(c.updated_at)}.` : ''}`.trim();
    $('#conflict').showModal();
  }
  wasDirty = state.dirty;
});

// ---- start ----

function wire() {
  $('#new-file').addEventListener('click', newFileDialog);
  $('#new-file-top').addEventListener('click', newFileDialog);
  $('#new-form').addEventListener('submit', createFromDialog);
  $('#new-cancel').addEventListener('click', () => $('#new-dialog').close());
  $('#file-pick').addEventListener('change', (e) => (e.target.value ? open(e.target.value) : showStart()));
  $('#save').addEventListener('click', () => ed.save());
  $('#undo').addEventListener('click', () => { if (!undo()) say('Nothing to undo.'); else say('Undone.'); });
  $('#raw-text').addEventListener('input', (e) => { ed.rawInput(e.target.value); drawSaveState(); });
  for (const t of ['graph', 'raw', 'sets', 'versions']) $(`#tab-${t}`).addEventListener('click', () => pickTab(t));
  $('.tabs').addEventListener('keydown', (e) => {
    const order = ['graph', 'raw', 'sets', 'versions'];
    const i = order.indexOf(tab);
    if (e.key === 'ArrowRight') pickTab(order[(i + 1) % order.length]);
    else if (e.key === 'ArrowLeft') pickTab(order[(i + order.length - 1) % order.length]);
  });
  $('#conflict-theirs').addEventListener('click', () => { $('#conflict').close(); ed.takeTheirs(); });
  $('#conflict-mine').addEventListener('click', async () => { $('#conflict').close(); await ed.keepMineAsCopy(state.files.map((f) => f.file)); loadFiles().catch(() => {}); });
  $('#conflict-cancel').addEventListener('click', () => { $('#conflict').close(); say('Not saved yet: someone else saved first. Your changes are kept in this browser.', 'warning'); });
  document.addEventListener('keydown', (e) => {
    if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
    if (e.key === 's') {
      e.preventDefault();
      if (state.file) ed.save();
    } else if (e.key === 'z' && !e.shiftKey && state.file && e.target.id !== 'raw-text' && !$('#workspace').hidden) {
      e.preventDefault();
      if (undo()) say('Undone.');
    }
  });
  window.addEventListener('beforeunload', (e) => {
    if (state.dirty) e.preventDefault();
  });
  whenExpired(() => {
    const next = `/studio/${state.file ? `?file=${encodeURIComponent(state.file.file)}` : ''}`;
    $('#signin-again').href = `/studio/login?next=${encodeURIComponent(next)}`;
    $('#expired').hidden = false;
  });
  setLayoutSaver(() => ed.saveLayout());
  initSim($('#sim'), { save: () => ed.save() });
}

async function boot() {
  state.me = { email: meta('seedgate-email'), role: meta('seedgate-role') || 'author' };
  wire();
  if (!state.me.email || state.me.email.includes('{{')) {
    try {
      const me = await api.me();
      state.me = { email: me.email, role: me.role };
      $('#who').textContent = `${me.email} · ${me.role}`;
    } catch (e) {
      if (e.status !== 401) fail(`The studio could not start: ${e.message}`);
    }
  }
  $('#top-file').hidden = false;
  try {
    const ch = await api.channels();
    state.channels = (ch && (ch.channels || ch)) || [];
    if (!Array.isArray(state.channels)) state.channels = [];
  } catch {
    state.channels = [];
  }
  try {
    await loadFiles();
  } catch (e) {
    fail(e.status === 401 ? 'Your session has expired: sign in again.' : `The list of flow files could not be loaded: ${e.message}`);
    return;
  }
  const want = new URLSearchParams(location.search).get('file');
  if (want) await open(want);
  document.body.dataset.ready = 'true';
}

boot();
