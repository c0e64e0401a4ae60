"""A USSD gateway nobody on the team wrote (PyPI smpplib 2.2.4) bound to seedgate's SMPP server.

Opens one dialog (session 7) for +27820000001: dials *134*550#, then answers 1, 1, 2, each as a
USSD submit_sm (ussd_service_op 1 to begin, 18 to continue, its_session_info set). seedgate's
screens come back as deliver_sm; prints them as JSON.

usage: smpplib_ussd_gateway.py HOST PORT
"""
import json
import sys
import time

import smpplib.client
import smpplib.command

# smpplib 2.2.4 declares ussd_service_op for submit_sm but not for deliver_sm (where a USSD
# gateway receives it) and fails parsing it even with allow_unknown_opt_params; declare it.
smpplib.command.DeliverSM.params["ussd_service_op"] = smpplib.command.Param(type=int, size=1)

host, port = sys.argv[1], int(sys.argv[2])
screens = []
ops = []

client = smpplib.client.Client(host, port, allow_unknown_opt_params=True, timeout=15)
def on_screen(pdu):
    screens.append(pdu.short_message.decode())
    ops.append(pdu.ussd_service_op)
    return 0


client.set_message_received_handler(on_screen)
client.connect()
client.bind_transceiver(system_id="demo", password="demo")

for op, text in [(1, "*134*550#"), (18, "1"), (18, "1"), (18, "2")]:
    want = len(screens) + 1
    client.send_message(
        service_type="USSD",
        source_addr_ton=1,
        source_addr="27820000001",
        dest_addr_ton=0,
        destination_addr="550",
        short_message=text.encode(),
        ussd_service_op=op,
        its_session_info=7 * 256,
    )
    deadline = time.time() + 10
    while len(screens) < want and time.time() < deadline:
        client.read_once()

client.unbind()
client.disconnect()
print(json.dumps({"screens": screens, "ops": ops}))
sys.exit(0 if len(screens) == 4 else 1)
