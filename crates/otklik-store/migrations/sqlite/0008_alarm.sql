-- One indexed instant for both deadline sweeps: the earlier of the next warning and the next
-- breach. Every moved deadline rewrote two sweep indexes; now it rewrites one. The sweeps scan
-- this index and check `next_warn` or `next_breach` on the rows it yields.
ALTER TABLE incidents ADD COLUMN next_alarm INTEGER NOT NULL DEFAULT 9223372036854775807;
UPDATE incidents SET next_alarm = CASE WHEN next_warn < next_breach THEN next_warn ELSE next_breach END;
DROP INDEX incidents_warn;
DROP INDEX incidents_breach;
CREATE INDEX incidents_alarm ON incidents (next_alarm, id);
