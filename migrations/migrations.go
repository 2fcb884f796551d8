// Package migrations embeds the numbered SQL files that build the schema,
// one folder per SQL dialect, in goose's format: each file starts with
// "-- +goose Up"; a statement that holds semicolons of its own (PL/pgSQL)
// goes between "-- +goose StatementBegin" and "-- +goose StatementEnd".
// store applies them in order with goose, each in its own transaction.
package migrations

import "embed"

// FS holds sqlite/NNNN_name.sql and postgres/NNNN_name.sql.
//
//go:embed sqlite/*.sql postgres/*.sql
var FS embed.FS
