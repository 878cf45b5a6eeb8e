package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/incident"
)

var _ compensation.Store = (*DB)(nil)

// ---- decisions ----

// SaveDecision implements compensation.Store: the version check and the
// insert in one write transaction.
func (db *DB) SaveDecision(ctx context.Context, d *compensation.Decision) error {
	if err := compensation.CheckDecision(d); err != nil {
		return err
	}
	v := d.WithTimes(compensation.Millis)
	doc, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("sqlite: encode decision %s v%d: %w", d.IncidentID, d.Version, err)
	}
	return db.write(ctx, "save decision", func(tx *sql.Tx) error {
		var cur int
		if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM compensation_decisions WHERE page_id = ? AND incident_id = ?",
			v.PageID, v.IncidentID).Scan(&cur); err != nil {
			return fmt.Errorf("sqlite: save decision %s: %w", v.IncidentID, err)
		}
		if v.Version != cur+1 {
			return incident.Errorf(incident.ECONFLICT, "the compensation decision of incident %s is at version %d, not %d: reload and decide again",
				v.IncidentID, cur, v.Version-1)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO compensation_decisions (page_id, incident_id, version, state, at, doc)
			VALUES (?, ?, ?, ?, ?, ?)`, v.PageID, v.IncidentID, v.Version, string(v.State), ms(v.At), string(doc)); err != nil {
			return fmt.Errorf("sqlite: save decision %s: %w", v.IncidentID, err)
		}
		return nil
	})
}

func scanDecision(s scanner) (*compensation.Decision, error) {
	var doc string
	if err := s.Scan(&doc); err != nil {
		return nil, err
	}
	var d compensation.Decision
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return nil, fmt.Errorf("decode decision: %w", err)
	}
	return &d, nil
}

// FindDecision implements compensation.Store.
func (db *DB) FindDecision(ctx context.Context, pageID, incidentID string) (*compensation.Decision, error) {
	d, err := scanDecision(db.r.QueryRowContext(ctx, `SELECT doc FROM compensation_decisions WHERE page_id = ? AND incident_id = ?
		ORDER BY version DESC LIMIT 1`, pageID, incidentID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("compensation decision of incident", incidentID)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find decision %s: %w", incidentID, err)
	}
	return d, nil
}

// FindDecisions implements compensation.Store.
func (db *DB) FindDecisions(ctx context.Context, pageID, incidentID string) ([]*compensation.Decision, error) {
	return findAll(ctx, db.r, "decisions", scanDecision,
		"SELECT doc FROM compensation_decisions WHERE page_id = ? AND incident_id = ? ORDER BY version", pageID, incidentID)
}

// findDecidedSQL keeps each incident's newest version (the primary key
// answers the max) when its state is coming or decided.
const findDecidedSQL = `SELECT d.doc FROM compensation_decisions d
	WHERE d.page_id = ? AND d.state IN (?, ?) AND d.version = (SELECT max(m.version) FROM compensation_decisions m
		WHERE m.page_id = d.page_id AND m.incident_id = d.incident_id)
	ORDER BY d.incident_id`

// FindDecided implements compensation.Store.
func (db *DB) FindDecided(ctx context.Context, pageID string) ([]*compensation.Decision, error) {
	return findAll(ctx, db.r, "decided", scanDecision, findDecidedSQL, pageID, string(compensation.Coming), string(compensation.Decided))
}

// ---- grants ----

// grantDoc is a grant's doc: its JSON, and what that leaves out but the
// store keeps (the override's actor, the request's fingerprint, the
// voucher list). The key has its own column. The fingerprint and the
// list are only ever read with their grant, so they need none: a doc
// written before they were kept reads as "".
type grantDoc struct {
	*compensation.Grant
	OverrideBy  *incident.Actor `json:"override_by,omitempty"`
	Fingerprint string          `json:"fingerprint,omitempty"`
	VoucherList string          `json:"voucher_list,omitempty"`
}

func encodeGrant(g *compensation.Grant) (string, error) {
	d := grantDoc{Grant: g, Fingerprint: g.Fingerprint, VoucherList: g.VoucherList}
	if g.Override != nil {
		d.OverrideBy = &g.Override.By
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("sqlite: encode grant %s: %w", g.ID, err)
	}
	return string(b), nil
}

func decodeGrant(key, doc string) (*compensation.Grant, error) {
	d := grantDoc{Grant: &compensation.Grant{}}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return nil, fmt.Errorf("decode grant: %w", err)
	}
	if d.Override != nil && d.OverrideBy != nil {
		d.Override.By = *d.OverrideBy
	}
	d.Key = key
	d.Grant.Fingerprint = d.Fingerprint
	d.Grant.VoucherList = d.VoucherList
	return d.Grant, nil
}

func scanGrant(s scanner) (*compensation.Grant, error) {
	var key, doc string
	if err := s.Scan(&key, &doc); err != nil {
		return nil, err
	}
	return decodeGrant(key, doc)
}

// SaveGrant implements compensation.Store: the key, the ID and the count
// are checked, the voucher code drawn and the grant inserted in one write
// transaction, so of two callers who saw the same count one wins, and of
// two with one key; a refused or failed save rolls its draw back.
func (db *DB) SaveGrant(ctx context.Context, g *compensation.Grant, seen int) (*compensation.Grant, bool, error) {
	if err := compensation.CheckGrantRecord(g); err != nil {
		return nil, false, err
	}
	v := g.WithTimes(compensation.Millis)
	var existing *compensation.Grant
	var doc string
	err := db.write(ctx, "save grant", func(tx *sql.Tx) error {
		var err error
		existing, err = scanGrant(tx.QueryRowContext(ctx, "SELECT key, doc FROM compensation_grants WHERE page_id = ? AND incident_id = ? AND key = ?",
			v.PageID, v.IncidentID, v.Key))
		if err == nil {
			return nil
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: save grant %s: %w", v.ID, err)
		}
		var one int
		err = tx.QueryRowContext(ctx, "SELECT 1 FROM compensation_grants WHERE page_id = ? AND id = ?", v.PageID, v.ID).Scan(&one)
		if err == nil {
			return incident.Errorf(incident.ECONFLICT, "grant %s already exists", v.ID)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: save grant %s: %w", v.ID, err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM compensation_grants WHERE page_id = ? AND incident_id = ? AND customer_id = ?",
			v.PageID, v.IncidentID, v.CustomerID).Scan(&n); err != nil {
			return fmt.Errorf("sqlite: save grant %s: %w", v.ID, err)
		}
		if n != seen {
			return incident.Errorf(incident.ECONFLICT, "customer %s has %d grants for incident %s, not %d: someone granted meanwhile; re-read and check again",
				v.CustomerID, n, v.IncidentID, seen)
		}
		w := *v
		if w.VoucherList != "" {
			if w.Voucher, err = drawVoucher(ctx, tx, db.Now(), w.PageID, w.VoucherList, w.Key); err != nil {
				return err
			}
		}
		if doc, err = encodeGrant(&w); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO compensation_grants (page_id, id, incident_id, customer_id, key, at, doc)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, w.PageID, w.ID, w.IncidentID, w.CustomerID, w.Key, ms(w.At), doc); err != nil {
			return fmt.Errorf("sqlite: save grant %s: %w", w.ID, err)
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, false, err
	case existing != nil:
		if err := compensation.SameGrantRequest(existing, v.CustomerID, v.Fingerprint); err != nil {
			return nil, false, err
		}
		return existing, false, nil
	}
	// A copy of what was stored, sharing nothing with g.
	stored, err := decodeGrant(v.Key, doc)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: save grant %s: %w", v.ID, err)
	}
	return stored, true, nil
}

// FindGrants implements compensation.Store.
func (db *DB) FindGrants(ctx context.Context, pageID, incidentID, customerID string) ([]*compensation.Grant, error) {
	if customerID != "" {
		// Per customer, on every agent's check: parsed once.
		return findAll(ctx, prepared{db: db}, "grants", scanGrant, `SELECT key, doc FROM compensation_grants
			WHERE page_id = ? AND incident_id = ? AND customer_id = ? ORDER BY at, id`, pageID, incidentID, customerID)
	}
	return findAll(ctx, db.r, "grants", scanGrant, `SELECT key, doc FROM compensation_grants
		WHERE page_id = ? AND incident_id = ? ORDER BY at, id`, pageID, incidentID)
}

// FindGrantByKey implements compensation.Store: the key, else the keys
// of old top-ups (compensation.TopUpKey), which sort from their prefix
// and "0" up to, not including, their prefix and ":" (the byte after
// '9'): a range of the key's unique index.
func (db *DB) FindGrantByKey(ctx context.Context, pageID, incidentID, key string) (*compensation.Grant, error) {
	g, err := scanGrant(db.r.QueryRowContext(ctx, "SELECT key, doc FROM compensation_grants WHERE page_id = ? AND incident_id = ? AND key = ?",
		pageID, incidentID, key))
	if err == nil {
		return g, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: find grant by key: %w", err)
	}
	old, err := findAll(ctx, db.r, "grants", scanGrant, `SELECT key, doc FROM compensation_grants
		WHERE page_id = ? AND incident_id = ? AND key >= ? AND key < ?`,
		pageID, incidentID, compensation.TopUpKeyPrefix(key)+"0", compensation.TopUpKeyPrefix(key)+":")
	if err != nil {
		return nil, err
	}
	var found *compensation.Grant
	low := 0
	for _, g := range old {
		if n := compensation.TopUpKeyVersion(g.Key, key); n > 0 && (found == nil || n < low) {
			found, low = g, n
		}
	}
	if found == nil {
		return nil, incident.Errorf(incident.ENOTFOUND, "no grant with key %q", key)
	}
	return found, nil
}

// ---- vouchers ----

// AddVouchers implements compensation.Store: every code in one
// transaction; the unique (page, list, code) skips known ones.
func (db *DB) AddVouchers(ctx context.Context, pageID, listID string, codes []string) (int, error) {
	if pageID == "" {
		return 0, incident.Invalid("page_id", "a voucher list belongs to a page")
	}
	if err := compensation.CheckVouchers(listID, codes); err != nil {
		return 0, err
	}
	added := 0
	err := db.write(ctx, "add vouchers", func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, "INSERT INTO compensation_vouchers (page_id, list_id, code) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
		if err != nil {
			return fmt.Errorf("sqlite: add vouchers: %w", err)
		}
		defer st.Close()
		n := 0
		for _, c := range codes {
			res, err := st.ExecContext(ctx, pageID, listID, c)
			if err != nil {
				return fmt.Errorf("sqlite: add vouchers: %w", err)
			}
			k, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("sqlite: add vouchers: %w", err)
			}
			n += int(k)
		}
		added = n
		return nil
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

// drawSQL hands the list's first unused code (in upload order, through
// compensation_vouchers_free) to a key.
const drawSQL = `UPDATE compensation_vouchers SET key = ?, drawn_at = ? WHERE seq = (SELECT seq FROM compensation_vouchers
	WHERE page_id = ? AND list_id = ? AND key IS NULL ORDER BY seq LIMIT 1) RETURNING code`

// DrawVoucher implements compensation.Store: the key's code, or the next
// unused one, in one write transaction.
func (db *DB) DrawVoucher(ctx context.Context, pageID, listID, key string) (string, error) {
	if key == "" {
		return "", incident.Invalid("key", "a voucher is drawn for a key")
	}
	var code string
	err := db.write(ctx, "draw voucher", func(tx *sql.Tx) error {
		var err error
		code, err = drawVoucher(ctx, tx, db.Now(), pageID, listID, key)
		return err
	})
	if err != nil {
		return "", err
	}
	return code, nil
}

// drawVoucher draws in tx the code of the list that key holds, or the next
// unused one for it (drawn at now), or returns ENOTFOUND.
func drawVoucher(ctx context.Context, tx *sql.Tx, now time.Time, pageID, listID, key string) (string, error) {
	var code string
	err := tx.QueryRowContext(ctx, "SELECT code FROM compensation_vouchers WHERE page_id = ? AND list_id = ? AND key = ?",
		pageID, listID, key).Scan(&code)
	if err == nil {
		return code, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("sqlite: draw voucher: %w", err)
	}
	err = tx.QueryRowContext(ctx, drawSQL, key, ms(now), pageID, listID).Scan(&code)
	if errors.Is(err, sql.ErrNoRows) {
		return "", incident.Errorf(incident.ENOTFOUND, "voucher list %q has no unused code", listID)
	} else if err != nil {
		return "", fmt.Errorf("sqlite: draw voucher: %w", err)
	}
	return code, nil
}

// CountVouchers implements compensation.Store, in one read.
func (db *DB) CountVouchers(ctx context.Context, pageID, listID string) (total, free int, err error) {
	err = db.r.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM compensation_vouchers WHERE page_id = ? AND list_id = ?),
		(SELECT count(*) FROM compensation_vouchers WHERE page_id = ? AND list_id = ? AND key IS NULL)`,
		pageID, listID, pageID, listID).Scan(&total, &free)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: count vouchers: %w", err)
	}
	return total, free, nil
}
