package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

func newVersionCmd(cl *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of scepgate and the commit it was built from",
		Long: `Version prints the module version of this scepgate binary and, when it was
built from a Git checkout, the revision and time of the commit and whether
the checkout had uncommitted changes; then the Go version it was built with.
"scepgate --version" prints the same.`,
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprint(cl.stdout, version())
			return nil
		},
	}
}

// version describes this binary, from the build information the Go
// toolchain embeds in it.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "scepgate (no build information: built without module support)\n"
	}
	return versionText(info)
}

// versionText describes the build info: the module version on the first
// line, then the VCS revision, its time and whether the tree was modified,
// then the Go version.
func versionText(info *debug.BuildInfo) string {
	var b strings.Builder
	v := info.Main.Version
	if v == "" {
		v = "(unknown version)"
	}
	fmt.Fprintf(&b, "scepgate %s\n", v)
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		fmt.Fprintf(&b, "revision: %s\n", rev)
		if t := settings["vcs.time"]; t != "" {
			fmt.Fprintf(&b, "time: %s\n", t)
		}
		if m := settings["vcs.modified"]; m != "" {
			fmt.Fprintf(&b, "modified: %s\n", m)
		}
	} else {
		b.WriteString("revision: unknown (the build recorded no VCS information)\n")
	}
	fmt.Fprintf(&b, "go: %s\n", info.GoVersion)
	return b.String()
}
