// Unit tests of the studio's pure helpers (not loaded by the page): node --test services/api/studio/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chars, screenCounts, smsParts, limitFor, retryCount } from '../count.js';
import { bodyOf, exits, edges, addNode, deleteNode, renameNode, changeKind, uniqueName, missingLanguages, textIn, newFile, setAt, getAt } from '../doc.js';
import { buildTranscript, diffLines, uniqueTestName } from '../transcript.js';
import { History } from '../history.js';
import { describeOffset, nextOffset } from '../sets.js';
import { moreKey } from '../sim.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = (n) => JSON.parse(fs.readFileSync(path.join(here, 'fixtures', `${n}.json`), 'utf8'));
const reg = () => fixture('registration');

test('characters are counted as Unicode scalar values, like Rust chars()', () => {
  assert.equal(chars('Ukhulelwe?'), 10);
  assert.equal(chars('é'), 1);
  assert.equal(chars('👶🏾'), 2);
});

test('a menu screen counts its text and "\\n<key>. <label>" per option, in every language', () => {
  const doc = reg();
  const consent = doc.flows.registration.nodes.consent;
  const eng = doc.flows.registration.nodes.consent.menu.text.eng;
  const c = screenCounts(consent, doc.languages);
  assert.equal(c.eng, chars(eng) + '\n1. Yes'.length + '\n2. No'.length);
  assert.equal(c.zul, chars(consent.menu.text.zul) + '\n1. Yebo'.length + '\n2. Cha'.length);
  assert.equal(screenCounts(doc.flows.registration.nodes.register, doc.languages), null);
});

test('a question with a check counts the error above it too', () => {
  const doc = reg();
  const weeks = doc.flows.registration.nodes.weeks;
  assert.equal(retryCount(weeks, 'eng', 'eng'), chars(weeks.ask.validate.error.eng) + 1 + chars(weeks.ask.text.eng));
});

test('a plain text counts for every language; a missing translation falls back to the base', () => {
  const node = { menu: { text: { eng: 'Pick', zul: '' }, options: [{ key: '1', label: 'English', goto: 'x' }] } };
  assert.deepEqual(screenCounts(node, ['eng', 'zul']), { eng: 15, zul: 11 });
  assert.deepEqual(missingLanguages(node.menu.text, ['eng', 'zul']), ['zul']);
  assert.deepEqual(missingLanguages('English', ['eng', 'zul']), []);
  assert.equal(textIn({ eng: 'a' }, 'zul', 'eng'), 'a');
});

test('SMS parts: GSM 160/153, UCS-2 70/67', () => {
  assert.deepEqual(smsParts('a'.repeat(160)), { encoding: 'GSM', units: 160, parts: 1 });
  assert.equal(smsParts('a'.repeat(161)).parts, 2);
  assert.equal(smsParts('€'.repeat(80)).parts, 1);
  assert.equal(smsParts('ŋ'.repeat(71)).encoding, 'UCS-2');
  assert.equal(smsParts('ŋ'.repeat(71)).parts, 2);
});

test('the channel running a flow sets its limit, else 182', () => {
  assert.equal(limitFor([{ flow: 'x', max_screen_chars: 160 }], 'x'), 160);
  assert.equal(limitFor([{ flow: 'y', max_screen_chars: 160 }], 'x'), 182);
});

test('every arrow of the registration flow is found, with labels', () => {
  const flow = reg().flows.registration;
  const from = (id) => exits(flow.nodes[id]).map((e) => [e.label, e.to]);
  assert.deepEqual(from('consent'), [['1', 'pregnant'], ['2', 'no_consent']]);
  assert.deepEqual(from('weeks'), [['too many wrong answers', 'ask_nurse'], ['answered', 'language']]);
  assert.deepEqual(from('register'), [['worked', 'registered'], ['failed', 'registry_down']]);
  assert.equal(edges(flow).length, 10);
});

test('bodies the language helper adds are read generically', () => {
  assert.deepEqual(exits({ subflow: { flow: 'other', then: 'next' } }).map((e) => [e.label, e.to]), [['afterwards', 'next']]);
  assert.deepEqual(exits({ random: { branches: [{ weight: 30, goto: 'a' }, { weight: 70, goto: 'b' }] } }).map((e) => [e.label, e.to]), [['30%', 'a'], ['70%', 'b']]);
  assert.deepEqual(exits({ wait: { for: '2d', goto: 'w' } }).map((e) => e.to), ['w']);
  assert.deepEqual(exits({ goto: 'flow:other' }).map((e) => e.to), ['flow:other']);
  const odd = bodyOf({ actions: [], teleport: { goto: 'x' } });
  assert.equal(odd.kind, 'teleport');
  assert.equal(odd.known, false);
  assert.equal(bodyOf({ menu: {}, end: {} }).kind, 'several');
  assert.equal(bodyOf({ actions: [] }).kind, 'none');
});

