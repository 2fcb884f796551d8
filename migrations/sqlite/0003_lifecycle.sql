-- +goose Up
-- Renewal, approval, idempotent retries, revocation and CRLs.
ALTER TABLE token_procedures ADD COLUMN renewal_window_days INTEGER NOT NULL DEFAULT 30;
ALTER TABLE token_procedures ADD COLUMN supersede_on_renewal BOOLEAN NOT NULL DEFAULT TRUE;

ALTER TABLE certificate_procedures ADD COLUMN one_key_per_subject BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE certificate_procedures ADD COLUMN subject_template TEXT NOT NULL DEFAULT '';
ALTER TABLE certificate_procedures ADD COLUMN dns_name_patterns TEXT NOT NULL DEFAULT '';
ALTER TABLE certificate_procedures ADD COLUMN allowed_curves TEXT NOT NULL DEFAULT 'P-256,P-384,P-521';

-- A registration waiting for approval keeps the request it authorised.
ALTER TABLE registrations ADD COLUMN csr BLOB;
ALTER TABLE registrations ADD COLUMN public_key_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE registrations ADD COLUMN handler_used_id INTEGER REFERENCES handlers (id);
CREATE INDEX registrations_transaction ON registrations (transaction_id);

ALTER TABLE certificates ADD COLUMN authority_id INTEGER REFERENCES authorities (id);
CREATE INDEX certificates_subject ON certificates (subject);

CREATE TABLE crls (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	authority_id INTEGER NOT NULL REFERENCES authorities (id),
	number       INTEGER NOT NULL,
	this_update  TIMESTAMP NOT NULL,
	next_update  TIMESTAMP NOT NULL,
	der          BLOB NOT NULL,
	UNIQUE (authority_id, number)
);
