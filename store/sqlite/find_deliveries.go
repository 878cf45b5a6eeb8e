package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// FindDeliveryByID implements notify.Store.
// A delivery without a row yet (waiting in a chunk) is found by reading
// the chunks, which no index leads through: only lookups of deliveries not
// yet claimed pay for that, and nothing on a hot path makes them (links
// and receipts name sent deliveries, which have rows).
func (db *DB) FindDeliveryByID(ctx context.Context, id string) (*queue.Delivery, error) {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: find delivery %s: %w", id, err)
	}
	defer tx.Rollback()
	d, _, err := scanDeliveryRID(tx.QueryRowContext(ctx, "SELECT "+deliveryColumns+deliveryFrom+" WHERE "+byID("d."), byIDArgs(id)...))
	if errors.Is(err, sql.ErrNoRows) {
		if d, err = db.findWaiting(ctx, tx, id); err == nil && d == nil {
			return nil, incident.NotFound("delivery", id)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: find delivery %s: %w", id, err)
	}
	return d, nil
}

// byProviderSQL is FindDeliveryByProviderID's query.
const byProviderSQL = "SELECT " + deliveryColumns + deliveryFrom + ` WHERE d.provider_id = ?
	AND d.provider_id != '' ORDER BY d.rid DESC LIMIT 1`

// FindDeliveryByProviderID implements notify.Store; of several (a
// provider reusing an ID), the newest. The "!= ”" is what lets SQLite use
// the partial index deliveries_provider: it cannot tell that a bound value
// is never ”, and without it every status callback scanned the table.
func (db *DB) FindDeliveryByProviderID(ctx context.Context, providerID string) (*queue.Delivery, error) {
	if providerID == "" {
		return nil, incident.NotFound("delivery", providerID)
	}
	d, err := scanDelivery(db.readRow(ctx, byProviderSQL, providerID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("delivery", providerID)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find delivery by provider ID: %w", err)
	}
	return d, nil
}

// FindDeliveries implements notify.Store. A filter on kind and address (the
// frequency cap's) is served without an address index: for each update of
// the matching groups, the delivery it would have is
// queue.DeliveryID(update, kind, address), looked up by ID, and the few
// deliveries with IDs made otherwise (odd) have an index of their own.
func (db *DB) FindDeliveries(ctx context.Context, f queue.DeliveryFilter) ([]*queue.Delivery, error) {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
	}
	defer tx.Rollback()
	var where []string
	var args []any
	add := func(cond string, v any) { where, args = append(where, cond), append(args, v) }
	var gwhere []string
	var gargs []any
	gadd := func(cond string, v any) { gwhere, gargs = append(gwhere, cond), append(gargs, v) }
	if f.PageID != "" {
		gadd("page_id = ?", f.PageID)
	}
	if f.BroadcastID != "" {
		gadd("broadcast_id = ?", f.BroadcastID)
	}
	if f.IncidentID != "" {
		gadd("incident_id = ?", f.IncidentID)
	}
	if len(gwhere) > 0 {
		where = append(where, "d.grp IN (SELECT id FROM delivery_groups WHERE "+strings.Join(gwhere, " AND ")+")")
		args = append(args, gargs...)
	}
	if f.Kind != "" && f.Address != "" {
		cond := "1"
		if len(gwhere) > 0 {
			cond = strings.Join(gwhere, " AND ")
		}
		rows, err := tx.QueryContext(ctx, "SELECT DISTINCT update_id FROM delivery_groups WHERE "+cond, gargs...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
		}
		var ids []any
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
			}
			ids = append(ids, idHash(idKey(queue.DeliveryID(u, f.Kind, f.Address))))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
		}
		cand := "SELECT rid FROM deliveries WHERE odd = 1 AND kind = ? AND address = ?"
		cargs := []any{string(f.Kind), f.Address}
		if len(ids) > 0 {
			// A key shared by another ID brings a row the filters below drop.
			cand = ridsOfKeys(len(ids)) + " UNION ALL " + cand
			cargs = append(append(ids, ids...), cargs...)
		}
		where, args = append(where, "d.rid IN ("+cand+")"), append(args, cargs...)
	}
	if f.RecipientID != "" {
		add("d.recipient_id = ?", f.RecipientID)
	}
	if f.Kind != "" {
		add("d.kind = ?", string(f.Kind))
	}
	if f.Address != "" {
		add("d.address = ?", f.Address)
	}
	if !f.Since.IsZero() {
		add("d.created_at >= ?", ms(f.Since))
	}
	if len(f.States) > 0 {
		where = append(where, "d.state IN ("+placeholders(len(f.States))+")")
		for _, s := range f.States {
			args = append(args, string(s))
		}
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+deliveryColumns+deliveryFrom+cond+" ORDER BY d.created_at DESC, d.rid DESC LIMIT ?",
		append(args, limitArg(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
	}
	defer rows.Close()
	var found []ridDelivery
	for rows.Next() {
		d, rid, err := scanDeliveryRID(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
		}
		found = append(found, ridDelivery{d, rid})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
	}
	rows.Close()
	cf := chunkFilter{kind: f.Kind, address: f.Address, recipient: f.RecipientID, states: f.States}
	if len(gwhere) > 0 {
		cf.groups, cf.groupArgs = "SELECT id FROM delivery_groups WHERE "+strings.Join(gwhere, " AND "), gargs
	}
	if !f.Since.IsZero() {
		cf.since = ms(f.Since)
	}
	waiting, err := db.waitingDeliveries(ctx, tx, cf, f.Limit)
	if err != nil {
		return nil, err
	}
	found = append(found, waiting...)
	sortNewestFirst(found)
	if f.Limit > 0 && len(found) > f.Limit {
		found = found[:f.Limit]
	}
	out := make([]*queue.Delivery, len(found))
	for i, r := range found {
		out[i] = r.d
	}
	return out, nil
}
