-- +goose Up
-- Bearer tokens of the JSON API: only a keyed hash of each token is stored.
-- A revoked token keeps its row, for the audit trail; its name may be used
-- again.
CREATE TABLE api_tokens (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	name         TEXT NOT NULL,
	role         TEXT NOT NULL,
	hash         TEXT NOT NULL UNIQUE,
	created_by   TEXT NOT NULL DEFAULT '',
	created_at   TIMESTAMP NOT NULL,
	expires_at   TIMESTAMP,
	last_used_at TIMESTAMP,
	revoked_at   TIMESTAMP
);
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;

-- Webhooks per handler: a challenge hook that decides challenges, and an
-- event hook told of certificates issued, renewed and revoked. The secrets
-- that sign their calls are sealed under the master key.
ALTER TABLE handlers ADD COLUMN challenge_hook_url TEXT NOT NULL DEFAULT '';
ALTER TABLE handlers ADD COLUMN challenge_hook_secret BLOB;
ALTER TABLE handlers ADD COLUMN event_hook_url TEXT NOT NULL DEFAULT '';
ALTER TABLE handlers ADD COLUMN event_hook_secret BLOB;
