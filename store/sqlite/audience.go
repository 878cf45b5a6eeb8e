package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/store/internal/fastjson"
)

// The engine implements the data packages' interfaces, and so notify.Store,
// without importing the pipeline.
var (
	_ audience.Store = (*DB)(nil)
	_ queue.Store    = (*DB)(nil)
	_ queue.Secrets  = (*DB)(nil)
)

// write runs fn in one BEGIN IMMEDIATE transaction on the writer.
func (db *DB) write(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %s: begin: %w", what, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: commit: %w", what, err)
	}
	return nil
}

// limitArg turns a filter's Limit into SQLite's LIMIT, where -1 is none.
func limitArg(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// ---- customers ----

const customerColumns = "page_id, id, name, phone, email, slack, language, time_zone, plan, region, components, attributes, created_at, updated_at"

func scanCustomer(s scanner) (*audience.Customer, error) {
	var c audience.Customer
	var comps, attrs string
	var created, updated int64
	if err := s.Scan(&c.PageID, &c.ID, &c.Name, &c.Phone, &c.Email, &c.Slack, &c.Language, &c.TimeZone, &c.Plan, &c.Region,
		&comps, &attrs, &created, &updated); err != nil {
		return nil, err
	}
	// Most customers have neither (a plan reads a million of them): "null"
	// needs no decoder, and what json.Marshal wrote needs none of
	// encoding/json's generality (see fastjson).
	if comps != "null" {
		var ok bool
		if c.Components, ok = fastjson.Strings(comps); !ok {
			if err := json.Unmarshal([]byte(comps), &c.Components); err != nil {
				return nil, fmt.Errorf("customer %s components: %w", c.ID, err)
			}
		}
	}
	if attrs != "null" {
		var ok bool
		if c.Attributes, ok = fastjson.StringMap(attrs); !ok {
			if err := json.Unmarshal([]byte(attrs), &c.Attributes); err != nil {
				return nil, fmt.Errorf("customer %s attributes: %w", c.ID, err)
			}
		}
	}
	c.CreatedAt, c.UpdatedAt = fromMS(created), fromMS(updated)
	return &c, nil
}

// UpsertCustomers implements notify.Store. A replaced customer keeps its
// created_at: INSERT … DO NOTHING tells new from known, and only known rows
// take the UPDATE.
func (db *DB) UpsertCustomers(ctx context.Context, cs []*audience.Customer) (int, error) {
	if len(cs) == 0 {
		return 0, nil
	}
	created := 0
	err := db.write(ctx, "upsert customers", func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO customers (`+customerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (page_id, id) DO NOTHING`)
		if err != nil {
			return fmt.Errorf("sqlite: upsert customers: %w", err)
		}
		defer ins.Close()
		upd, err := tx.PrepareContext(ctx, `UPDATE customers SET name = ?, phone = ?, email = ?, slack = ?, language = ?, time_zone = ?,
			plan = ?, region = ?, components = ?, attributes = ?, updated_at = ? WHERE page_id = ? AND id = ?`)
		if err != nil {
			return fmt.Errorf("sqlite: upsert customers: %w", err)
		}
		defer upd.Close()
		oldName, err := tx.PrepareContext(ctx, `SELECT name FROM customers WHERE page_id = ? AND id = ?`)
		if err != nil {
			return fmt.Errorf("sqlite: upsert customers: %w", err)
		}
		defer oldName.Close()
		names, err := prepareNames(ctx, tx)
		if err != nil {
			return err
		}
		defer names.close()
		created = 0
		for _, c := range cs {
			comps, err := jsonText(c.Components)
			if err != nil {
				return err
			}
			attrs, err := jsonText(c.Attributes)
			if err != nil {
				return err
			}
			res, err := ins.ExecContext(ctx, c.PageID, c.ID, c.Name, c.Phone, c.Email, c.Slack, c.Language, c.TimeZone, c.Plan, c.Region,
				comps, attrs, ms(c.CreatedAt), ms(c.UpdatedAt))
			if err != nil {
				return fmt.Errorf("sqlite: insert customer %s: %w", c.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				created++
				if err := names.add(ctx, c.PageID, c.ID, c.Name); err != nil {
					return err
				}
				continue
			}
			var was string
			if err := oldName.QueryRowContext(ctx, c.PageID, c.ID).Scan(&was); err != nil {
				return fmt.Errorf("sqlite: update customer %s: %w", c.ID, err)
			}
			if was != c.Name {
				if err := names.drop(ctx, c.PageID, c.ID, was); err != nil {
					return err
				}
				if err := names.add(ctx, c.PageID, c.ID, c.Name); err != nil {
					return err
				}
			}
			if _, err := upd.ExecContext(ctx, c.Name, c.Phone, c.Email, c.Slack, c.Language, c.TimeZone, c.Plan, c.Region,
				comps, attrs, ms(c.UpdatedAt), c.PageID, c.ID); err != nil {
				return fmt.Errorf("sqlite: update customer %s: %w", c.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return created, nil
}

// FindCustomerByID implements notify.Store.
func (db *DB) FindCustomerByID(ctx context.Context, pageID, id string) (*audience.Customer, error) {
	c, err := scanCustomer(db.readRow(ctx, "SELECT "+customerColumns+" FROM customers WHERE page_id = ? AND id = ?", pageID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("customer", id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find customer %s: %w", id, err)
	}
	return c, nil
}

// FindCustomers implements notify.Store.
func (db *DB) FindCustomers(ctx context.Context, f audience.CustomerFilter) ([]*audience.Customer, error) {
	return findAll(ctx, prepared{db: db}, "customers", scanCustomer, "SELECT "+customerColumns+" FROM customers WHERE page_id = ? AND id > ? ORDER BY id LIMIT ?",
		f.PageID, f.After, limitArg(f.Limit))
}

// CountCustomers implements notify.Store.
func (db *DB) CountCustomers(ctx context.Context, pageID string) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, "SELECT count(*) FROM customers WHERE page_id = ?", pageID).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count customers: %w", err)
	}
	return n, nil
}

// DeleteCustomer implements notify.Store, with the customer's name words.
func (db *DB) DeleteCustomer(ctx context.Context, pageID, id string) error {
	return db.write(ctx, "delete customer", func(tx *sql.Tx) error {
		var name string
		err := tx.QueryRowContext(ctx, "DELETE FROM customers WHERE page_id = ? AND id = ? RETURNING name", pageID, id).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return incident.NotFound("customer", id)
		} else if err != nil {
			return fmt.Errorf("sqlite: delete customer %s: %w", id, err)
		}
		for _, w := range audience.NameWords(name) {
			if _, err := tx.ExecContext(ctx, "DELETE FROM customer_names WHERE page_id = ? AND word = ? AND customer_id = ?", pageID, w, id); err != nil {
				return fmt.Errorf("sqlite: delete customer %s: %w", id, err)
			}
		}
		return nil
	})
}

// nameStmts writes and drops the customer_names rows of one customer's name.
type nameStmts struct{ ins, del *sql.Stmt }

func prepareNames(ctx context.Context, tx *sql.Tx) (*nameStmts, error) {
	ins, err := tx.PrepareContext(ctx, "INSERT INTO customer_names (page_id, word, customer_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
	if err != nil {
		return nil, fmt.Errorf("sqlite: customer names: %w", err)
	}
	del, err := tx.PrepareContext(ctx, "DELETE FROM customer_names WHERE page_id = ? AND word = ? AND customer_id = ?")
	if err != nil {
		ins.Close()
		return nil, fmt.Errorf("sqlite: customer names: %w", err)
	}
	return &nameStmts{ins: ins, del: del}, nil
}

func (n *nameStmts) close() { n.ins.Close(); n.del.Close() }

func (n *nameStmts) add(ctx context.Context, pageID, id, name string) error {
	for _, w := range audience.NameWords(name) {
		if _, err := n.ins.ExecContext(ctx, pageID, w, id); err != nil {
			return fmt.Errorf("sqlite: customer %s name: %w", id, err)
		}
	}
	return nil
}

func (n *nameStmts) drop(ctx context.Context, pageID, id, name string) error {
	for _, w := range audience.NameWords(name) {
		if _, err := n.del.ExecContext(ctx, pageID, w, id); err != nil {
			return fmt.Errorf("sqlite: customer %s name: %w", id, err)
		}
	}
	return nil
}

// nameMigration is the migration that added customer_names.
const nameMigration = 19

// backfillCustomerNames writes the name words of the customers stored
// before nameMigration, in its transaction, reading them in batches.
func backfillCustomerNames(ctx context.Context, tx *sql.Tx) error {
	names, err := prepareNames(ctx, tx)
	if err != nil {
		return err
	}
	defer names.close()
	type row struct{ page, id, name string }
	var lastPage, lastID string
	for {
		rows, err := tx.QueryContext(ctx, `SELECT page_id, id, name FROM customers WHERE (page_id, id) > (?, ?)
			ORDER BY page_id, id LIMIT 10000`, lastPage, lastID)
		if err != nil {
			return err
		}
		var batch []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.page, &r.id, &r.name); err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		for _, r := range batch {
			if err := names.add(ctx, r.page, r.id, r.name); err != nil {
				return err
			}
		}
		lastPage, lastID = batch[len(batch)-1].page, batch[len(batch)-1].id
	}
}

// FindCustomersByName implements audience.Store: a range read of
// customer_names on the longest query word's prefix, in (word, ID) order,
// capped at MaxNameScan entries; each other word is checked in SQL by a
// seek of the candidate's words (customer_names_customer), so only the
// customers that match are read and decoded.
func (db *DB) FindCustomersByName(ctx context.Context, pageID, query string, limit int) ([]*audience.Customer, error) {
	out := []*audience.Customer{}
	words, key := audience.NameQuery(query)
	if key == "" {
		return out, nil
	}
	if limit <= 0 || limit > audience.MaxNameResults {
		limit = audience.MaxNameResults
	}
	// The range [w, w+0xFF): every word that begins with w (words are
	// valid UTF-8, which never holds the byte 0xFF). Each word's entries
	// are counted up to one more than a search reads.
	key, err := audience.RarestWord(words, key, func(w string) (n int, err error) {
		err = db.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM customer_names WHERE page_id = ? AND word >= ? AND word < ? LIMIT ?)`,
			pageID, w, w+"\xff", audience.MaxNameScan+1).Scan(&n)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: find customers by name: %w", err)
	}
	var where strings.Builder
	args := []any{pageID, key, key + "\xff", audience.MaxNameScan, pageID}
	for _, w := range words {
		if w == key {
			continue
		}
		where.WriteString(` AND EXISTS (SELECT 1 FROM customer_names m INDEXED BY customer_names_customer
			WHERE m.page_id = ? AND m.customer_id = n.customer_id AND m.word >= ? AND m.word < ?)`)
		args = append(args, pageID, w, w+"\xff")
	}
	rows, err := db.r.QueryContext(ctx, `SELECT c.page_id, c.id, c.name, c.phone, c.email, c.slack, c.language, c.time_zone, c.plan, c.region,
		c.components, c.attributes, c.created_at, c.updated_at
		FROM (SELECT word, customer_id FROM customer_names WHERE page_id = ? AND word >= ? AND word < ? ORDER BY word, customer_id LIMIT ?) n
		JOIN customers c ON c.page_id = ? AND c.id = n.customer_id
		WHERE 1`+where.String()+` ORDER BY n.word, n.customer_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find customers by name: %w", err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() && len(out) < limit {
		c, err := scanCustomer(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: find customers by name: %w", err)
		}
		if !seen[c.ID] {
			seen[c.ID] = true
			out = append(out, c)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: find customers by name: %w", err)
	}
	return out, nil
}

// customersByAddressSQL reads a page's customers by one address column
// through its partial index customers_<column> (migration 0007). The
// index is named: without statistics SQLite prefers scanning the page
// through the primary key. The literal test against the empty string is
// what makes the partial index usable.
func customersByAddressSQL(column string) string {
	if column == "email" {
		// Folded, as audience.AddressKey folds the query.
		return "SELECT " + customerColumns + " FROM customers INDEXED BY customers_email_folded" +
			" WHERE page_id = ? AND lower(email) = ? AND email <> '' ORDER BY id"
	}
	return "SELECT " + customerColumns + " FROM customers INDEXED BY customers_" + column +
		" WHERE page_id = ? AND " + column + " = ? AND " + column + " <> '' ORDER BY id"
}

// addressColumns maps a channel to the customer column holding its address.
var addressColumns = map[channel.Kind]string{channel.SMS: "phone", channel.Email: "email", channel.Slack: "slack"}

// FindCustomersByAddress implements audience.Store.
func (db *DB) FindCustomersByAddress(ctx context.Context, pageID string, kind channel.Kind, address string) ([]*audience.Customer, error) {
	column, ok := addressColumns[kind]
	if !ok || address == "" {
		return []*audience.Customer{}, nil
	}
	return findAll(ctx, prepared{db: db}, "customers by address", scanCustomer, customersByAddressSQL(column), pageID, audience.AddressKey(kind, address))
}

// ---- subscribers ----

const subscriberColumns = `id, page_id, kind, address, language, component_ids, incident_id, state, confirm_hash, confirm_tries,
	source, created_at, confirmed_at, unsubscribed_at, confirm_sent_at, unsubscribe_reason`

func scanSubscriber(s scanner) (*audience.Subscriber, error) {
	var sub audience.Subscriber
	var kind, state, comps string
	var created int64
	var confirmed, unsubscribed, codeSent sql.NullInt64
	if err := s.Scan(&sub.ID, &sub.PageID, &kind, &sub.Address, &sub.Language, &comps, &sub.IncidentID, &state, &sub.ConfirmHash,
		&sub.ConfirmTries, &sub.Source, &created, &confirmed, &unsubscribed, &codeSent, &sub.UnsubscribeReason); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(comps), &sub.ComponentIDs); err != nil {
		return nil, fmt.Errorf("subscriber %s component_ids: %w", sub.ID, err)
	}
	sub.Kind, sub.State = channel.Kind(kind), audience.SubscriberState(state)
	sub.CreatedAt, sub.ConfirmedAt, sub.UnsubscribedAt = fromMS(created), fromMSPtr(confirmed), fromMSPtr(unsubscribed)
	sub.ConfirmSentAt = fromMSPtr(codeSent)
	return &sub, nil
}

func liveSubscriber(s audience.SubscriberState) bool {
	return s == audience.SubscriberPending || s == audience.SubscriberActive
}

// SaveSubscriber implements notify.Store. The unique partial index
// subscribers_live holds the one-live-subscriber rule; the check before
// the write only turns a violation into a clear ECONFLICT.
func (db *DB) SaveSubscriber(ctx context.Context, s *audience.Subscriber) error {
	comps, err := jsonText(s.ComponentIDs)
	if err != nil {
		return err
	}
	return db.write(ctx, "save subscriber", func(tx *sql.Tx) error {
		if liveSubscriber(s.State) {
			var other string
			err := tx.QueryRowContext(ctx, `SELECT id FROM subscribers WHERE page_id = ? AND kind = ? AND address = ? AND incident_id = ?
				AND state IN ('pending', 'active') AND id != ?`, s.PageID, string(s.Kind), s.Address, s.IncidentID, s.ID).Scan(&other)
			switch {
			case err == nil:
				return incident.Errorf(incident.ECONFLICT, "this %s address is already subscribed", s.Kind)
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("sqlite: save subscriber %s: %w", s.ID, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO subscribers (`+subscriberColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET page_id = excluded.page_id, kind = excluded.kind, address = excluded.address,
				language = excluded.language, component_ids = excluded.component_ids, incident_id = excluded.incident_id,
				state = excluded.state, confirm_hash = excluded.confirm_hash, confirm_tries = excluded.confirm_tries,
				source = excluded.source, created_at = excluded.created_at, confirmed_at = excluded.confirmed_at,
				unsubscribed_at = excluded.unsubscribed_at, confirm_sent_at = excluded.confirm_sent_at,
				unsubscribe_reason = excluded.unsubscribe_reason`,
			s.ID, s.PageID, string(s.Kind), s.Address, s.Language, comps, s.IncidentID, string(s.State), s.ConfirmHash, s.ConfirmTries,
			s.Source, ms(s.CreatedAt), msPtr(s.ConfirmedAt), msPtr(s.UnsubscribedAt), msPtr(s.ConfirmSentAt), s.UnsubscribeReason); err != nil {
			return fmt.Errorf("sqlite: save subscriber %s: %w", s.ID, err)
		}
		return nil
	})
}

// FindSubscriberByID implements notify.Store.
func (db *DB) FindSubscriberByID(ctx context.Context, id string) (*audience.Subscriber, error) {
	s, err := scanSubscriber(db.readRow(ctx, "SELECT "+subscriberColumns+" FROM subscribers WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("subscriber", id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find subscriber %s: %w", id, err)
	}
	return s, nil
}

// FindSubscriberByAddress implements notify.Store.
func (db *DB) FindSubscriberByAddress(ctx context.Context, pageID string, kind channel.Kind, address, incidentID string) (*audience.Subscriber, error) {
	s, err := scanSubscriber(db.r.QueryRowContext(ctx, "SELECT "+subscriberColumns+` FROM subscribers
		WHERE page_id = ? AND kind = ? AND address = ? AND incident_id = ? AND state IN ('pending', 'active')`,
		pageID, string(kind), address, incidentID))
	if errors.Is(err, sql.ErrNoRows) {
		// The address is personal data: keep it out of the message.
		return nil, incident.Errorf(incident.ENOTFOUND, "subscriber not found")
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find subscriber by address: %w", err)
	}
	return s, nil
}

// FindSubscribers implements notify.Store.
func (db *DB) FindSubscribers(ctx context.Context, f audience.SubscriberFilter) ([]*audience.Subscriber, error) {
	where, args := []string{"page_id = ?", "id > ?"}, []any{f.PageID, f.After}
	if f.State != "" {
		where, args = append(where, "state = ?"), append(args, string(f.State))
	}
	if f.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, string(f.Kind))
	}
	if f.Following {
		where, args = append(where, "incident_id = ?"), append(args, f.IncidentID)
	} else {
		where, args = append(where, "incident_id IN ('', ?)"), append(args, f.IncidentID)
	}
	return findAll(ctx, db.r, "subscribers", scanSubscriber, "SELECT "+subscriberColumns+" FROM subscribers WHERE "+strings.Join(where, " AND ")+
		" ORDER BY id LIMIT ?", append(args, limitArg(f.Limit))...)
}

// CountSubscribers implements notify.Store.
func (db *DB) CountSubscribers(ctx context.Context, pageID string, state audience.SubscriberState) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, "SELECT count(*) FROM subscribers WHERE page_id = ? AND (? = '' OR state = ?)",
		pageID, string(state), string(state)).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count subscribers: %w", err)
	}
	return n, nil
}

// DeleteSubscriber implements notify.Store.
func (db *DB) DeleteSubscriber(ctx context.Context, id string) error {
	res, err := db.w.ExecContext(ctx, "DELETE FROM subscribers WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("sqlite: delete subscriber %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return incident.NotFound("subscriber", id)
	}
	return nil
}

// ---- suppressions ----

// Suppress implements notify.Store; the first suppression of an address
// in a scope is kept.
func (db *DB) Suppress(ctx context.Context, s audience.Suppression) error {
	if _, err := db.w.ExecContext(ctx, `INSERT INTO suppressions (kind, address, page_id, reason, at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (kind, address, page_id) DO NOTHING`, string(s.Kind), s.Address, s.PageID, s.Reason, ms(s.At)); err != nil {
		return fmt.Errorf("sqlite: suppress: %w", err)
	}
	return nil
}

// Unsuppress implements notify.Store.
func (db *DB) Unsuppress(ctx context.Context, pageID string, kind channel.Kind, address string) error {
	if _, err := db.w.ExecContext(ctx, "DELETE FROM suppressions WHERE kind = ? AND address = ? AND page_id = ?",
		string(kind), address, pageID); err != nil {
		return fmt.Errorf("sqlite: unsuppress: %w", err)
	}
	return nil
}

const findSuppressionSQL = `SELECT page_id, kind, address, reason, at FROM suppressions
	WHERE kind = ? AND address = ? AND page_id IN (?, '') ORDER BY page_id DESC LIMIT 1`

// FindSuppression implements notify.Store: the page's own suppression
// sorts before the global one (the empty page ID sorts first, hence DESC).
func (db *DB) FindSuppression(ctx context.Context, pageID string, kind channel.Kind, address string) (*audience.Suppression, error) {
	var s audience.Suppression
	var k string
	var at int64
	err := db.readRow(ctx, findSuppressionSQL, string(kind), address, pageID).Scan(&s.PageID, &k, &s.Address, &s.Reason, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "suppression not found")
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find suppression: %w", err)
	}
	s.Kind, s.At = channel.Kind(k), fromMS(at)
	return &s, nil
}

// suppressedChunk bounds the addresses one FindSuppressed query carries.
const suppressedChunk = 500

// FindSuppressed implements notify.Store: one query per chunk of
// addresses, each an equality lookup on the primary key (kind, address,
// page_id) for the page's scope and the global one.
func (db *DB) FindSuppressed(ctx context.Context, pageID string, kind channel.Kind, addresses []string) ([]string, error) {
	var out []string
	seen := make(map[string]bool)
	args := make([]any, 0, 2+suppressedChunk)
	for start := 0; start < len(addresses); start += suppressedChunk {
		chunk := addresses[start:min(start+suppressedChunk, len(addresses))]
		args = append(args[:0], string(kind), pageID)
		for _, a := range chunk {
			args = append(args, a)
		}
		// A full chunk's SQL is always the same: parsed once (parsing 500
		// placeholders cost about as much as the lookups).
		var q queryer = db.r
		if len(chunk) == suppressedChunk {
			q = prepared{db: db}
		}
		rows, err := q.QueryContext(ctx, `SELECT address FROM suppressions
			WHERE kind = ? AND page_id IN (?, '') AND address IN (`+placeholders(len(chunk))+")", args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: find suppressed: %w", err)
		}
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: find suppressed: %w", err)
			}
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("sqlite: find suppressed: %w", err)
		}
	}
	return out, nil
}

// ---- secrets ----

// Secret implements notify.Store. gen runs only when a read finds no
// secret; INSERT OR IGNORE then makes the first writer's bytes the ones
// every caller reads back.
func (db *DB) Secret(ctx context.Context, name string, gen func() []byte) ([]byte, error) {
	var v []byte
	err := db.r.QueryRowContext(ctx, "SELECT value FROM secrets WHERE name = ?", name).Scan(&v)
	if err == nil {
		return v, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: read secret: %w", err)
	}
	fresh := gen()
	if len(fresh) == 0 {
		return nil, fmt.Errorf("sqlite: secret %q: generator returned nothing", name)
	}
	err = db.write(ctx, "create secret", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO secrets (name, value, created_at) VALUES (?, ?, ?)",
			name, fresh, ms(db.Now())); err != nil {
			return fmt.Errorf("sqlite: create secret: %w", err)
		}
		if err := tx.QueryRowContext(ctx, "SELECT value FROM secrets WHERE name = ?", name).Scan(&v); err != nil {
			return fmt.Errorf("sqlite: read secret: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}
