package sqlite

import "database/sql"

// Stats reports the connection pool's state, for metrics.
func (d *DB) Stats() sql.DBStats { return d.db.Stats() }
