// Calls to the gateway's /api/v1 (docs: coord/API.md): the CSRF header on every change, JSON
// errors turned into ApiError with the code, status and any extra keys (`current`, `report`).

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || '';

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `The gateway answered ${status}.`);
    this.status = status;
    this.code = err.code || (status === 401 ? 'unauthorized' : 'http');
    this.body = body || {};
  }
}

/** Listeners for a 401 (the session expired): the page shows "sign in again". */
const onExpired = [];
export const whenExpired = (f) => onExpired.push(f);

export async function call(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf();
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', signal: opts.signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, { error: { code: 'network', message: 'The gateway cannot be reached. Check the connection and try again.' } });
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: { code: 'http', message: `The gateway answered ${res.status} with something that is not JSON.` } };
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 401) onExpired.forEach((f) => f(err));
    throw err;
  }
  return data;
}

const f = (file) => `/api/v1/flows/${encodeURIComponent(file)}`;

export const api = {
  me: () => call('GET', '/api/v1/me'),
  files: () => call('GET', '/api/v1/flows'),
  channels: () => call('GET', '/api/v1/channels'),
  open: (file) => call('GET', f(file)),
  save: (file, body) => call('PUT', f(file), body),
  check: (file, body, signal) => call('POST', `${f(file)}/check`, body, { signal }),
  layout: (file, positions) => call('PUT', `${f(file)}/layout`, { positions }),
  publish: (file, base) => call('POST', `${f(file)}/publish`, { base_revision: base }),
  rollback: (file) => call('POST', `${f(file)}/rollback`, {}),
  versions: (file) => call('GET', `${f(file)}/versions`),
  version: (file, n) => call('GET', `${f(file)}/versions/${n}`),
  restore: (file, n) => call('POST', `${f(file)}/versions/${n}/restore`, {}),
  simulate: (body) => call('POST', '/api/v1/simulate', body),
  tests: (file) => call('POST', `${f(file)}/tests`, {}),
  preview: (file, body) => call('POST', `${f(file)}/preview`, body),
  stats: (file, flow, days) => call('GET', `${f(file)}/stats?flow=${encodeURIComponent(flow)}&days=${days}`),
};
