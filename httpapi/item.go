package httpapi

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"github.com/fortress-dev/fortress"
)

// itemCreateRequest is the body of POST /items/.
type itemCreateRequest struct {
	Name        string  `json:"name" validate:"required,min=1,max=255,line" doc:"1 to 255 characters, one line." example:"Notebook"`
	Description *string `json:"description" validate:"nullable,max=10000,text" doc:"Up to 10,000 characters." example:"A5, dotted"`
}

// itemUpdateRequest is the body of PUT /items/{item_id}: a partial update, where an absent field keeps
// its value and a null description clears it.
type itemUpdateRequest struct {
	Name        *string `json:"name" validate:"min=1,max=255,line" doc:"1 to 255 characters, one line. Absent: unchanged. Must not be null."`
	Description *string `json:"description" validate:"nullable,max=10000,text" doc:"Up to 10,000 characters. Absent: unchanged. null: cleared."`
}

// itemResponse is an item as clients see it.
type itemResponse struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	OwnerID     int64   `json:"owner_id"`
}

func newItemResponse(it fortress.Item) itemResponse {
	return itemResponse{ID: it.ID, Name: it.Name, Description: it.Description, OwnerID: it.OwnerID}
}

const detailItemNotFound = "Item not found"

// intParam is an integer path or query parameter. Its bounds are both enforced by parse and published
// in /openapi.json.
type intParam struct {
	Name     string
	In       string // "path" or "query"
	Min, Max int64
	Default  int64 // for optional query parameters
	Doc      string
}

var (
	itemIDParam = intParam{Name: "item_id", In: "path", Min: 1, Max: math.MaxInt64, Doc: "The item's id."}
	limitParam  = intParam{Name: "limit", In: "query", Min: 1, Max: 100, Default: 50, Doc: "Page size."}
	offsetParam = intParam{Name: "offset", In: "query", Min: 0, Max: 1_000_000, Default: 0, Doc: "Items to skip."}
)

// parse reads the parameter from r; a query parameter that is absent takes its default.
func (p intParam) parse(r *http.Request) (int64, *fieldError) {
	var raw string
	if p.In == "path" {
		raw = r.PathValue(p.Name)
	} else {
		values, set := r.URL.Query()[p.Name]
		if !set {
			return p.Default, nil
		}
		if len(values) > 1 {
			return 0, &fieldError{Location: p.In, Field: p.Name, Message: "must appear only once"}
		}
		raw = values[0]
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	// Only the canonical form is accepted ("1", not "+1" or "01"), so that each item has one address.
	if err != nil || n < p.Min || n > p.Max || strconv.FormatInt(n, 10) != raw {
		return 0, &fieldError{Location: p.In, Field: p.Name, Message: fmt.Sprintf("must be an integer from %d to %d", p.Min, p.Max)}
	}
	return n, nil
}

func handleItemCreate(log *slog.Logger, items fortress.ItemService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req itemCreateRequest
		if _, ok := decodeJSON(w, r, &req); !ok {
			return
		}
		it, err := items.CreateItem(r.Context(), userFrom(r.Context()).ID, fortress.ItemCreate{Name: req.Name, Description: req.Description})
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		w.Header().Set("Location", "/items/"+strconv.FormatInt(it.ID, 10))
		writeJSON(w, r, log, http.StatusCreated, newItemResponse(it))
	})
}

// handleItemList answers a JSON array, as the original does, and carries the paging in headers:
// X-Total-Count and a Link to the next page.
func handleItemList(log *slog.Logger, items fortress.ItemService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, lerr := limitParam.parse(r)
		offset, oerr := offsetParam.parse(r)
		if errs := collect(lerr, oerr); len(errs) > 0 {
			writeValidation(w, r, errs...)
			return
		}
		page, total, err := items.ListItems(r.Context(), userFrom(r.Context()).ID, fortress.ItemFilter{Limit: int(limit), Offset: int(offset)})
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		out := make([]itemResponse, len(page))
		for i, it := range page {
			out[i] = newItemResponse(it)
		}
		w.Header().Set("X-Total-Count", strconv.Itoa(total))
		if next := offset + int64(len(page)); len(page) > 0 && next < int64(total) && next <= offsetParam.Max {
			q := url.Values{"limit": {strconv.FormatInt(limit, 10)}, "offset": {strconv.FormatInt(next, 10)}}
			w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, q.Encode()))
		}
		writeJSON(w, r, log, http.StatusOK, out)
	})
}

func handleItemGet(log *slog.Logger, items fortress.ItemService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ferr := itemIDParam.parse(r)
		if ferr != nil {
			writeValidation(w, r, *ferr)
			return
		}
		it, err := items.FindItem(r.Context(), userFrom(r.Context()).ID, id)
		writeItem(w, r, log, it, err)
	})
}

func handleItemUpdate(log *slog.Logger, items fortress.ItemService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ferr := itemIDParam.parse(r)
		if ferr != nil {
			writeValidation(w, r, *ferr)
			return
		}
		var req itemUpdateRequest
		seen, ok := decodeJSON(w, r, &req)
		if !ok {
			return
		}
		update := fortress.ItemUpdate{Name: req.Name, Description: req.Description}
		if isNull, present := seen["description"]; present && isNull {
			update.ClearDescription = true
		}
		it, err := items.UpdateItem(r.Context(), userFrom(r.Context()).ID, id, update)
		writeItem(w, r, log, it, err)
	})
}

// handleItemDelete answers 204 whether or not the caller had the item, so that it reveals nothing
// about other users' ids.
func handleItemDelete(log *slog.Logger, items fortress.ItemService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ferr := itemIDParam.parse(r)
		if ferr != nil {
			writeValidation(w, r, *ferr)
			return
		}
		if err := items.DeleteItem(r.Context(), userFrom(r.Context()).ID, id); err != nil {
			writeError(w, r, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// writeItem answers a read or update of one item: the item, or the contract's 404 whether the item is
// missing or someone else's.
func writeItem(w http.ResponseWriter, r *http.Request, log *slog.Logger, it fortress.Item, err error) {
	switch {
	case fortress.ErrorCode(err) == fortress.ENOTFOUND:
		writeProblem(w, r, http.StatusNotFound, detailItemNotFound)
	case err != nil:
		writeError(w, r, log, err)
	default:
		writeJSON(w, r, log, http.StatusOK, newItemResponse(it))
	}
}

func collect(errs ...*fieldError) []fieldError {
	var out []fieldError
	for _, e := range errs {
		if e != nil {
			out = append(out, *e)
		}
	}
	return out
}
