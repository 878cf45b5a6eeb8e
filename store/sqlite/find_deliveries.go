package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/channel"
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
// Deliveries with rows and those still waiting in chunks are read apart,
// in one read transaction, and merged newest first.
func (db *DB) FindDeliveries(ctx context.Context, f queue.DeliveryFilter) ([]*queue.Delivery, error) {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
	}
	defer tx.Rollback()
	groups := deliveryGroups(f)
	var byAddress sqlCond
	if f.Kind != "" && f.Address != "" {
		updates, err := groupUpdates(ctx, tx, groups)
		if err != nil {
			return nil, err
		}
		byAddress = addressCandidates(updates, f.Kind, f.Address)
	}
	query, args := deliveryRowsSQL(f, groups, byAddress)
	found, err := findDeliveryRows(ctx, tx, query, args)
	if err != nil {
		return nil, err
	}
	waiting, err := db.waitingDeliveries(ctx, tx, waitingFilter(f, groups), f.Limit)
	if err != nil {
		return nil, err
	}
	return newestFirst(append(found, waiting...), f.Limit), nil
}

// sqlCond is a condition of a WHERE clause with its arguments; "" is
// none.
type sqlCond struct {
	sql  string
	args []any
}

// deliveryGroups decides which delivery groups a filter reaches: the page,
// broadcast and incident filters are conditions on delivery_groups (found
// through its broadcast, page and incident indexes), which the rows and
// the chunks are narrowed by through a subquery. None of them set is any
// group.
func deliveryGroups(f queue.DeliveryFilter) sqlCond {
	var where []string
	var args []any
	add := func(cond string, v any) { where, args = append(where, cond), append(args, v) }
	if f.PageID != "" {
		add("page_id = ?", f.PageID)
	}
	if f.BroadcastID != "" {
		add("broadcast_id = ?", f.BroadcastID)
	}
	if f.IncidentID != "" {
		add("incident_id = ?", f.IncidentID)
	}
	return sqlCond{strings.Join(where, " AND "), args}
}

// groupUpdates returns the updates of the delivery groups that groups
// selects (every group's when it is none), each once: the updates a
// delivery to one address may belong to.
func groupUpdates(ctx context.Context, tx *sql.Tx, groups sqlCond) ([]string, error) {
	cond := "1"
	if groups.sql != "" {
		cond = groups.sql
	}
	rows, err := tx.QueryContext(ctx, "SELECT DISTINCT update_id FROM delivery_groups WHERE "+cond, groups.args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
	}
	var updates []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
		}
		updates = append(updates, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
	}
	return updates, nil
}

// addressCandidates decides how a filter on kind and address finds its
// rows without an address index: a subquery for a superset of their rids,
// made of the ID each of updates gives that address
// (queue.DeliveryID(update, kind, address)) looked up in the ID levels,
// and the odd deliveries (IDs made otherwise) through deliveries_odd. The
// filters on the rows themselves drop what the superset brings too many.
func addressCandidates(updates []string, kind channel.Kind, address string) sqlCond {
	ids := make([]any, 0, len(updates))
	for _, u := range updates {
		ids = append(ids, idHash(idKey(queue.DeliveryID(u, kind, address))))
	}
	cand := "SELECT rid FROM deliveries WHERE odd = 1 AND kind = ? AND address = ?"
	cargs := []any{string(kind), address}
	if len(ids) > 0 {
		// A key shared by another ID brings a row the filters below drop.
		cand = ridsOfKeys(len(ids)) + " UNION ALL " + cand
		cargs = append(append(ids, ids...), cargs...)
	}
	return sqlCond{cand, cargs}
}

// deliveryRowsSQL returns the query, with its arguments, for the rows
// (claimed or finished deliveries) that f matches, newest first and at
// most f.Limit. The conditions' order, and so the plan, is fixed: groups,
// then byAddress (addressCandidates, or none), then the rows' own columns.
// A filter with byAddress searches by rowid through its subquery, one with
// a recipient through deliveries_recipient; any other shape (groups,
// kind, since or states only) scans deliveries, which has no index by
// group, checking each row's group against the subquery's list.
func deliveryRowsSQL(f queue.DeliveryFilter, groups, byAddress sqlCond) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, v ...any) { where, args = append(where, cond), append(args, v...) }
	if groups.sql != "" {
		where = append(where, "d.grp IN (SELECT id FROM delivery_groups WHERE "+groups.sql+")")
		args = append(args, groups.args...)
	}
	if byAddress.sql != "" {
		where, args = append(where, "d.rid IN ("+byAddress.sql+")"), append(args, byAddress.args...)
	}
	rowConds(f, add)
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	return "SELECT " + deliveryColumns + deliveryFrom + cond + " ORDER BY d.created_at DESC, d.rid DESC LIMIT ?",
		append(args, limitArg(f.Limit))
}

// rowConds adds the conditions of f on a delivery row's own columns
// (recipient, channel, address, since, states), each with its arguments.
func rowConds(f queue.DeliveryFilter, add func(cond string, v ...any)) {
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
		states := make([]any, len(f.States))
		for i, s := range f.States {
			states[i] = string(s)
		}
		add("d.state IN ("+placeholders(len(states))+")", states...)
	}
}

// findDeliveryRows runs a deliveryRowsSQL query and reads its rows, each
// with its rid for the merge with the chunks' deliveries.
func findDeliveryRows(ctx context.Context, tx *sql.Tx, query string, args []any) ([]ridDelivery, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
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
	return found, nil
}

// waitingFilter decides what FindDeliveries asks of the chunks' waiting
// deliveries: the same groups (through delivery_chunks_grp) and filters;
// which states a waiting delivery can be in is waitingDeliveries' to say.
func waitingFilter(f queue.DeliveryFilter, groups sqlCond) chunkFilter {
	cf := chunkFilter{kind: f.Kind, address: f.Address, recipient: f.RecipientID, states: f.States}
	if groups.sql != "" {
		cf.groups, cf.groupArgs = "SELECT id FROM delivery_groups WHERE "+groups.sql, groups.args
	}
	if !f.Since.IsZero() {
		cf.since = ms(f.Since)
	}
	return cf
}

// newestFirst merges rows and waiting deliveries into FindDeliveries'
// order (created_at, then rid, descending) and keeps the first limit
// (≤ 0: all).
func newestFirst(found []ridDelivery, limit int) []*queue.Delivery {
	sortNewestFirst(found)
	if limit > 0 && len(found) > limit {
		found = found[:limit]
	}
	out := make([]*queue.Delivery, len(found))
	for i, r := range found {
		out[i] = r.d
	}
	return out
}
