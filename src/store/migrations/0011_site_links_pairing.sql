-- Room PCs in the real world (issue 11). A stable link per site (/s/<token>): the token is signed
-- and carries the row's version; re-issuing bumps the version, revoking stops every version
-- until the next re-issue. Pairing codes of kiosks: a short code, stored as a SHA-256 hash, that
-- a room PC redeems once, before it expires, for its device credential (set as a cookie).
CREATE TABLE site_links (
    site_id     TEXT PRIMARY KEY REFERENCES sites(id),
    version     INTEGER NOT NULL,
    issued_at   TEXT NOT NULL,
    issued_by   TEXT NOT NULL,
    revoked_at  TEXT
);

CREATE TABLE device_pairings (
    code_hash   TEXT PRIMARY KEY,
    device_id   TEXT NOT NULL REFERENCES device_tokens(id),
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
CREATE INDEX device_pairings_device ON device_pairings(device_id);
