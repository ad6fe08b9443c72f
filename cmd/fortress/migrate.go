package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/fortress-dev/fortress/config"
)

const migrateSynopsis = "migrate up|status"

// runMigrate applies or reports migrations. It needs only the database's configuration, so a migration
// job in a pipeline does not need the token signing key.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	var rest []string
	rest, err = parseFlags(flag.NewFlagSet("migrate", flag.ContinueOnError), args, stderr, migrateSynopsis)
	if err != nil {
		return err
	}
	if len(rest) != 1 || (rest[0] != "up" && rest[0] != "status") {
		return badUsage(stderr, migrateSynopsis, "migrate needs exactly one of: up, status")
	}
	getenv, err = config.WithDotEnv(getenv, ".env")
	if err != nil {
		return err
	}
	dbConfig, err := config.LoadDatabase(getenv)
	if err != nil {
		return oneLine(err)
	}
	s, err := openStore(ctx, dbConfig)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.Close()) }()

	if rest[0] == "up" {
		applied, err := s.Migrate(ctx)
		if err != nil {
			return err
		}
		for _, v := range applied {
			fmt.Fprintf(stdout, "applied migration %d\n", v)
		}
	}
	st, err := s.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	state := "current"
	if st.Pending() {
		state = "pending: run `fortress migrate up`"
	}
	fmt.Fprintf(stdout, "engine %s: schema version %d, binary version %d (%s)\n", dbConfig.Engine, st.Current, st.Latest, state)
	return nil
}
