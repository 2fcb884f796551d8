-- +goose Up
-- One certificate per SCEP transaction: a retry finds it by this index, and
-- a second certificate for the same transaction cannot be stored.
DROP INDEX certificates_transaction;
CREATE UNIQUE INDEX certificates_transaction ON certificates (transaction_id) WHERE transaction_id <> '';
