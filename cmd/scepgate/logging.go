package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"
)

// logFlags say how every command logs.
type logFlags struct {
	format string // text or json
	level  string // debug, info, warn or error
}

// addLogFlags defines --log-format and --log-level on fs.
func (cl *cli) addLogFlags(fs *pflag.FlagSet) {
	cl.envString(fs, &cl.logging.format, envFlag{name: "log-format", env: "SCEPGATE_LOG_FORMAT", def: "text",
		help: "log format on standard error: text (key=value lines) or json (one object a line)"})
	cl.envString(fs, &cl.logging.level, envFlag{name: "log-level", env: "SCEPGATE_LOG_LEVEL", def: "info",
		help: "least severe level logged: debug, info, warn or error"})
}

// logger is how commands log: on w, in the format and from the level the
// log flags choose. A value it does not know is a usage error.
func logger(w io.Writer, f logFlags) (*slog.Logger, error) {
	var level slog.Level
	switch strings.ToLower(f.level) {
	case "debug":
		level = slog.LevelDebug
	case "info", "":
		level = slog.LevelInfo
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, usageError{fmt.Sprintf("--log-level (or SCEPGATE_LOG_LEVEL) is %q: use debug, info, warn or error.", f.level)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(f.format) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Sprintf("--log-format (or SCEPGATE_LOG_FORMAT) is %q: use text or json.", f.format)}
}
