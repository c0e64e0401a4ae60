"""An ESME nobody on the team wrote (PyPI smpplib 2.2.4) against seedgate's SMPP server.

Binds as a transceiver, submits COUNT messages (GSM7, UCS2 and 3-part concatenated, in turn)
with registered delivery, reads every submit_sm_resp and every receipt, unbinds, and prints a
JSON summary on stdout. Exits non-zero if anything is missing.

usage: smpplib_esme.py HOST PORT COUNT
"""
import json
import sys
import time

import smpplib.client
import smpplib.consts
import smpplib.gsm

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
TEXTS = [
    "Sawubona! Your weekly MomConnect message: drink clean water.",
    "Ngiyabonga 👶🏽 — umntwana wakho uyakhula kahle.",
    "Week 20: " + "Your baby can hear you now. Talk and sing to your baby every day. " * 5,
]

ids = set()
errors = []
receipts = {}
sent_pdus = 0

client = smpplib.client.Client(host, port, allow_unknown_opt_params=True, timeout=30)


def on_sent(pdu):
    ids.add(pdu.message_id.decode() if isinstance(pdu.message_id, bytes) else pdu.message_id)


def on_received(pdu):
    rid = pdu.receipted_message_id
    rid = rid.decode() if isinstance(rid, bytes) else rid
    receipts[rid] = pdu.message_state
    return 0


client.set_message_sent_handler(on_sent)
client.set_message_received_handler(on_received)
client.connect()
client.bind_transceiver(system_id="demo", password="demo")

kinds = {"gsm7": 0, "ucs2": 0, "concatenated": 0}
started = time.time()
for n in range(count):
    text = TEXTS[n % 3]
    parts, encoding, esm_class = smpplib.gsm.make_parts(text)
    kind = "concatenated" if len(parts) > 1 else ("ucs2" if encoding == smpplib.consts.SMPP_ENCODING_ISO10646 else "gsm7")
    kinds[kind] += 1
    for part in parts:
        client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
            source_addr="MomConnect",
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
            destination_addr="2782%07d" % n,
            short_message=part,
            data_coding=encoding,
            esm_class=esm_class,
            registered_delivery=True,
        )
        sent_pdus += 1
    # Keep a window: read responses (and receipts) as we go.
    while sent_pdus - len(ids) > 20:
        client.read_once()

deadline = time.time() + 60
while (len(ids) < sent_pdus or len(receipts) < sent_pdus) and time.time() < deadline:
    client.read_once()

client.unbind()
client.disconnect()
summary = {
    "messages": count,
    "kinds": kinds,
    "submit_pdus": sent_pdus,
    "accepted": len(ids),
    "receipts": len(receipts),
    "receipts_matching_ids": len(ids & set(receipts)),
    "delivered": sum(1 for s in receipts.values() if s == smpplib.consts.SMPP_MESSAGE_STATE_DELIVERED),
    "seconds": round(time.time() - started, 2),
}
print(json.dumps(summary))
sys.exit(0 if summary["receipts_matching_ids"] == sent_pdus else 1)
