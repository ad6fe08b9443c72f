package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// Stats reports the connection pool's state, for metrics.
func (d *DB) Stats() *pgxpool.Stat { return d.pool.Stat() }
