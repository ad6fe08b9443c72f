package main

import (
	"flag"
	"fmt"
	"io"
	"runtime/debug"
)

// buildVersion describes the binary from the build info the Go toolchain embeds: the module version and,
// when built from a VCS checkout, the revision, its time and whether the tree was modified.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		v += " " + rev
		if t := settings["vcs.time"]; t != "" {
			v += " " + t
		}
		if settings["vcs.modified"] == "true" {
			v += " (modified)"
		}
	}
	return v
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	rest, err := parseFlags(flag.NewFlagSet("version", flag.ContinueOnError), args, stderr, "version")
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badUsage(stderr, "version", "version takes no arguments")
	}
	info, _ := debug.ReadBuildInfo()
	goVersion := ""
	if info != nil {
		goVersion = " " + info.GoVersion
	}
	fmt.Fprintf(stdout, "fortress %s%s\n", buildVersion(), goVersion)
	return nil
}
