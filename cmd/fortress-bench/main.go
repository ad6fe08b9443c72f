// Command fortress-bench is Fortress's load harness: `make bench` runs it against the release binary.
// It starts the server on each storage engine, pinned to CPUs of its own, drives it with a load
// generator (this same program, re-executed, pinned to the other CPUs), measures the ceilings the
// hardware allows in the same run, and prints every scenario as a ratio to its ceiling, with the
// targets of the performance issue as PASS/FAIL lines. docs/performance.md explains the method.
//
// Subcommands (all but the first are its own building blocks, run as separate processes):
//
//	fortress-bench [run] [flags]    the whole benchmark (the default)
//	fortress-bench profile [flags]  scenarios against `fortress serve` built with -tags pprof, which writes a CPU profile
//	fortress-bench load             the load generator: a bench.Job as JSON on stdin, a bench.Result on stdout
//	fortress-bench ceiling-health   ceiling (a): bare net/http answering /health
//	fortress-bench ceiling-item     ceiling (b): bare net/http running the engine's one item query
//	fortress-bench argon2           ceiling (c): Argon2id hashes per second on this process's CPUs
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fortress-bench:", err)
		}
		os.Exit(1)
	}
}

// run dispatches to a subcommand; its world comes in as arguments so that tests can call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runBench(ctx, args, getenv, stdout, stderr)
	case "profile":
		return runProfile(ctx, args, getenv, stdout, stderr)
	case "load":
		return runLoad(ctx, stdin, stdout)
	case "ceiling-health":
		return serveHealthCeiling(ctx, args, stderr)
	case "ceiling-item":
		return serveItemCeiling(ctx, args, getenv, stderr)
	case "argon2":
		return runArgon2(ctx, args, stdout, stderr)
	}
	return fmt.Errorf("unknown command %q (want run, profile, load, ceiling-health, ceiling-item or argon2)", cmd)
}
