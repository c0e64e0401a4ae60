// An SMSC nobody on the team wrote (npm smpp 0.5.1 server) for seedgate's ESME client.
//
// Accepts any bind, answers submit_sm with a DECIMAL message id, and 20 ms later sends a
// deliver_sm receipt naming the same id in upper-case HEX (TLVs and text), as some carriers
// do, so seedgate must normalise ids to correlate. Prints `listening PORT` when ready and a
// JSON summary line on SIGTERM.
//
// usage: node npm_smsc.js PORT
'use strict';
const smpp = require('smpp');

const port = Number(process.argv[2]);
let nextId = 1000000;
const stats = { binds: 0, submits: 0, receipts_sent: 0, receipts_acked: 0 };

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
    const id = nextId++;
    stats.submits++;
    session.send(pdu.response({ message_id: String(id) }));
    if (!pdu.registered_delivery) return;
    setTimeout(() => {
      const hex = id.toString(16).toUpperCase();
      stats.receipts_sent++;
      session.deliver_sm({
        source_addr: pdu.destination_addr,
        destination_addr: pdu.source_addr,
        esm_class: 0x04,
        short_message: `id:${hex} sub:001 dlvrd:001 submit date:2611250800 done date:2611250800 stat:DELIVRD err:000 text:`,
        receipted_message_id: hex,
        message_state: 2,
      }, (resp) => { if (resp.command_status === 0) stats.receipts_acked++; });
    }, 20);
  });
  session.on('error', () => {});
});

server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
process.on('SIGTERM', () => { console.log(JSON.stringify(stats)); process.exit(0); });
