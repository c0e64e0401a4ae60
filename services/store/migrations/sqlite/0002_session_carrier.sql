-- The gateway's own end-of-session report (status, cost, duration), JSON, when it sends one.
ALTER TABLE sessions ADD COLUMN carrier TEXT;
