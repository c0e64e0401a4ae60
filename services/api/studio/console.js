// The operator console (/console/): channels with their live status, dead webhooks (replay),
// API tokens (list and revoke, admins only), and the audit trail. Plain DOM, the same session and CSRF token as
// the studio; every call goes to this gateway's /api/v1.

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const role = document.querySelector('meta[name="seedgate-role"]').content;
const status = document.getElementById('status');

async function call(method, path) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: method === 'GET' ? {} : { 'X-CSRF-Token': csrf },
  });
  if (res.status === 401) {
    location.href = `/studio/login?next=${encodeURIComponent('/console/')}`;
    throw new Error('signed out');
  }
  const text = await res.text();
  const body = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error(body?.error?.message ?? `${res.status}`);
  return body;
}

const when = (t) => (t ? new Date(t).toLocaleString() : '–');

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  tr.append(td);
  return td;
}

function fill(table, rows, render) {
  const body = table.querySelector('tbody');
  body.replaceChildren(...rows.map((r) => {
    const tr = document.createElement('tr');
    render(tr, r);
    return tr;
  }));
}

async function channels() {
  const list = await call('GET', '/api/v1/channels');
  fill(document.querySelector('[data-testid="channels"]'), list, (tr, c) => {
    tr.dataset.channel = c.name;
    cell(tr, c.name);
    cell(tr, c.type);
    cell(tr, c.status, `health ${c.status}`).dataset.testid = `status-${c.name}`;
    cell(tr, c.reasons.join('; '));
    cell(tr, when(c.since));
  });
}

async function dead() {
  const list = await call('GET', '/api/v1/webhooks/dead');
  fill(document.querySelector('[data-testid="dead"]'), list, (tr, w) => {
    tr.dataset.webhook = w.id;
    cell(tr, w.channel);
    cell(tr, w.kind);
    cell(tr, w.url);
    cell(tr, String(w.attempts));
    cell(tr, w.last_error ?? '');
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = 'Replay';
    b.setAttribute('aria-label', `Replay the ${w.kind} webhook of ${w.channel} (${w.id.slice(-6)})`);
    b.addEventListener('click', async () => {
      try {
        await call('POST', `/api/v1/webhooks/${w.id}/replay`);
        status.textContent = `The ${w.kind} webhook of ${w.channel} is queued again.`;
        await Promise.all([dead(), audit()]);
      } catch (e) {
        status.textContent = `Could not replay it: ${e.message}`;
      }
    });
    cell(tr, '').append(b);
  });
}

async function tokens() {
  const list = await call('GET', '/api/v1/tokens');
  fill(document.querySelector('[data-testid="tokens"]'), list, (tr, t) => {
    tr.dataset.token = t.id;
    cell(tr, t.name);
    cell(tr, t.scopes.join(', '));
    cell(tr, when(t.created_at));
    cell(tr, when(t.last_used_at));
    cell(tr, t.status === 'revoked' ? `revoked ${when(t.revoked_at)}` : 'live');
    const td = cell(tr, '');
    if (t.status === 'live') {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = 'Revoke';
      b.setAttribute('aria-label', `Revoke token ${t.name} (${t.id.slice(-6)})`);
      b.addEventListener('click', async () => {
        if (!confirm(`Revoke the token "${t.name}"? Whatever uses it is refused from its next request.`)) return;
        try {
          await call('DELETE', `/api/v1/tokens/${t.id}`);
          status.textContent = `Token "${t.name}" revoked.`;
          await Promise.all([tokens(), audit()]);
        } catch (e) {
          status.textContent = `Could not revoke "${t.name}": ${e.message}`;
        }
      });
      td.append(b);
    }
  });
}

async function audit() {
  const action = document.getElementById('audit-action').value;
  const page = await call('GET', `/api/v1/audit?limit=100${action ? `&action=${encodeURIComponent(action)}` : ''}`);
  fill(document.querySelector('[data-testid="audit"]'), page.items, (tr, e) => {
    cell(tr, when(e.at));
    cell(tr, e.actor);
    cell(tr, e.action);
    cell(tr, e.target);
    cell(tr, e.source);
  });
}

async function refresh(what) {
  try {
    await what();
  } catch (e) {
    status.textContent = `Could not load: ${e.message}`;
  }
}

document.getElementById('audit-action').addEventListener('change', () => refresh(audit));
const admin = role === 'admin';
document.getElementById('tokens').hidden = !admin;
await Promise.all([refresh(channels), refresh(dead), admin ? refresh(tokens) : null, refresh(audit)]);
setInterval(() => refresh(channels), 5000);
setInterval(() => refresh(dead), 15000);
document.body.dataset.ready = 'true';
