// An ESME nobody on the team wrote (npm smpp 0.5.1) against seedgate's SMPP server.
//
// Binds as a transceiver, submits COUNT messages (GSM7, UCS2, and long text in
// message_payload, in turn) with registered delivery, answers every receipt, unbinds, and
// prints a JSON summary. Exits non-zero if a submit or a receipt is missing.
//
// usage: node npm_esme.js HOST PORT COUNT
'use strict';
const smpp = require('smpp');

const [host, port, count] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const TEXTS = [
  'Sawubona! Drink clean water every day.',
  'Ngiyabonga 👶🏽 umntwana wakho uyakhula kahle.',
  'Week 30: ' + 'Count your baby\'s kicks every day and visit the clinic if they slow down. '.repeat(6),
];

const ids = new Set();
const receipts = new Map();
let errors = [];
const started = Date.now();

const session = smpp.connect({ url: `smpp://${host}:${port}`, auto_enquire_link_period: 10000 });
session.on('error', (e) => { errors.push(String(e)); finish(1); });
session.on('deliver_sm', (pdu) => {
  const id = String(pdu.receipted_message_id || '');
  receipts.set(id, pdu.message_state);
  session.send(pdu.response());
  maybeDone();
});

function finish(code) {
  const summary = {
    messages: count,
    accepted: ids.size,
    receipts: receipts.size,
    receipts_matching_ids: [...ids].filter((id) => receipts.has(id)).length,
    delivered: [...receipts.values()].filter((s) => s === 2).length,
    errors,
    seconds: (Date.now() - started) / 1000,
  };
  console.log(JSON.stringify(summary));
  process.exit(code);
}

function maybeDone() {
  if (ids.size === count && receipts.size >= count) {
    session.unbind(() => { session.close(); finish(0); });
  }
}

setTimeout(() => { errors.push('timed out'); finish(1); }, 60000);

session.bind_transceiver({ system_id: 'demo', password: 'demo' }, (pdu) => {
  if (pdu.command_status !== 0) { errors.push(`bind status ${pdu.command_status}`); return finish(1); }
  let sent = 0;
  let inFlight = 0;
  const pump = () => {
    while (sent < count && inFlight < 20) {
      const n = sent++;
      inFlight++;
      const text = TEXTS[n % 3];
      const base = {
        source_addr: 'MomConnect',
        destination_addr: '2783' + String(n).padStart(7, '0'),
        registered_delivery: 1,
      };
      const req = n % 3 === 2 ? { ...base, message_payload: text } : { ...base, short_message: text };
      session.submit_sm(req, (resp) => {
        inFlight--;
        if (resp.command_status === 0) ids.add(String(resp.message_id));
        else errors.push(`submit status ${resp.command_status}`);
        maybeDone();
        pump();
      });
    }
  };
  pump();
});
