package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// usageError means the command line was wrong; the usage has been printed and the exit status is 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

const usage = `Usage: fortress <command> [arguments]

Commands:
  serve                 run the API server (configuration from the environment and ./.env)
  migrate up            apply pending database migrations
  migrate status        show the schema version of the database and of this binary
  healthcheck [URL]     exit 0 only if URL (default: http://FORTRESS_ADDR/health) answers 200
  user create -email E [-admin] [-password-file F]
                        create an account (password from stdin or the file, never from the command line)
  user set-role -email E -role user|admin
                        change an account's role (at least one active administrator always remains)
  version               print the version and VCS revision of this binary

Configuration: see .env.example and the README.
`

// run is the whole program: main only supplies the process's world (arguments, environment, streams)
// and a context that ends on SIGINT or SIGTERM, so tests can run every command in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return &usageError{"no command"}
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, rest, getenv, stdout, stderr)
	case "user":
		return runUser(ctx, rest, getenv, os.Stdin, stdout, stderr)
	case "version":
		return runVersion(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "fortress: unknown command %q\n\n%s", cmd, usage)
	return &usageError{"unknown command"}
}

// parseFlags parses a subcommand's flags and returns its positional arguments. Bad flags print the
// subcommand's usage and become a usageError.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer, synopsis string) ([]string, error) {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: fortress %s\n", synopsis)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, &usageError{"help requested"}
		}
		return nil, &usageError{err.Error()}
	}
	return fs.Args(), nil
}

// badUsage prints a subcommand's usage for a wrong positional argument.
func badUsage(stderr io.Writer, synopsis, problem string) error {
	fmt.Fprintf(stderr, "fortress: %s\nUsage: fortress %s\n", problem, synopsis)
	return &usageError{problem}
}

// oneLine keeps an error on one line, as operators read start-up failures in a single log line.
func oneLine(err error) error {
	return errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
}
