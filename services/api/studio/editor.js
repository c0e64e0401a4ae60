// Opening, checking and saving a flow file: live validation (debounced, the server's
// validator), saving with the revision it was based on, conflicts (someone saved first),
// unsaved work kept in this browser, the raw YAML text, new files and copies. YAML is the
// server's business: it reads text into `doc` and writes `doc` as text (check, GET, PUT).

import { api, ApiError } from './api.js';
import { say } from './dom.js';
import { deepClone, languages } from './doc.js';
import { limitFor } from './count.js';
import { state, emit, persist, forget, unsaved } from './state.js';

export const FILE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}\.ya?ml$/;

let checkTimer = null;
let checkAbort = null;

/** What to send for a check or a save: the raw text in the raw tab, else the document. */
function body() {
  return state.mode === 'raw' && state.rawDirty ? { text: state.rawText } : { doc: state.doc };
}

/** Checks the work ~300 ms after the last change (one check at a time; older ones abandoned). */
export function scheduleCheck(delay = 300) {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(runCheck, delay);
}

export async function runCheck() {
  if (!state.file) return;
  if (checkAbort) checkAbort.abort();
  const ctl = new AbortController();
  checkAbort = ctl;
  const t0 = performance.now();
  try {
    const res = await api.check(state.file.file, body(), ctl.signal);
    state.report = res.report || res;
    state.parseError = null;
  } catch (e) {
    if (e.name === 'AbortError') return;
    if (e instanceof ApiError && e.code === 'invalid_yaml') {
      state.report = e.body.report || { errors: [{ message: e.message }], warnings: [] };
      state.parseError = e.message;
    } else if (e.status !== 401) say(`Could not check the file: ${e.message}`, 'error');
  } finally {
    if (checkAbort === ctl) checkAbort = null;
  }
  state.checks += 1;
  document.body.dataset.checks = String(state.checks);
  document.body.dataset.lastCheckMs = String(Math.round(performance.now() - t0));
  emit('report');
}

function adopt(rec) {
  state.file = { file: rec.file, revision: rec.revision, updated_by: rec.updated_by, updated_at: rec.updated_at, published: rec.published, text: rec.text };
  state.doc = rec.doc ? deepClone(rec.doc) : { languages: ['eng'], flows: {} };
  state.layout = (rec.layout && (rec.layout.positions || rec.layout)) || {};
  state.report = rec.report || null;
  state.parseError = rec.doc ? null : 'This file does not parse; fix it in the Raw YAML tab.';
  state.dirty = false;
  state.rawDirty = false;
  state.mode = rec.doc ? 'graph' : 'raw';
  state.rawText = rec.text || '';
  state.history.clear();
  state.selected = null;
  state.stats = null;
  state.active = null;
  const flows = Object.keys(state.doc.flows || {});
  if (!flows.includes(state.flow)) state.flow = flows[0] || null;
  state.limit = limitFor(state.channels, state.flow);
}

/** Opens a file from the server; offers back any unsaved work this browser kept for it. */
export async function openFile(name, { keepLocal = true } = {}) {
  const rec = await api.open(name);
  adopt(rec);
  const kept = keepLocal ? unsaved(name) : null;
  if (kept) {
    const same = kept.doc && JSON.stringify(kept.doc) === JSON.stringify(rec.doc);
    if (!same) state.offer = kept;
    else forget(name);
  }
  emit('file');
  scheduleCheck(0);
}

/** Takes back the work kept in this browser (its base revision stays, so a conflict is caught). */
export function restoreKept() {
  const k = state.offer;
  state.offer = null;
  if (!k) return;
  state.file.revision = k.base_revision ?? state.file.revision;
  if (k.text !== undefined) {
    state.mode = 'raw';
    state.rawText = k.text;
    state.rawDirty = true;
  } else state.doc = k.doc;
  if (k.layout) state.layout = k.layout;
  state.dirty = true;
  const flows = Object.keys(state.doc.flows || {});
  if (!flows.includes(state.flow)) state.flow = flows[0] || null;
  emit('file');
  scheduleCheck(0);
}

export function dropKept() {
  if (state.file) forget(state.file.file);
  state.offer = null;
  emit('file');
}

/** A new file, not yet on the server (it is created by the first save). */
export function newFileLocal(name, doc) {
  adopt({ file: name, revision: 0, doc, layout: {}, text: '' });
  state.dirty = true;
  persist();
  emit('file');
  scheduleCheck(0);
}

/**
 * Saves the draft. Resolves true when saved; on a conflict `state.conflict` is set for the
 * page to ask what to do; other problems are said. Nothing is lost: the work stays here.
 */
