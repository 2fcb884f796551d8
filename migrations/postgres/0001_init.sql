-- +goose Up
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE authorities (
	id             BIGSERIAL PRIMARY KEY,
	kind           TEXT NOT NULL CHECK (kind IN ('ca', 'ra')),
	cert_der       BYTEA NOT NULL,
	chain_der      BYTEA,
	key_ciphertext BYTEA NOT NULL,
	active         BOOLEAN NOT NULL DEFAULT TRUE,
	created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX authorities_active ON authorities (kind, active);

CREATE TABLE certificate_procedures (
	id             BIGSERIAL PRIMARY KEY,
	name           TEXT NOT NULL UNIQUE,
	format         TEXT NOT NULL,
	key_usage_mode TEXT NOT NULL,
	key_usages     TEXT NOT NULL DEFAULT '',
	ext_key_usages TEXT NOT NULL DEFAULT '',
	validity_days  INTEGER NOT NULL,
	min_rsa_bits   INTEGER NOT NULL DEFAULT 2048,
	created_at     TIMESTAMPTZ NOT NULL,
	updated_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE token_procedures (
	id                  BIGSERIAL PRIMARY KEY,
	name                TEXT NOT NULL UNIQUE,
	storage_profile     TEXT NOT NULL,
	issuer_certificates TEXT NOT NULL,
	input_view          INTEGER NOT NULL,
	require_approval    BOOLEAN NOT NULL DEFAULT FALSE,
	created_at          TIMESTAMPTZ NOT NULL,
	updated_at          TIMESTAMPTZ NOT NULL
);

CREATE TABLE token_procedure_steps (
	token_procedure_id       BIGINT NOT NULL REFERENCES token_procedures (id) ON DELETE CASCADE,
	certificate_procedure_id BIGINT NOT NULL REFERENCES certificate_procedures (id),
	position                 INTEGER NOT NULL,
	PRIMARY KEY (token_procedure_id, certificate_procedure_id)
);

CREATE TABLE handlers (
	id                      BIGSERIAL PRIMARY KEY,
	name                    TEXT NOT NULL UNIQUE,
	filter                  TEXT NOT NULL UNIQUE,
	format                  TEXT NOT NULL CHECK (format IN ('scep', 'scep-ndes')),
	token_procedure_id      BIGINT REFERENCES token_procedures (id),
	enabled                 BOOLEAN NOT NULL DEFAULT TRUE,
	allow_legacy_ciphers    BOOLEAN NOT NULL DEFAULT FALSE,
	ndes_username           TEXT NOT NULL DEFAULT '',
	ndes_password_hash      TEXT NOT NULL DEFAULT '',
	ndes_challenge_validity TEXT NOT NULL DEFAULT '',
	ndes_password_length    INTEGER NOT NULL DEFAULT 0,
	ndes_password_cap       INTEGER NOT NULL DEFAULT 0,
	ndes_byte_order_mark    BOOLEAN NOT NULL DEFAULT FALSE,
	created_at              TIMESTAMPTZ NOT NULL,
	updated_at              TIMESTAMPTZ NOT NULL
);

CREATE TABLE certificates (
	id                       BIGSERIAL PRIMARY KEY,
	serial                   TEXT NOT NULL UNIQUE,
	subject                  TEXT NOT NULL,
	dns_names                TEXT NOT NULL DEFAULT '',
	not_before               TIMESTAMPTZ NOT NULL,
	not_after                TIMESTAMPTZ NOT NULL,
	der                      BYTEA NOT NULL,
	csr                      BYTEA,
	state                    TEXT NOT NULL,
	revoked_at               TIMESTAMPTZ,
	revocation_reason        INTEGER NOT NULL DEFAULT 0,
	handler_id               BIGINT REFERENCES handlers (id),
	certificate_procedure_id BIGINT REFERENCES certificate_procedures (id),
	registration_id          BIGINT,
	transaction_id           TEXT NOT NULL DEFAULT '',
	public_key_sha256        TEXT NOT NULL DEFAULT '',
	created_at               TIMESTAMPTZ NOT NULL
);
CREATE INDEX certificates_transaction ON certificates (transaction_id);
CREATE INDEX certificates_created ON certificates (created_at);

CREATE TABLE registrations (
	id                 BIGSERIAL PRIMARY KEY,
	kind               TEXT NOT NULL CHECK (kind IN ('preregistration', 'ndes')),
	state              TEXT NOT NULL,
	token_procedure_id BIGINT REFERENCES token_procedures (id),
	handler_id         BIGINT REFERENCES handlers (id),
	challenge_hash     TEXT NOT NULL,
	subject_cn         TEXT NOT NULL DEFAULT '',
	dns_name           TEXT NOT NULL DEFAULT '',
	requested_by       TEXT NOT NULL DEFAULT '',
	client_addr        TEXT NOT NULL DEFAULT '',
	created_at         TIMESTAMPTZ NOT NULL,
	expires_at         TIMESTAMPTZ NOT NULL,
	used_at            TIMESTAMPTZ,
	certificate_id     BIGINT REFERENCES certificates (id),
	transaction_id     TEXT NOT NULL DEFAULT '',
	last_failure       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX registrations_challenge ON registrations (challenge_hash);
CREATE INDEX registrations_state ON registrations (state, expires_at);

CREATE TABLE users (
	id            BIGSERIAL PRIMARY KEY,
	username      TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL,
	role          TEXT NOT NULL CHECK (role IN ('admin', 'helpdesk', 'auditor')),
	disabled      BOOLEAN NOT NULL DEFAULT FALSE,
	created_at    TIMESTAMPTZ NOT NULL,
	updated_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE audit_events (
	id          BIGSERIAL PRIMARY KEY,
	at          TIMESTAMPTZ NOT NULL,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	target      TEXT NOT NULL DEFAULT '',
	detail      TEXT NOT NULL DEFAULT '',
	client_addr TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at);
