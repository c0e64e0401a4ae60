// An SMSC nobody on the team wrote (npm smpp 0.5.1 server) for seedgate's ESME client.
//
// Accepts any bind, answers submit_sm with a DECIMAL message id, and 20 ms later sends a
// deliver_sm receipt naming the same id in upper-case HEX (TLVs and text), as some carriers
// do, so seedgate must normalise ids to correlate. Prints `listening PORT` when ready and a
// JSON summary line on SIGTERM (always the last line of stdout): the counts, and the times
// (ms since the epoch) of the first and last submit and of the last receipt acked.
//
// Options, for the fault suite (loadtests `faults`) and the id-reuse test:
//   --start-id N        the first message id (an SMSC restarted with the same N reuses ids)
//   --receipt-first     send each receipt BEFORE the submit_sm_resp (some SMSCs do)
//   --resp-delay-ms N   answer each submit_sm after N ms
//   --no-resp           never answer submit_sm
//   --throttle-tps N    answer ESME_RTHROTTLED above N submits per second
//   --fail-status N     answer every submit_sm with command_status N (e.g. 8, ESME_RSYSERR)
//   --dlr-delay-ms N    send each receipt N ms after the submit_sm_resp (default 20)
//   --progress          print the summary's JSON every second too (for benchmarks)
//
// usage: node npm_smsc.js PORT [options]
'use strict';
const smpp = require('smpp');

const port = Number(process.argv[2]);
const opt = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
const flag = (name) => process.argv.includes(name);
let nextId = Number(opt('--start-id') || 1000000);
const receiptFirst = flag('--receipt-first');
const respDelay = Number(opt('--resp-delay-ms') || 0);
const noResp = flag('--no-resp');
const throttleTps = Number(opt('--throttle-tps') || 0);
const failStatus = Number(opt('--fail-status') || 0);
const dlrDelay = opt('--dlr-delay-ms') === undefined ? 20 : Number(opt('--dlr-delay-ms'));
let second = 0, inSecond = 0;
const stats = { binds: 0, submits: 0, throttled: 0, receipts_sent: 0, receipts_acked: 0,
  first_submit_ms: null, last_submit_ms: null, last_receipt_acked_ms: null };

const server = smpp.createServer((session) => {
  const bound = (pdu) => {
    stats.binds++;
    session.send(pdu.response());
  };
  session.on('bind_transceiver', bound);
  session.on('bind_transmitter', bound);
  session.on('bind_receiver', bound);
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => { session.send(pdu.response()); session.close(); });
  session.on('submit_sm', (pdu) => {
    if (noResp) return;
    if (failStatus) { stats.refused = (stats.refused || 0) + 1; session.send(pdu.response({ command_status: failStatus })); return; }
    if (throttleTps > 0) {
      const now = Math.floor(Date.now() / 1000);
      if (now !== second) { second = now; inSecond = 0; }
      if (++inSecond > throttleTps) {
        stats.throttled++;
        session.send(pdu.response({ command_status: smpp.ESME_RTHROTTLED }));
        return;
      }
    }
    const id = nextId++;
    stats.submits++;
    stats.last_submit_ms = Date.now();
    if (stats.first_submit_ms === null) stats.first_submit_ms = stats.last_submit_ms;
    const receipt = () => {
      const hex = id.toString(16).toUpperCase();
      stats.receipts_sent++;
      session.deliver_sm({
        source_addr: pdu.destination_addr,
        destination_addr: pdu.source_addr,
        esm_class: 0x04,
        short_message: `id:${hex} sub:001 dlvrd:001 submit date:2611250800 done date:2611250800 stat:DELIVRD err:000 text:`,
        receipted_message_id: hex,
        message_state: 2,
      }, (resp) => {
        if (resp.command_status === 0) { stats.receipts_acked++; stats.last_receipt_acked_ms = Date.now(); }
      });
    };
    const answer = () => {
      if (receiptFirst && pdu.registered_delivery) receipt();
      session.send(pdu.response({ message_id: String(id) }));
      if (!receiptFirst && pdu.registered_delivery) setTimeout(receipt, dlrDelay);
    };
    if (respDelay > 0) setTimeout(answer, respDelay); else answer();
  });
  session.on('error', () => {});
});

server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
if (flag('--progress')) setInterval(() => console.log(JSON.stringify(stats)), 1000).unref();
process.on('SIGTERM', () => { console.log(JSON.stringify(stats)); process.exit(0); });
