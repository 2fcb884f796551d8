// Package migrations embeds the numbered SQL files that build the schema,
// one folder per SQL dialect. store applies them in order.
package migrations

import "embed"

// FS holds sqlite/NNNN_name.sql and postgres/NNNN_name.sql.
//
//go:embed sqlite/*.sql postgres/*.sql
var FS embed.FS
