package main

import (
	"context"
	"fmt"

	"github.com/fortress-dev/fortress"
	"github.com/fortress-dev/fortress/config"
	"github.com/fortress-dev/fortress/internal/migration"
	"github.com/fortress-dev/fortress/postgres"
	"github.com/fortress-dev/fortress/sqlite"
)

// store is what cmd/fortress needs of a storage engine: the domain's services and its upkeep.
type store interface {
	fortress.UserService
	fortress.ItemService
	Migrate(ctx context.Context) ([]int64, error)
	MigrationStatus(ctx context.Context) (migration.Status, error)
	Ping(ctx context.Context) error
	Close() error
}

// openStore opens the engine the configuration names.
func openStore(ctx context.Context, db config.Database) (store, error) {
	switch db.Engine {
	case config.EnginePostgres:
		return postgres.Open(ctx, db.URL.Reveal(), postgres.Options{MaxConns: int32(min(db.MaxConns, 1000))}) //nolint:gosec // bounded by config
	case config.EngineSQLite:
		return sqlite.Open(ctx, db.SQLitePath)
	}
	return nil, fmt.Errorf("unknown storage engine %q", db.Engine)
}

// checkSchema fails when the database is behind the binary, naming the command that fixes it.
func checkSchema(ctx context.Context, s store) error {
	st, err := s.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	if st.Pending() {
		return fmt.Errorf("database schema is at version %d but this binary needs %d: run `fortress migrate up` (or set AUTO_MIGRATE=true)", st.Current, st.Latest)
	}
	if st.Current > st.Latest {
		return fmt.Errorf("database schema is at version %d, newer than this binary's %d: deploy the newer binary", st.Current, st.Latest)
	}
	return nil
}
