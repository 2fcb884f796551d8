-- +goose Up
-- Portal sign-ins: the id stays in the browser, only its SHA-256 is stored.
CREATE TABLE sessions (
	id_hash      TEXT PRIMARY KEY,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	csrf_token   TEXT NOT NULL,
	created_at   TIMESTAMP NOT NULL,
	last_seen_at TIMESTAMP NOT NULL,
	client_addr  TEXT NOT NULL DEFAULT '',
	user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- Failed sign-ins per user name, to slow and then lock guessing.
CREATE TABLE login_throttles (
	username        TEXT PRIMARY KEY,
	failures        INTEGER NOT NULL,
	last_failure_at TIMESTAMP NOT NULL,
	locked_until    TIMESTAMP
);
