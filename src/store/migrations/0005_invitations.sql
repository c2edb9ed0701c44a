-- Invitations (giấy mời họp): one row per invited site of a session, holding the readiness status
-- (invited → confirmed → tested → ready, or revoked) and the version of the site's join link. A
-- join token carries the version it was issued with; re-issuing bumps it, so older links stop
-- working. See src/store/invitations.rs and src/schedule/invitations.rs.
CREATE TABLE invitations (
    session_id      TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    site_id         TEXT NOT NULL REFERENCES sites(id),
    status          TEXT NOT NULL DEFAULT 'invited'
                    CHECK (status IN ('invited', 'confirmed', 'tested', 'ready', 'revoked')),
    link_version    INTEGER NOT NULL DEFAULT 1,
    issued_at       TEXT NOT NULL,
    revoked_at      TEXT,
    confirmed_at    TEXT,
    tested_at       TEXT,
    ready_at        TEXT,
    -- The room page's connection test report (kiểm tra kết nối), JSON, and when it arrived.
    test_result     TEXT,
    test_result_at  TEXT,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (session_id, site_id)
);
CREATE INDEX invitations_site ON invitations(site_id);

-- Sessions created before this migration: their links were issued without a version, which a
-- token reads as 0, so they keep working until the first re-issue.
INSERT INTO invitations (session_id, site_id, status, link_version, issued_at, updated_at)
SELECT ss.session_id, ss.site_id, 'invited', 0, s.created_at, s.created_at
FROM session_sites ss JOIN sessions s ON s.id = ss.session_id;
