-- +goose Up
-- Each CRL records the revocation sequence it was built at (meta key
-- revocation_sequence, bumped by every transaction that revokes), so that a
-- CRL is current exactly while nothing has been revoked since; comparing
-- thisUpdate with revoked_at missed revocations committed while a CRL was
-- being signed. CRLs made before this migration count as stale and are
-- replaced at the first fetch. (authority_id, number) stays unique.
ALTER TABLE crls ADD COLUMN revocation_sequence BIGINT NOT NULL DEFAULT -1;
