// The studio's one state: the open file, its working document, the last report, what is
// selected and lit. Every change to the document goes through `change`, which records undo,
// keeps the unsaved work in localStorage and tells the views.

import { History } from './history.js';
import { deepClone } from './doc.js';

export const state = {
  me: { email: '', role: 'author' },
  files: [],
  channels: [],
  /** The server's record of the open file: {file, revision, updated_by, updated_at, published, text}. */
  file: null,
  doc: null,
  layout: {},
  report: null,
  flow: null,
  selected: null,
  dirty: false,
  /** 'graph' edits `doc`; 'raw' edits `rawText` (the doc is re-read when going back). */
  mode: 'graph',
  rawText: '',
  rawDirty: false,
  stats: null,
  active: null,
  history: new History(),
  checks: 0,
};

const listeners = [];
export const on = (f) => listeners.push(f);
export const emit = (what, detail = {}) => listeners.forEach((f) => f(what, detail));

export const canPublish = () => ['publisher', 'admin'].includes(state.me.role);

const draftKey = (file) => `seedgate.studio.unsaved.${file}`;

/** Keeps the unsaved work in this browser: a signed-out or closed tab loses nothing. */
export function persist() {
  if (!state.file) return;
  const rec = {
    base_revision: state.file.revision,
    at: new Date().toISOString(),
    ...(state.mode === 'raw' && state.rawDirty ? { text: state.rawText } : { doc: state.doc }),
    layout: state.layout,
  };
  try {
    localStorage.setItem(draftKey(state.file.file), JSON.stringify(rec));
  } catch {
    /* storage full or off: the work stays in the page */
  }
}

export function unsaved(file) {
  try {
    const v = localStorage.getItem(draftKey(file));
    return v ? JSON.parse(v) : null;
  } catch {
    return null;
  }
}

export function forget(file) {
  try {
    localStorage.removeItem(draftKey(file));
  } catch {
    /* nothing kept */
  }
}

/**
 * Changes the document: `mutate(doc)` edits it in place. `key` groups quick edits of one field
 * into one undo step; `form: true` redraws the form (a change of shape, not of a letter).
 */
export function change(mutate, { key = null, form = true } = {}) {
  state.history.record(deepClone(state.doc), key);
  mutate(state.doc);
  state.dirty = true;
  persist();
  emit('doc', { form });
}

export function undo() {
  const prev = state.history.undo();
  if (prev === undefined) return false;
  state.doc = prev;
  state.dirty = true;
  if (state.selected && !(state.doc.flows?.[state.flow]?.nodes || {})[state.selected]) state.selected = null;
  if (!state.doc.flows?.[state.flow]) state.flow = Object.keys(state.doc.flows || {})[0] || null;
  persist();
  emit('doc', { form: true });
  return true;
}
