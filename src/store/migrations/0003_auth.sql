-- Accounts, roles (optionally scoped to a unit or a site), login sessions and room-PC device
-- credentials. Secrets are never stored: passwords as argon2 PHC strings, session and device
-- tokens as SHA-256 hashes.
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    disabled       INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL
);

CREATE TABLE user_roles (
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role     TEXT NOT NULL,
    unit_id  TEXT REFERENCES units(id),
    site_id  TEXT REFERENCES sites(id)
);
CREATE INDEX user_roles_user ON user_roles(user_id);

CREATE TABLE login_sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX login_sessions_user ON login_sessions(user_id);

CREATE TABLE device_tokens (
    id          TEXT PRIMARY KEY,
    site_id     TEXT NOT NULL REFERENCES sites(id),
    label       TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX device_tokens_site ON device_tokens(site_id);

-- Who owns a unit's row: the configuration file (upserted at start) or the admin pages (left
-- alone by the start-up upsert once edited there).
ALTER TABLE units ADD COLUMN managed_by TEXT NOT NULL DEFAULT 'config';
ALTER TABLE sites ADD COLUMN managed_by TEXT NOT NULL DEFAULT 'config';
