-- The due instants an incident's deadlines give, and the keys they sort and sweep by, move to a
-- narrow table of their own. Recomputing deadlines after a calendar or policy change rewrites
-- only these short rows and their five indexes, not the wide incident row (nor, on PostgreSQL,
-- the ten indexes of `incidents`). Region, municipality and organisation are copies of
-- the incident's, so a territory's or an organisation's queue by deadline is one index walk.
-- `version` is the incident's version when these were last written from its row: a
-- recomputation skips a row whose incident changed since it was read.
CREATE TABLE incident_deadlines (
    id INTEGER PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    region TEXT,
    municipality TEXT,
    org TEXT,
    first_answer_due INTEGER,
    resolution_due INTEGER,
    registration_due INTEGER,
    redirect_due INTEGER,
    next_due INTEGER NOT NULL,
    next_warn INTEGER NOT NULL,
    next_breach INTEGER NOT NULL,
    next_alarm INTEGER NOT NULL
);
INSERT INTO incident_deadlines (id, version, region, municipality, org, first_answer_due, resolution_due,
    registration_due, redirect_due, next_due, next_warn, next_breach, next_alarm)
SELECT id, version, region, municipality, org, first_answer_due, resolution_due, registration_due, redirect_due,
    next_due, next_warn, next_breach, next_alarm FROM incidents;
DROP INDEX incidents_due;
DROP INDEX incidents_region_due;
DROP INDEX incidents_municipality_due;
DROP INDEX incidents_org_due;
DROP INDEX incidents_alarm;
ALTER TABLE incidents DROP COLUMN first_answer_due;
ALTER TABLE incidents DROP COLUMN resolution_due;
ALTER TABLE incidents DROP COLUMN registration_due;
ALTER TABLE incidents DROP COLUMN redirect_due;
ALTER TABLE incidents DROP COLUMN next_due;
ALTER TABLE incidents DROP COLUMN next_warn;
ALTER TABLE incidents DROP COLUMN next_breach;
ALTER TABLE incidents DROP COLUMN next_alarm;
CREATE INDEX incident_deadlines_due ON incident_deadlines (next_due, id);
CREATE INDEX incident_deadlines_region_due ON incident_deadlines (region, next_due, id);
CREATE INDEX incident_deadlines_municipality_due ON incident_deadlines (municipality, next_due, id);
CREATE INDEX incident_deadlines_org_due ON incident_deadlines (org, next_due, id);
CREATE INDEX incident_deadlines_alarm ON incident_deadlines (next_alarm, id);
