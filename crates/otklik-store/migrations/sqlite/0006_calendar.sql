-- Production calendar years edited by administrators. Each row is one year's file (the TOML of
-- data/calendar/ru-*.toml) and replaces the embedded file of that year.
CREATE TABLE calendar_years (
    year INTEGER PRIMARY KEY,
    body TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT
);