test('renaming a screen follows every arrow, the start, layout and test stubs', () => {
  const doc = reg();
  const layout = { 'registration/register': { x: 1, y: 2 } };
  renameNode(doc, 'registration', 'register', 'send_to_registry', layout);
  const flow = doc.flows.registration;
  assert.ok(flow.nodes.send_to_registry && !flow.nodes.register);
  assert.equal(flow.nodes.language.menu.options[0].goto, 'send_to_registry');
  assert.deepEqual(flow.tests[0].webhooks, { send_to_registry: { status: 201, body: { id: 'REG-0001' } } });
  assert.deepEqual(layout, { 'registration/send_to_registry': { x: 1, y: 2 } });
  assert.deepEqual(Object.keys(flow.nodes).slice(0, 3), ['consent', 'no_consent', 'pregnant']);
  renameNode(doc, 'registration', 'consent', 'hello');
  assert.equal(doc.flows.registration.start, 'hello');
  assert.throws(() => renameNode(doc, 'registration', 'hello', 'weeks'), /already/);
  assert.throws(() => renameNode(doc, 'registration', 'hello', 'Bad Name'), /small letters/);
});

test('adding, changing and deleting screens', () => {
  const doc = newFile(['eng', 'zul'], 'main', 'ussd');
  assert.deepEqual(doc.flows.main.nodes.welcome.menu.text, { eng: '', zul: '' });
  const id = addNode(doc, 'main', 'end', 'goodbye');
  assert.equal(id, 'goodbye');
  assert.equal(addNode(doc, 'main', 'end', 'goodbye'), 'goodbye_2');
  assert.equal(uniqueName(doc.flows.main, 'Good bye!'), 'good_bye');
  doc.flows.main.nodes.goodbye.actions = [{ add_group: 'x' }];
  changeKind(doc, 'main', 'goodbye', 'ask');
  assert.deepEqual(Object.keys(doc.flows.main.nodes.goodbye), ['actions', 'ask']);
  deleteNode(doc, 'main', 'welcome');
  assert.equal(doc.flows.main.start, 'goodbye');
  const o = {};
  setAt(o, ['a', 0, 'b'], 1);
  assert.deepEqual(o, { a: [{ b: 1 }] });
  setAt(o, ['a', 0], undefined);
  assert.deepEqual(getAt(o, ['a']), []);
});

test('a run becomes a transcript in the tests: format', () => {
  const t = buildTranscript({
    name: 'clinic times', code: '*134*550#', contact: { language: 'zul' },
    stubs: { register: { status: 201, body: { id: 'R1' } } },
    steps: [
      { kind: 'dial', screen: { text: 'Welcome\n1. Times', continue: true } },
      { kind: 'input', input: '1', screen: { text: 'Open 8-16', continue: false } },
      { kind: 'timeout', screen: null },
    ],
  });
  assert.deepEqual(t, {
    name: 'clinic times', contact: { language: 'zul' }, webhooks: { register: { status: 201, body: { id: 'R1' } } },
    steps: [
      { dial: '*134*550#', expect: { continue: true, screen: 'Welcome\n1. Times' } },
      { input: '1', expect: { continue: false, screen: 'Open 8-16' } },
      { timeout: true },
    ],
  });
  assert.equal(uniqueTestName([{ name: 'a' }, { name: 'a (2)' }], 'a'), 'a (3)');
});

test('a failed test shows as a line diff, read from the server\'s', () => {
  const diff = '  screen differs (- expected, + shown):\n    Welcome\n  - 1. Yes\n  + 1. Yebo\n    2. No\n';
  assert.deepEqual(diffLines(diff).map((d) => d.op), ['same', 'same', 'del', 'add', 'same']);
  assert.equal(diffLines(diff)[2].line, '  - 1. Yes');
});

test('undo groups quick typing in one field into one step', () => {
  const h = new History();
  h.record('s0', 'f', 0);
  h.record('s1', 'f', 500);
  h.record('s2', 'f', 1400);
  h.record('s3', 'f', 3000);
  h.record('s4', 'g', 3100);
  assert.deepEqual([h.undo(), h.undo(), h.undo(), h.undo()], ['s4', 's3', 's0', undefined]);
});

test('message set offsets in words, and the next one', () => {
  assert.equal(describeOffset('-36w'), '36 weeks before');
  assert.equal(describeOffset('+1d'), '1 day after');
  assert.equal(describeOffset('0w'), 'on the day');
  assert.equal(nextOffset('-36w'), '-35w');
  assert.equal(nextOffset('-1w'), '0w');
  assert.equal(nextOffset('+2d'), '+3d');
  assert.equal(nextOffset(undefined), '0d');
});

test('the more key is read from a page’s last line', () => {
  assert.equal(moreKey('Long text\n98. More'), '98');
  assert.equal(moreKey('Long text\n# Next'), '#');
  assert.equal(moreKey('Just text'), null);
});
