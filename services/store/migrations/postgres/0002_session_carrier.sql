-- The gateway's own end-of-session report (status, cost, duration), when it sends one.
ALTER TABLE sessions ADD COLUMN carrier JSONB;
