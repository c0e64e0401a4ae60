// Character counts while typing: a USSD screen's length per language, counted the way the
// validator does (the question, then "\n<key>. <label>" per option; expressions unrendered),
// and how many SMS parts a text takes. Pure; the server's report has the exact rendered figures.

import { bodyOf, textIn } from './doc.js';

export const DEFAULT_LIMIT = 182;

/** Unicode characters (what Rust's `chars().count()` counts), not UTF-16 units. */
export const chars = (s) => [...String(s ?? '')].length;

/** The screen a node shows in `lang` as a string, or null when it shows none. */
export function screenText(node, lang, base) {
  const b = bodyOf(node);
  if (b.kind === 'menu') {
    const m = b.value || {};
    const opts = (m.options || []).map((o) => `\n${o.key ?? ''}. ${textIn(o.label, lang, base)}`);
    return textIn(m.text, lang, base) + opts.join('');
  }
  if (b.kind === 'ask' || b.kind === 'end') return textIn(b.value && b.value.text, lang, base);
  return null;
}

/** `{lang: chars}` for every language of the file; null when the node shows no screen. */
export function screenCounts(node, langs) {
  const base = langs[0];
  if (screenText(node, base, base) === null) return null;
  return Object.fromEntries(langs.map((l) => [l, chars(screenText(node, l, base))]));
}

/** The longest screen a question shows: after a wrong answer the error stands above it. */
export function retryCount(node, lang, base) {
  const b = bodyOf(node);
  if (b.kind !== 'ask' || !b.value || !b.value.validate) return null;
  return chars(`${textIn(b.value.validate.error, lang, base)}\n${textIn(b.value.text, lang, base)}`);
}

const GSM = '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXT = '^{}\\[~]|€';

/** SMS parts for a text: GSM 03.38 (160, or 153 a part) else UCS-2 (70, or 67 a part). */
export function smsParts(text) {
  const s = String(text ?? '');
  let septets = 0;
  let gsm = true;
  for (const c of s) {
    if (GSM.includes(c)) septets += 1;
    else if (GSM_EXT.includes(c)) septets += 2;
    else { gsm = false; break; }
  }
  const n = gsm ? septets : [...s].reduce((a, c) => a + (c.codePointAt(0) > 0xffff ? 2 : 1), 0);
  const [one, part] = gsm ? [160, 153] : [70, 67];
  return { encoding: gsm ? 'GSM' : 'UCS-2', units: n, parts: n <= one ? 1 : Math.ceil(n / part) };
}

/** The channel limit for a flow: a channel running it may set its own. */
export function limitFor(channels, flowName) {
  const c = (channels || []).find((ch) => ch.flow === flowName && Number(ch.max_screen_chars) > 0);
  return c ? Number(c.max_screen_chars) : DEFAULT_LIMIT;
}
