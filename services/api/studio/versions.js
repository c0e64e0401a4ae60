// Versions: what was published when and by whom, every save/publish/restore (the audit),
// restoring a version into the draft, publishing the draft and rolling back (publishers only;
// the server checks the role on every call, so a 403 is shown too).

import { h, clear, say, when } from './dom.js';
import { api } from './api.js';
import { state, canPublish } from './state.js';

let data = null;
let message = null;

const ACTION_WORDS = { save: 'saved the draft', publish: 'published', restore: 'restored a version into the draft', rollback: 'rolled back', create: 'created the file', import: 'imported the file' };

export async function loadVersions(root, ctx) {
  if (message && state.file && message.file !== state.file.file) message = null;
  if (!state.file || !state.file.revision) {
    data = { versions: [], audit: [] };
  } else {
    try {
      data = await api.versions(state.file.file);
    } catch (e) {
      data = { versions: [], audit: [], error: e.message };
    }
  }
  drawVersions(root, ctx);
}

function problem(e) {
  if (e.status === 403) return 'Only a publisher can do this. Ask a publisher or an admin to publish for you.';
  if (e.code === 'invalid_flow') {
    const errs = (e.body.report && e.body.report.errors) || [];
    return `It cannot be published while it has ${errs.length} error${errs.length === 1 ? '' : 's'}: ${errs.slice(0, 3).map((p) => p.message).join('; ')}${errs.length > 3 ? '…' : ''}`;
  }
  if (e.code === 'version_conflict' || e.code === 'conflict') return `${e.message} Reload the file to see their changes first.`;
  return e.message;
}

async function act(root, ctx, what, f) {
  message = { kind: 'busy', text: `${what}…`, file: state.file.file };
  drawVersions(root, ctx);
  try {
    const res = await f();
    message = { kind: 'ok', text: `${what}: done.`, file: state.file.file };
    say(message.text, 'ok');
    await ctx.afterVersionChange(res);
  } catch (e) {
    message = { kind: 'error', text: problem(e), file: state.file.file };
    say(message.text, 'error');
  }
  await loadVersions(root, ctx);
}

export function drawVersions(root, ctx) {
  clear(root);
  if (!state.file) return;
  const pub = canPublish();
  const head = h('div', { class: 'toolbar' });
  if (pub) {
    head.append(
      h('button', { type: 'button', class: 'primary', 'data-testid': 'publish', onclick: async () => {
        if (state.dirty && !(await ctx.save())) return;
        act(root, ctx, 'Publishing', () => api.publish(state.file.file, state.file.revision));
      } }, 'Publish the draft'),
      h('button', { type: 'button', 'data-testid': 'rollback', disabled: !(data && data.versions && data.versions.length > 1), onclick: () => act(root, ctx, 'Rolling back', () => api.rollback(state.file.file)) }, 'Roll back to the version before'),
    );
  } else head.append(h('p', { class: 'hint' }, 'You can write and try drafts; a publisher makes them live.'));
  root.append(h('h2', {}, 'Versions'), head);
  if (message) root.append(h('p', { class: message.kind, role: message.kind === 'error' ? 'alert' : 'status', 'data-testid': 'versions-message' }, message.text));
  if (!data) {
    root.append(h('p', {}, 'Loading…'));
    return;
  }
  if (data.error) root.append(h('p', { class: 'error', role: 'alert' }, data.error));
  const vs = data.versions || [];
  root.append(vs.length
    ? h('table', { class: 'versions', 'data-testid': 'versions' },
      h('caption', {}, 'Published versions (newest first)'),
      h('thead', {}, h('tr', {}, ['Version', 'Published by', 'When', 'Live', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, [...vs].sort((a, b) => b.number - a.number).map((v) => h('tr', { class: v.live ? 'live' : '' },
        h('td', {}, String(v.number)), h('td', {}, v.published_by || ''), h('td', {}, when(v.published_at)),
        h('td', {}, v.live ? 'Live now' : ''),
        h('td', {}, h('button', { type: 'button', 'aria-label': `Make version ${v.number} the draft`, onclick: () => act(root, ctx, `Restoring version ${v.number} into the draft`, () => api.restore(state.file.file, v.number)) }, 'Make this the draft'))))))
    : h('p', {}, 'Not published yet.'));
  const audit = data.audit || [];
  if (audit.length) {
    root.append(h('h3', {}, 'Who changed what'), h('ol', { class: 'audit', reversed: true },
      [...audit].sort((a, b) => String(b.at).localeCompare(String(a.at))).slice(0, 100).map((a) => h('li', {}, h('strong', {}, a.actor || 'someone'), ` ${ACTION_WORDS[a.action] || a.action}`,
        a.version ? ` (version ${a.version})` : a.revision ? ` (draft ${a.revision})` : '', ' — ', when(a.at)))));
  }
}
