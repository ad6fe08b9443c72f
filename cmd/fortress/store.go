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
	fortress.SessionService
	fortress.AuditService
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
	// A newer schema is what a rolling upgrade looks like from the old replicas: `migrate up` ran in the
	// pipeline before the new binary rolls out. Migrations are written to keep the previous release
	// working (expand, then contract a release later: docs/operations.md), so the old binary stays ready.
	return nil
}

// schemaAhead says whether the database's schema is newer than this binary knows, for a warning.
func schemaAhead(ctx context.Context, s store) (current, latest int64, ahead bool) {
	st, err := s.MigrationStatus(ctx)
	return st.Current, st.Latest, err == nil && st.Current > st.Latest
}
