package fortress

import "context"

// Limits of an item's fields, enforced by the HTTP layer's validation and by the database schema.
const (
	ItemNameMaxChars        = 255
	ItemDescriptionMaxChars = 10000
)

// Item is a user's record. Every operation is scoped to an owner: an item of another user behaves
// exactly like a missing one.
type Item struct {
	ID          int64
	OwnerID     int64
	Name        string
	Description *string
}

// ItemCreate holds the fields a client may set on a new item.
type ItemCreate struct {
	Name        string
	Description *string
}

// ItemUpdate is a partial update: a nil field keeps its value. ClearDescription sets the description to
// NULL, which a nil Description cannot express.
type ItemUpdate struct {
	Name             *string
	Description      *string
	ClearDescription bool
}

// ItemFilter selects a page of an owner's items, ordered by id.
type ItemFilter struct {
	Limit  int
	Offset int
}

// ItemService stores items, always on behalf of one owner.
type ItemService interface {
	// CreateItem stores a new item owned by ownerID.
	CreateItem(ctx context.Context, ownerID int64, create ItemCreate) (Item, error)

	// FindItem returns ENOTFOUND when the item is missing or owned by someone else.
	FindItem(ctx context.Context, ownerID, id int64) (Item, error)

	// ListItems returns a page of the owner's items and the owner's total number of items.
	ListItems(ctx context.Context, ownerID int64, filter ItemFilter) (items []Item, total int, err error)

	// UpdateItem applies a partial update. It returns ENOTFOUND when the item is missing or not the owner's.
	UpdateItem(ctx context.Context, ownerID, id int64, update ItemUpdate) (Item, error)

	// DeleteItem deletes the item if the owner has it. Deleting a missing item is not an error, so that
	// the answer never tells whether an id exists.
	DeleteItem(ctx context.Context, ownerID, id int64) error
}
