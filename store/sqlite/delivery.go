package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/queue"
)

// How a delivery is stored (see migration 0003): its ID as 12 bytes when it
// is a queue.DeliveryID, what a plan's deliveries share in a delivery
// group, and the fields only the dispatcher reads in one compact BLOB.

// ---- IDs ----

// idKey returns the deliveries.id value for a delivery ID: the 12 bytes of
// a queue.DeliveryID (24 lowercase hex digits), any other ID as text. Only
// lowercase is decoded, so hex.EncodeToString gives every BLOB back as the
// string it came from, and a BLOB never equals a TEXT.
func idKey(id string) any {
	if len(id) == 24 && isLowerHex(id) {
		b, err := hex.DecodeString(id)
		if err == nil {
			return b
		}
	}
	return id
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// idHash returns the 63-bit key the ID levels index an ID (idKey's value)
// by: the first 8 bytes of a queue.DeliveryID (already a hash), FNV-1a of
// any other ID.
func idHash(key any) int64 {
	if b, ok := key.([]byte); ok && len(b) >= 8 {
		return int64(binary.BigEndian.Uint64(b) >> 1)
	}
	h := fnv.New64a()
	h.Write([]byte(key.(string)))
	return int64(h.Sum64() >> 1)
}

// idString turns a scanned deliveries.id back into the delivery's ID.
func idString(v any) string {
	switch v := v.(type) {
	case []byte:
		return hex.EncodeToString(v)
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// derivedID reports whether d's ID is queue.DeliveryID(update, kind,
// address): such a delivery can be found from its incident's updates, kind
// and address without an address index (deliveries.odd is the opposite).
func derivedID(d *queue.Delivery) bool {
	return len(d.ID) == 24 && d.ID == queue.DeliveryID(d.UpdateID, d.Kind, d.Address)
}

// ridsOfKeys returns a subquery for the rowids of the deliveries whose IDs
// may have any of n keys (given twice): a superset, as keys may collide.
func ridsOfKeys(n int) string {
	in := placeholders(n)
	return "SELECT rid FROM delivery_ids WHERE k IN (" + in + ") UNION ALL SELECT rid FROM delivery_ids_new WHERE k IN (" + in + ")"
}

// existingIDsSQL returns a query for the IDs, of n keys, that exist.
func existingIDsSQL(n int) string {
	return "SELECT id FROM deliveries WHERE rid IN (" + ridsOfKeys(n) + ")"
}

// byID returns the condition for the delivery of one ID (byIDArgs), on
// the deliveries table named t ("" when it needs no name).
func byID(t string) string {
	return t + "rid IN (SELECT rid FROM delivery_ids WHERE k = ? UNION ALL SELECT rid FROM delivery_ids_new WHERE k = ?) AND " + t + "id = ?"
}

func byIDArgs(id string) []any {
	key := idKey(id)
	k := idHash(key)
	return []any{k, k, key}
}

// ---- leases ----

// leaseString is the Lease a claim hands out: the row and the claim's
// token, so FinishDeliveries goes to the row by rowid and checks the token.
func leaseString(rid, token int64) string {
	return strconv.FormatInt(rid, 36) + "." + strconv.FormatInt(token, 36)
}

// parseLease undoes leaseString; ok is false for anything else (a lease of
// another engine, or none), which can only be a lost lease.
func parseLease(s string) (rid, token int64, ok bool) {
	a, b, found := strings.Cut(s, ".")
	if !found {
		return 0, 0, false
	}
	rid, err1 := strconv.ParseInt(a, 36, 64)
	token, err2 := strconv.ParseInt(b, 36, 64)
	return rid, token, err1 == nil && err2 == nil && rid > 0 && token != 0
}

// ---- info ----

// encodeInfo packs what only the dispatcher reads into one BLOB: a format
// byte, then recipient type, name, language and time zone as
// length-prefixed strings, a flags byte (bit 0: critical), and the vars as a
// count and length-prefixed key/value pairs. It is written by hand because
// encoding/json per row was a visible share of planning a million rows.
func encodeInfo(buf []byte, d *queue.Delivery) []byte {
	buf = append(buf, 1)
	for _, s := range []string{string(d.RecipientType), d.Name, d.Language, d.TimeZone} {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	var flags byte
	if d.Critical {
		flags |= 1
	}
	buf = append(buf, flags)
	buf = binary.AppendUvarint(buf, uint64(len(d.Vars)))
	for k, v := range d.Vars {
		buf = binary.AppendUvarint(buf, uint64(len(k)))
		buf = append(buf, k...)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
	}
	return buf
}

var errInfo = errors.New("malformed info")

// decodeInfo fills d from encodeInfo's bytes.
func decodeInfo(b []byte, d *queue.Delivery) error {
	if len(b) == 0 || b[0] != 1 {
		return errInfo
	}
	b = b[1:]
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	var fields [4]string
	for i := range fields {
		s, ok := str()
		if !ok {
			return errInfo
		}
		fields[i] = s
	}
	d.RecipientType, d.Name, d.Language, d.TimeZone = queue.RecipientType(fields[0]), fields[1], fields[2], fields[3]
	if len(b) == 0 {
		return errInfo
	}
	d.Critical = b[0]&1 != 0
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return errInfo
	}
	b = b[k:]
	if n > 0 {
		d.Vars = make(map[string]string, n)
		for range n {
			key, ok1 := str()
			val, ok2 := str()
			if !ok1 || !ok2 {
				return errInfo
			}
			d.Vars[key] = val
		}
	}
	return nil
}

// ---- groups ----

// group is a delivery_groups row: what a plan's deliveries share.
type group struct {
	BroadcastID, PageID, IncidentID, UpdateID string
	MessageKind                               queue.MessageKind
}

func groupOf(d *queue.Delivery) group {
	return group{d.BroadcastID, d.PageID, d.IncidentID, d.UpdateID, d.MessageKind}
}

const (
	groupSelectSQL = `SELECT id FROM delivery_groups WHERE broadcast_id = ? AND page_id = ? AND incident_id = ?
			AND update_id = ? AND message_kind = ?`
	groupInsertSQL = `INSERT INTO delivery_groups (broadcast_id, page_id, incident_id, update_id, message_kind)
				VALUES (?, ?, ?, ?, ?) RETURNING id`
)

// groupIDs returns the group IDs of ds's groups, creating the missing ones
// in tx. It does not cache what it creates: tx may yet roll back.
func (db *DB) groupIDs(ctx context.Context, tx *sql.Tx, ds []*queue.Delivery) (map[group]int64, error) {
	ids := map[group]int64{}
	var last group
	for i, d := range ds {
		g := groupOf(d)
		if i > 0 && g == last {
			continue // a plan's deliveries share one group: skip hashing it
		}
		last = g
		if _, ok := ids[g]; ok {
			continue
		}
		var id int64
		err := db.txRow(ctx, tx, groupSelectSQL, g.BroadcastID, g.PageID, g.IncidentID, g.UpdateID, string(g.MessageKind)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			err = db.txRow(ctx, tx, groupInsertSQL, g.BroadcastID, g.PageID, g.IncidentID, g.UpdateID, string(g.MessageKind)).Scan(&id)
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: delivery group: %w", err)
		}
		ids[g] = id
	}
	return ids, nil
}

// group returns group id, from the cache or from q. Groups are immutable
// and never deleted, so a group once read stays right; callers read only
// committed groups (a claim or finish never creates one).
func (db *DB) group(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id int64) (group, error) {
	db.groupMu.Lock()
	g, ok := db.groups[id]
	db.groupMu.Unlock()
	if ok {
		return g, nil
	}
	var mk string
	err := q.QueryRowContext(ctx, "SELECT broadcast_id, page_id, incident_id, update_id, message_kind FROM delivery_groups WHERE id = ?", id).
		Scan(&g.BroadcastID, &g.PageID, &g.IncidentID, &g.UpdateID, &mk)
	if err != nil {
		return group{}, fmt.Errorf("sqlite: delivery group %d: %w", id, err)
	}
	g.MessageKind = queue.MessageKind(mk)
	db.groupMu.Lock()
	if db.groups == nil {
		db.groups = map[int64]group{}
	}
	db.groups[id] = g
	db.groupMu.Unlock()
	return g, nil
}

// ---- rows ----

// deliveryColumns are what scanDelivery reads, from deliveries d joined to
// delivery_groups g.
const deliveryColumns = `d.rid, d.id, g.broadcast_id, g.page_id, g.incident_id, g.update_id, g.message_kind, d.kind, d.address,
	d.recipient_id, d.info, d.state, d.attempts, d.next_at, d.provider_id, d.error_code, d.reason, d.created_at, d.updated_at,
	d.sent_at, d.delivered_at`

// deliveryFrom is the FROM clause deliveryColumns need.
const deliveryFrom = ` FROM deliveries d JOIN delivery_groups g ON g.id = d.grp`

// ridDelivery is a delivery with its rid, which orders deliveries of the
// same CreatedAt.
type ridDelivery struct {
	d   *queue.Delivery
	rid int64
}

// newer reports whether (created, rid) a comes before b in FindDeliveries'
// order (newest first).
func newer(aCreated, aRID, bCreated, bRID int64) bool {
	return aCreated > bCreated || aCreated == bCreated && aRID > bRID
}

// byNewest orders two deliveries newest first (created, then rid).
func byNewest(a, b ridDelivery) int {
	ac, bc := ms(a.d.CreatedAt), ms(b.d.CreatedAt)
	switch {
	case newer(ac, a.rid, bc, b.rid):
		return -1
	case newer(bc, b.rid, ac, a.rid):
		return 1
	}
	return 0
}

func sortNewestFirst(ds []ridDelivery) { slices.SortFunc(ds, byNewest) }

// scanDelivery reads deliveryColumns.
func scanDelivery(s scanner) (*queue.Delivery, error) {
	d, _, err := scanDeliveryRID(s)
	return d, err
}

// scanDeliveryRID reads deliveryColumns and returns the row's rid too.
func scanDeliveryRID(s scanner) (*queue.Delivery, int64, error) {
	var d queue.Delivery
	var rid int64
	var id any
	var msgKind, kind, state string
	var info []byte
	var next, created, updated int64
	var sent, delivered sql.NullInt64
	if err := s.Scan(&rid, &id, &d.BroadcastID, &d.PageID, &d.IncidentID, &d.UpdateID, &msgKind, &kind, &d.Address, &d.RecipientID,
		&info, &state, &d.Attempts, &next, &d.ProviderID, &d.ErrorCode, &d.Reason, &created, &updated, &sent, &delivered); err != nil {
		return nil, 0, err
	}
	d.ID = idString(id)
	if err := decodeInfo(info, &d); err != nil {
		return nil, 0, fmt.Errorf("delivery %s: %w", d.ID, err)
	}
	d.MessageKind, d.Kind, d.State = queue.MessageKind(msgKind), channel.Kind(kind), queue.DeliveryState(state)
	d.NextAt, d.CreatedAt, d.UpdatedAt = fromMS(next), fromMS(created), fromMS(updated)
	d.SentAt, d.DeliveredAt = fromMSPtr(sent), fromMSPtr(delivered)
	return &d, rid, nil
}
