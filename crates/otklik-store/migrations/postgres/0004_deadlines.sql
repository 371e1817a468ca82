-- Deadline details and co-executors. `clock_started_at`: when a redirect restarted the clock
-- (NULL: the capture). 59-ФЗ appeals: the registration and redirect deadlines, and when the one
-- extension was granted. `co_orgs` mirrors `incident_orgs` on the row for reading; the table
-- serves the scope filter (an organisation sees the incidents it co-executes).
ALTER TABLE incidents ADD COLUMN clock_started_at BIGINT;
ALTER TABLE incidents ADD COLUMN registration_due BIGINT;
ALTER TABLE incidents ADD COLUMN redirect_due BIGINT;
ALTER TABLE incidents ADD COLUMN extended_at BIGINT;
ALTER TABLE incidents ADD COLUMN co_orgs TEXT NOT NULL DEFAULT '[]';
CREATE TABLE incident_orgs (
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    org TEXT NOT NULL,
    PRIMARY KEY (incident_id, org)
);
CREATE INDEX incident_orgs_org ON incident_orgs (org, incident_id);
