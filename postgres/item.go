package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/fortress-dev/fortress"
)

const itemColumns = `id, owner_id, name, description`

// CreateItem implements fortress.ItemService.
func (d *DB) CreateItem(ctx context.Context, ownerID int64, c fortress.ItemCreate) (fortress.Item, error) {
	return scanItem(d.pool.QueryRow(ctx,
		`INSERT INTO items (owner_id, name, description) VALUES ($1, $2, $3) RETURNING `+itemColumns,
		ownerID, c.Name, c.Description))
}

// FindItem implements fortress.ItemService.
func (d *DB) FindItem(ctx context.Context, ownerID, id int64) (fortress.Item, error) {
	return scanItem(d.pool.QueryRow(ctx,
		`SELECT `+itemColumns+` FROM items WHERE id = $1 AND owner_id = $2`, id, ownerID))
}

// ListItems implements fortress.ItemService. The page and the total come from one repeatable-read
// snapshot, so they agree with each other.
func (d *DB) ListItems(ctx context.Context, ownerID int64, f fortress.ItemFilter) (items []fortress.Item, total int, err error) {
	tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, 0, mapError(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM items WHERE owner_id = $1`, ownerID).Scan(&total); err != nil {
		return nil, 0, mapError(err)
	}
	rows, err := tx.Query(ctx,
		`SELECT `+itemColumns+` FROM items WHERE owner_id = $1 ORDER BY id LIMIT $2 OFFSET $3`,
		ownerID, f.Limit, f.Offset)
	if err != nil {
		return nil, 0, mapError(err)
	}
	items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (fortress.Item, error) {
		var it fortress.Item
		err := r.Scan(&it.ID, &it.OwnerID, &it.Name, &it.Description)
		return it, err
	})
	if err != nil {
		return nil, 0, mapError(err)
	}
	return items, total, tx.Commit(ctx)
}

// UpdateItem implements fortress.ItemService in one statement, so a concurrent delete either happens
// before (ENOTFOUND) or after; there is no half-updated item.
func (d *DB) UpdateItem(ctx context.Context, ownerID, id int64, u fortress.ItemUpdate) (fortress.Item, error) {
	return scanItem(d.pool.QueryRow(ctx, `
		UPDATE items SET
			name = coalesce($1, name),
			description = CASE WHEN $2 THEN NULL ELSE coalesce($3, description) END
		WHERE id = $4 AND owner_id = $5
		RETURNING `+itemColumns,
		u.Name, u.ClearDescription, u.Description, id, ownerID))
}

// DeleteItem implements fortress.ItemService.
func (d *DB) DeleteItem(ctx context.Context, ownerID, id int64) error {
	_, err := d.pool.Exec(ctx, `DELETE FROM items WHERE id = $1 AND owner_id = $2`, id, ownerID)
	return mapError(err)
}

func scanItem(row pgx.Row) (fortress.Item, error) {
	var it fortress.Item
	err := row.Scan(&it.ID, &it.OwnerID, &it.Name, &it.Description)
	if errors.Is(err, pgx.ErrNoRows) {
		return fortress.Item{}, fortress.Errorf(fortress.ENOTFOUND, "Item not found")
	}
	if err != nil {
		return fortress.Item{}, mapError(err)
	}
	return it, nil
}
