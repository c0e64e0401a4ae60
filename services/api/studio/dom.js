// Small DOM helpers: `h` builds elements (no innerHTML anywhere, so no text is ever markup),
// `svg` builds SVG elements, `say` speaks to the screen reader's live region.

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = v;
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
export const svg = (tag, attrs, ...children) => build(document.createElementNS('http://www.w3.org/2000/svg', tag), attrs, children);

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Tells screen-reader users what just happened, and shows it in the status line. */
export function say(text, kind = 'info') {
  const el = document.getElementById('status');
  if (!el) return;
  el.textContent = text;
  el.dataset.kind = kind;
}

/** "14 Mar, 10:42" in the reader's own locale. */
export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** A language code as a name staff know. */
const NAMES = { eng: 'English', zul: 'isiZulu', xho: 'isiXhosa', sot: 'Sesotho', tsn: 'Setswana', afr: 'Afrikaans', nso: 'Sepedi', ven: 'Tshivenda', tso: 'Xitsonga', ssw: 'siSwati', nbl: 'isiNdebele', por: 'Português', fra: 'Français', swa: 'Kiswahili' };
export const langName = (code) => NAMES[code] || code;

let uid = 0;
export const nextId = (p = 'f') => `${p}${++uid}`;
