-- "Was this message handed to the carrier already?" (`carrier_sent`, before every submit)
-- looks a message up by id and channel. With only `carrier_ids_message (message_id)` beside
-- `carrier_ids_newest (channel, …)`, SQLite (no statistics) took the channel's index and read
-- every row of the channel for each submit: 78 % of the store's time under load, and slower
-- with every message sent (loadtests/README.md, issue 15). Both columns, message first.
DROP INDEX carrier_ids_message;
CREATE INDEX carrier_ids_message ON carrier_ids (message_id, channel);
