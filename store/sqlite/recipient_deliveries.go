package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// recipientDeliveriesSQL reads a page of deliveries rows by recipient:
// deliveries_recipient (recipient_id, then rid) leads, so the rows come
// by recipient ID and SQLite sorts only each recipient's few rows into
// FindDeliveries' order (created_at, then rid, descending); the cursor is
// a range on the index plus that order within the cursor's recipient.
// INDEXED BY keeps the plan: with the group subquery, SQLite could
// otherwise pick a scan by rowid and sort every row of the incident.
const recipientDeliveriesSQL = "SELECT " + deliveryColumns + ` FROM deliveries d INDEXED BY deliveries_recipient
	JOIN delivery_groups g ON g.id = d.grp
	WHERE d.recipient_id >= ? AND (d.recipient_id > ? OR d.created_at < ? OR d.created_at = ? AND d.rid < ?)`

// recipientCursor is where a page of FindRecipientDeliveries ends: the
// last delivery's recipient, created_at and rid. The zero cursor is before
// every recipient (their IDs are not empty).
type recipientCursor struct {
	recipient string
	created   int64
	rid       int64
}

func (c recipientCursor) String() string {
	return strconv.FormatInt(c.created, 10) + " " + strconv.FormatInt(c.rid, 10) + " " + c.recipient
}

func parseRecipientCursor(s string) (recipientCursor, error) {
	if s == "" {
		return recipientCursor{}, nil
	}
	parts := strings.SplitN(s, " ", 3)
	if len(parts) == 3 {
		created, err1 := strconv.ParseInt(parts[0], 10, 64)
		rid, err2 := strconv.ParseInt(parts[1], 10, 64)
		if err1 == nil && err2 == nil && parts[2] != "" {
			return recipientCursor{parts[2], created, rid}, nil
		}
	}
	return recipientCursor{}, incident.Invalid("cursor", "bad cursor %q", s)
}

// follows reports whether the delivery (recipient, created, rid) comes
// after c in FindRecipientDeliveries' order: by recipient, then newest
// first.
func (c recipientCursor) follows(recipient string, created, rid int64) bool {
	if recipient != c.recipient {
		return recipient > c.recipient
	}
	return newer(c.created, c.rid, created, rid)
}

// FindRecipientDeliveries implements surveys.Deliveries. Rows come through
// deliveries_recipient; deliveries still waiting in chunks (pending or
// cancelled only) are read, as FindDeliveries reads them, when the states
// asked for include theirs, and merged in: a survey's filter (sent,
// delivered) never reads a chunk.
func (db *DB) FindRecipientDeliveries(ctx context.Context, f queue.DeliveryFilter, after string, limit int) ([]*queue.Delivery, string, error) {
	if f.PageID == "" {
		return nil, "", incident.Invalid("page_id", "a page is required")
	}
	if limit < 1 {
		limit = 1
	}
	cur, err := parseRecipientCursor(after)
	if err != nil {
		return nil, "", err
	}
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: find recipient deliveries: %w", err)
	}
	defer tx.Rollback()
	groups := deliveryGroups(f)
	query, args := recipientDeliveriesSQL, []any{cur.recipient, cur.recipient, cur.created, cur.created, cur.rid}
	add := func(cond string, v ...any) { query, args = query+" AND "+cond, append(args, v...) }
	if cur.recipient == "" {
		add("d.recipient_id != ''")
	}
	add("d.grp IN (SELECT id FROM delivery_groups WHERE "+groups.sql+")", groups.args...)
	rowConds(f, add)
	query += " ORDER BY d.recipient_id, d.created_at DESC, d.rid DESC LIMIT ?"
	found, err := findDeliveryRows(ctx, tx, query, append(args, limit))
	if err != nil {
		return nil, "", err
	}
	wf := waitingFilter(f, groups)
	wf.recipientFrom = cur.recipient
	waiting, err := db.waitingDeliveries(ctx, tx, wf, 0)
	if err != nil {
		return nil, "", err
	}
	for _, w := range waiting {
		if w.d.RecipientID != "" && cur.follows(w.d.RecipientID, ms(w.d.CreatedAt), w.rid) {
			found = append(found, w)
		}
	}
	if len(waiting) > 0 {
		slices.SortFunc(found, func(a, b ridDelivery) int {
			if a.d.RecipientID != b.d.RecipientID {
				return strings.Compare(a.d.RecipientID, b.d.RecipientID)
			}
			return byNewest(a, b)
		})
	}
	if len(found) > limit {
		found = found[:limit]
	}
	next := ""
	if len(found) == limit {
		last := found[len(found)-1]
		next = recipientCursor{last.d.RecipientID, ms(last.d.CreatedAt), last.rid}.String()
	}
	out := make([]*queue.Delivery, len(found))
	for i, r := range found {
		out[i] = r.d
	}
	return out, next, nil
}

// FindCustomersByIDs implements surveys.Customers: one read of the
// primary key per batch of IDs.
func (db *DB) FindCustomersByIDs(ctx context.Context, pageID string, ids []string) ([]*audience.Customer, error) {
	out := []*audience.Customer{}
	for part := range slices.Chunk(ids, 500) {
		args := []any{pageID}
		for _, id := range part {
			args = append(args, id)
		}
		cs, err := findAll(ctx, db.r, "customers", scanCustomer, "SELECT "+customerColumns+" FROM customers WHERE page_id = ? AND id IN ("+
			placeholders(len(part))+")", args...)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// LastSurveyedKeys implements surveys.Store from survey_last, a batch of
// keys per read.
func (db *DB) LastSurveyedKeys(ctx context.Context, pageID string, keys []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	for part := range slices.Chunk(keys, 500) {
		args := []any{pageID}
		for _, k := range part {
			args = append(args, k)
		}
		rows, err := db.r.QueryContext(ctx, "SELECT key, due_at FROM survey_last WHERE page_id = ? AND key IN ("+placeholders(len(part))+")", args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: last surveyed: %w", err)
		}
		for rows.Next() {
			var k string
			var due int64
			if err := rows.Scan(&k, &due); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: last surveyed: %w", err)
			}
			out[k] = fromMS(due)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: last surveyed: %w", err)
		}
	}
	return out, nil
}
