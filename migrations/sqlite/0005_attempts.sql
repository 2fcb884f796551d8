-- +goose Up
-- Attempts at the doors that take passwords (portal sign-in, NDES
-- credentials, SCEP challenge passwords), counted before each password is
-- checked, so that every instance sharing the database sees the same
-- counts and a restart forgets none. kind is the door (portal,
-- portal-user, ndes, scep); key is a client address or a keyed hash of a
-- user name, never a name in clear.
CREATE TABLE attempts (
	kind             TEXT NOT NULL,
	key              TEXT NOT NULL,
	failures         INTEGER NOT NULL,
	first_failure_at TIMESTAMP NOT NULL,
	last_failure_at  TIMESTAMP NOT NULL,
	locked_until     TIMESTAMP,
	PRIMARY KEY (kind, key)
);
CREATE INDEX attempts_last_failure ON attempts (last_failure_at);

-- The per-name sign-in throttle that attempts replaces kept, in clear, the user
-- names people typed (passwords among them): drop it with its contents.
DROP TABLE login_throttles;
