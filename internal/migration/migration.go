// Package migration applies the versioned SQL migrations that each storage engine embeds, through goose,
// and reports whether a database's schema is current. The engines supply their SQL, dialect and lock.
package migration

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// TableName is the table that records applied migrations.
const TableName = "schema_migrations"

// Status describes a database's schema relative to the migrations the binary embeds.
type Status struct {
	Current int64 // the newest applied migration, 0 for an empty database
	Latest  int64 // the newest migration in the binary
}

// Pending reports whether the database is behind the binary.
func (s Status) Pending() bool { return s.Current < s.Latest }

// Migrator applies one engine's migrations to one database.
type Migrator struct {
	provider    *goose.Provider
	tableExists func(context.Context) (bool, error)
}

// New returns a Migrator for the migrations in fsys (files named NNNNN_name.sql, goose format).
// locker serializes concurrent runs across processes and may be nil when the engine has one writer.
// tableExists tells whether TableName exists, so that Status can read an empty database without
// creating anything in it.
func New(dialect goose.Dialect, db *sql.DB, fsys fs.FS, locker lock.SessionLocker, tableExists func(context.Context) (bool, error)) (*Migrator, error) {
	opts := []goose.ProviderOption{goose.WithTableName(TableName), goose.WithDisableGlobalRegistry(true)}
	if locker != nil {
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return &Migrator{provider: p, tableExists: tableExists}, nil
}

// Up applies every pending migration and returns the versions it applied, oldest first. Under a
// session locker, a concurrent run waits for the lock and then finds nothing left to apply.
func (m *Migrator) Up(ctx context.Context) ([]int64, error) {
	results, err := m.provider.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply migrations: %w", err)
	}
	applied := make([]int64, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// Status compares the database's schema with the binary's migrations without changing the database.
func (m *Migrator) Status(ctx context.Context) (Status, error) {
	sources := m.provider.ListSources()
	s := Status{}
	if len(sources) > 0 {
		s.Latest = sources[len(sources)-1].Version
	}
	exists, err := m.tableExists(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("read schema version: %w", err)
	}
	if !exists {
		return s, nil
	}
	current, err := m.provider.GetDBVersion(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("read schema version: %w", err)
	}
	s.Current = current
	return s, nil
}
