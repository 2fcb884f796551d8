-- +goose Up
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE authorities (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	kind           TEXT NOT NULL CHECK (kind IN ('ca', 'ra')),
	cert_der       BLOB NOT NULL,
	chain_der      BLOB,
	key_ciphertext BLOB NOT NULL,
	active         BOOLEAN NOT NULL DEFAULT TRUE,
	created_at     TIMESTAMP NOT NULL
);
CREATE INDEX authorities_active ON authorities (kind, active);

CREATE TABLE certificate_procedures (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	name           TEXT NOT NULL UNIQUE,
	format         TEXT NOT NULL,
	key_usage_mode TEXT NOT NULL,
	key_usages     TEXT NOT NULL DEFAULT '',
	ext_key_usages TEXT NOT NULL DEFAULT '',
	validity_days  INTEGER NOT NULL,
	min_rsa_bits   INTEGER NOT NULL DEFAULT 2048,
	created_at     TIMESTAMP NOT NULL,
	updated_at     TIMESTAMP NOT NULL
);

CREATE TABLE token_procedures (
	id                  INTEGER PRIMARY KEY AUTOINCREMENT,
	name                TEXT NOT NULL UNIQUE,
	storage_profile     TEXT NOT NULL,
	issuer_certificates TEXT NOT NULL,
	input_view          INTEGER NOT NULL,
	require_approval    BOOLEAN NOT NULL DEFAULT FALSE,
	created_at          TIMESTAMP NOT NULL,
	updated_at          TIMESTAMP NOT NULL
);

CREATE TABLE token_procedure_steps (
	token_procedure_id       INTEGER NOT NULL REFERENCES token_procedures (id) ON DELETE CASCADE,
	certificate_procedure_id INTEGER NOT NULL REFERENCES certificate_procedures (id),
	position                 INTEGER NOT NULL,
	PRIMARY KEY (token_procedure_id, certificate_procedure_id)
);

CREATE TABLE handlers (
	id                      INTEGER PRIMARY KEY AUTOINCREMENT,
	name                    TEXT NOT NULL UNIQUE,
	filter                  TEXT NOT NULL UNIQUE,
	format                  TEXT NOT NULL CHECK (format IN ('scep', 'scep-ndes')),
	token_procedure_id      INTEGER REFERENCES token_procedures (id),
	enabled                 BOOLEAN NOT NULL DEFAULT TRUE,
	allow_legacy_ciphers    BOOLEAN NOT NULL DEFAULT FALSE,
	ndes_username           TEXT NOT NULL DEFAULT '',
	ndes_password_hash      TEXT NOT NULL DEFAULT '',
	ndes_challenge_validity TEXT NOT NULL DEFAULT '',
	ndes_password_length    INTEGER NOT NULL DEFAULT 0,
	ndes_password_cap       INTEGER NOT NULL DEFAULT 0,
	ndes_byte_order_mark    BOOLEAN NOT NULL DEFAULT FALSE,
	created_at              TIMESTAMP NOT NULL,
	updated_at              TIMESTAMP NOT NULL
);

CREATE TABLE certificates (
	id                       INTEGER PRIMARY KEY AUTOINCREMENT,
	serial                   TEXT NOT NULL UNIQUE,
	subject                  TEXT NOT NULL,
	dns_names                TEXT NOT NULL DEFAULT '',
	not_before               TIMESTAMP NOT NULL,
	not_after                TIMESTAMP NOT NULL,
	der                      BLOB NOT NULL,
	csr                      BLOB,
	state                    TEXT NOT NULL,
	revoked_at               TIMESTAMP,
	revocation_reason        INTEGER NOT NULL DEFAULT 0,
	handler_id               INTEGER REFERENCES handlers (id),
	certificate_procedure_id INTEGER REFERENCES certificate_procedures (id),
	registration_id          INTEGER,
	transaction_id           TEXT NOT NULL DEFAULT '',
	public_key_sha256        TEXT NOT NULL DEFAULT '',
	created_at               TIMESTAMP NOT NULL
);
CREATE INDEX certificates_transaction ON certificates (transaction_id);
CREATE INDEX certificates_created ON certificates (created_at);

CREATE TABLE registrations (
	id                 INTEGER PRIMARY KEY AUTOINCREMENT,
	kind               TEXT NOT NULL CHECK (kind IN ('preregistration', 'ndes')),
	state              TEXT NOT NULL,
	token_procedure_id INTEGER REFERENCES token_procedures (id),
	handler_id         INTEGER REFERENCES handlers (id),
	challenge_hash     TEXT NOT NULL,
	subject_cn         TEXT NOT NULL DEFAULT '',
	dns_name           TEXT NOT NULL DEFAULT '',
	requested_by       TEXT NOT NULL DEFAULT '',
	client_addr        TEXT NOT NULL DEFAULT '',
	created_at         TIMESTAMP NOT NULL,
	expires_at         TIMESTAMP NOT NULL,
	used_at            TIMESTAMP,
	certificate_id     INTEGER REFERENCES certificates (id),
	transaction_id     TEXT NOT NULL DEFAULT '',
	last_failure       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX registrations_challenge ON registrations (challenge_hash);
CREATE INDEX registrations_state ON registrations (state, expires_at);

CREATE TABLE users (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	username      TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL,
	role          TEXT NOT NULL CHECK (role IN ('admin', 'helpdesk', 'auditor')),
	disabled      BOOLEAN NOT NULL DEFAULT FALSE,
	created_at    TIMESTAMP NOT NULL,
	updated_at    TIMESTAMP NOT NULL
);

CREATE TABLE audit_events (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	at          TIMESTAMP NOT NULL,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	target      TEXT NOT NULL DEFAULT '',
	detail      TEXT NOT NULL DEFAULT '',
	client_addr TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at);