export async function save() {
  if (!state.file) return false;
  clearTimeout(checkTimer);
  const b = { ...body(), base_revision: state.file.revision || 0 };
  say('Saving…');
  let res;
  try {
    res = await api.save(state.file.file, b);
  } catch (e) {
    if (e.code === 'version_conflict' || e.code === 'conflict') {
      state.conflict = { ...(e.body.current || {}), message: e.message };
      emit('conflict');
    } else if (e.code === 'invalid_yaml') {
      state.report = e.body.report || state.report;
      emit('report');
      say(`Not saved: ${e.message}`, 'error');
    } else if (e.code === 'too_large') say('Not saved: the file is too large (at most 256 KiB). Split it into two files.', 'error');
    else if (e.status === 401) say('Not saved: your session has expired. Your work is kept in this browser — sign in again.', 'error');
    else say(`Not saved: ${e.message}`, 'error');
    return false;
  }
  const wasNew = !state.file.revision;
  Object.assign(state.file, { revision: res.revision, updated_by: res.updated_by, updated_at: res.updated_at });
  state.report = res.report || state.report;
  if (state.mode === 'raw' && state.rawDirty) {
    state.file.text = state.rawText;
    state.rawDirty = false;
    await reloadDoc().catch(() => {});
  } else state.file.text = null;
  state.dirty = false;
  forget(state.file.file);
  if (wasNew || Object.keys(state.layout).length) saveLayout();
  const errs = (state.report && state.report.errors || []).length;
  say(errs ? `Saved as a draft, with ${errs} problem${errs === 1 ? '' : 's'} to fix before it can be published.` : 'Saved.', errs ? 'warning' : 'ok');
  emit('saved');
  return true;
}

async function reloadDoc() {
  const rec = await api.open(state.file.file);
  state.doc = rec.doc || state.doc;
  state.file.text = rec.text;
}

export async function saveLayout() {
  if (!state.file || !state.file.revision) return;
  try {
    await api.layout(state.file.file, state.layout);
  } catch (e) {
    if (e.status !== 401) say(`The positions of the boxes were not kept: ${e.message}`, 'warning');
  }
}

/** After a conflict: take their version (mine is dropped) — or keep mine as a new file. */
export async function takeTheirs() {
  state.conflict = null;
  forget(state.file.file);
  await openFile(state.file.file, { keepLocal: false });
  say('Loaded their version. Your changes were dropped.');
}

export async function keepMineAsCopy(existing) {
  state.conflict = null;
  const base = state.file.file.replace(/\.ya?ml$/, '');
  let name = `${base}-copy.yaml`;
  for (let i = 2; existing.includes(name); i++) name = `${base}-copy-${i}.yaml`;
  const doc = state.mode === 'raw' && state.rawDirty ? null : deepClone(state.doc);
  const text = doc ? null : state.rawText;
  const layout = deepClone(state.layout);
  const old = state.file.file;
  state.file = { file: name, revision: 0 };
  if (doc) state.doc = doc;
  state.layout = layout;
  const ok = await save();
  if (ok) {
    forget(old);
    say(`Your changes are saved as a new file, ${name}. The other file keeps their version.`, 'ok');
    await openFile(name, { keepLocal: false });
  } else if (text !== null) state.rawText = text;
  return ok ? name : null;
}

/**
 * Into the raw tab: the file's own text while nothing changed, else the document as the
 * server writes it (a check of the doc answers its YAML).
 */
export async function enterRaw() {
  state.mode = 'raw';
  if (state.rawDirty) return true;
  if (!state.dirty && state.file && state.file.text) {
    state.rawText = state.file.text;
    return true;
  }
  try {
    const text = (await api.check(state.file.file, { doc: state.doc })).text || '';
    if (!state.rawDirty) state.rawText = text;
    return true;
  } catch (e) {
    say(`Could not show the YAML: ${e.message}`, 'error');
    state.mode = 'graph';
    return false;
  }
}

/**
 * Out of the raw tab: the server reads the text back into the document. Resolves false when
 * it must stay (the text does not parse; what is wrong is shown).
 */
export async function leaveRaw() {
  if (!state.rawDirty) {
    state.mode = 'graph';
    return true;
  }
  let res;
  try {
    res = await api.check(state.file.file, { text: state.rawText });
  } catch (e) {
    say(`Fix the YAML first: ${e.message}`, 'error');
    return false;
  }
  const doc = res.doc;
  if (!res.parses || !doc || typeof doc !== 'object' || Array.isArray(doc)) {
    state.report = res.report || state.report;
    const first = ((res.report && res.report.errors) || [])[0];
    state.parseError = first ? first.message : 'The text is not a flow file.';
    emit('report');
    say(`Fix the YAML first: ${state.parseError}`, 'error');
    return false;
  }
  state.history.record(deepClone(state.doc));
  state.doc = doc;
  state.report = res.report || state.report;
  state.parseError = null;
  state.rawDirty = false;
  state.mode = 'graph';
  persist();
  return true;
}

export function rawInput(text) {
  state.rawText = text;
  state.rawDirty = true;
  state.dirty = true;
  persist();
  scheduleCheck();
}

export const fileLanguages = () => languages(state.doc);
