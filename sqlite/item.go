package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/fortress-dev/fortress"
)

const itemColumns = `id, owner_id, name, description`

// CreateItem implements fortress.ItemService.
func (d *DB) CreateItem(ctx context.Context, ownerID int64, c fortress.ItemCreate) (fortress.Item, error) {
	return scanItem(d.db.QueryRowContext(ctx,
		`INSERT INTO items (owner_id, name, description) VALUES (?, ?, ?) RETURNING `+itemColumns,
		ownerID, c.Name, c.Description))
}

// FindItem implements fortress.ItemService.
func (d *DB) FindItem(ctx context.Context, ownerID, id int64) (fortress.Item, error) {
	return scanItem(d.queryRow(ctx,
		`SELECT `+itemColumns+` FROM items WHERE id = ? AND owner_id = ?`, id, ownerID))
}

// ListItems implements fortress.ItemService. The page and the total come from one read transaction, so
// they agree with each other.
func (d *DB) ListItems(ctx context.Context, ownerID int64, f fortress.ItemFilter) (items []fortress.Item, total int, err error) {
	tx, err := d.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, mapError(err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM items WHERE owner_id = ?`, ownerID).Scan(&total); err != nil {
		return nil, 0, mapError(err)
	}
	rows, err := tx.QueryContext(ctx,
		`SELECT `+itemColumns+` FROM items WHERE owner_id = ? ORDER BY id LIMIT ? OFFSET ?`,
		ownerID, f.Limit, f.Offset)
	if err != nil {
		return nil, 0, mapError(err)
	}
	defer func() { _ = rows.Close() }() // read-only: rows.Err below reports a failed iteration
	items = []fortress.Item{}
	for rows.Next() {
		var it fortress.Item
		if err := rows.Scan(&it.ID, &it.OwnerID, &it.Name, &it.Description); err != nil {
			return nil, 0, mapError(err)
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, mapError(err)
	}
	return items, total, nil
}

// UpdateItem implements fortress.ItemService in one statement, so a concurrent delete either happens
// before (ENOTFOUND) or after; there is no half-updated item.
func (d *DB) UpdateItem(ctx context.Context, ownerID, id int64, u fortress.ItemUpdate) (fortress.Item, error) {
	return scanItem(d.db.QueryRowContext(ctx, `
		UPDATE items SET
			name = coalesce(?, name),
			description = CASE WHEN ? THEN NULL ELSE coalesce(?, description) END
		WHERE id = ? AND owner_id = ?
		RETURNING `+itemColumns,
		u.Name, u.ClearDescription, u.Description, id, ownerID))
}

// DeleteItem implements fortress.ItemService.
func (d *DB) DeleteItem(ctx context.Context, ownerID, id int64) error {
	_, err := d.db.ExecContext(ctx, `DELETE FROM items WHERE id = ? AND owner_id = ?`, id, ownerID)
	return mapError(err)
}

func scanItem(row *sql.Row) (fortress.Item, error) {
	var it fortress.Item
	err := row.Scan(&it.ID, &it.OwnerID, &it.Name, &it.Description)
	if errors.Is(err, sql.ErrNoRows) {
		return fortress.Item{}, fortress.Errorf(fortress.ENOTFOUND, "Item not found")
	}
	if err != nil {
		return fortress.Item{}, mapError(err)
	}
	return it, nil
}
