-- +goose Up
-- CA rollover (RFC 8894, section 3.5.2): the CA and RA prepared to follow
-- the active ones, neither active nor retired, served by GetNextCACert
-- until they are activated.
ALTER TABLE authorities ADD COLUMN next BOOLEAN NOT NULL DEFAULT FALSE;
