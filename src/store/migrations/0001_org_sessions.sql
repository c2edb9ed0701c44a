-- Units of the organisation (hierarchy with validity dates) and their sites.
CREATE TABLE units (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    parent_id   TEXT REFERENCES units(id),
    valid_from  TEXT NOT NULL,
    valid_to    TEXT
);

CREATE TABLE sites (
    id       TEXT PRIMARY KEY,
    unit_id  TEXT NOT NULL REFERENCES units(id),
    name     TEXT NOT NULL,
    is_host  INTEGER NOT NULL DEFAULT 0
);

-- Briefing sessions and the sites invited to them.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    title         TEXT NOT NULL,
    host_site_id  TEXT NOT NULL REFERENCES sites(id),
    starts_at     TEXT,
    ends_at       TEXT,
    created_at    TEXT NOT NULL
);

CREATE TABLE session_sites (
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    site_id     TEXT NOT NULL REFERENCES sites(id),
    PRIMARY KEY (session_id, site_id)
);
CREATE INDEX session_sites_site ON session_sites(site_id);
