package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/queue"
)

// Planned deliveries wait in chunks (migration 0005): one delivery_chunks
// row holds up to chunkSize deliveries of one group and channel that share
// NextAt, CreatedAt and UpdatedAt, and its data BLOB holds what differs
// between them. A claim takes deliveries from the front of a chunk and
// writes their deliveries rows (ClaimDeliveries); reads look at rows and
// at the chunks' waiting deliveries together (FindDeliveries,
// FindDeliveryByID), so a delivery looks the same before and after it has
// a row.

// chunkSize is the most deliveries a chunk holds: a default claim (128)
// takes half a chunk, and a chunk's BLOB stays a few pages.
const chunkSize = 256

// chunkFormat is the first byte of a chunk's data.
const chunkFormat = 1

// chunkDelivery is one delivery as a chunk keeps it.
type chunkDelivery struct {
	rid       int64
	key       any // idKey: the 12 bytes of a queue.DeliveryID, or text
	address   string
	recipient string
	info      []byte // encodeInfo's bytes
	errorCode string
	reason    string
}

func appendBytes(buf, s []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// encodeChunk appends the data of a chunk whose first delivery's rid is
// first: a format byte, then per delivery its rid as the distance from the
// previous one's, its ID (a 0 byte and the 12 bytes of a
// queue.DeliveryID, or a 1 byte and the text), then address, recipient
// ID, info, error code and reason, each length-prefixed. It is written by
// hand, as encodeInfo is: this runs for every planned delivery.
func encodeChunk(buf []byte, first int64, ds []chunkDelivery) []byte {
	buf = append(buf, chunkFormat)
	prev := first
	for _, d := range ds {
		buf = binary.AppendUvarint(buf, uint64(d.rid-prev))
		prev = d.rid
		switch k := d.key.(type) {
		case []byte:
			buf = append(buf, 0)
			buf = append(buf, k...)
		case string:
			buf = append(buf, 1)
			buf = appendString(buf, k)
		}
		buf = appendString(buf, d.address)
		buf = appendString(buf, d.recipient)
		buf = appendBytes(buf, d.info)
		buf = appendString(buf, d.errorCode)
		buf = appendString(buf, d.reason)
	}
	return buf
}

var errChunk = errors.New("malformed chunk")

// chunkReader walks a chunk's data; a malformed one sets bad and reads as
// empty from then on.
type chunkReader struct {
	b   []byte
	bad bool
}

func (r *chunkReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *chunkReader) take(n uint64) []byte {
	if r.bad || uint64(len(r.b)) < n {
		r.bad, r.b = true, nil
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

func (r *chunkReader) field() []byte { return r.take(r.uvarint()) }

// key reads an ID as encodeChunk wrote it; the bytes alias the data.
func (r *chunkReader) key() any {
	switch tag := r.take(1); {
	case r.bad:
		return nil
	case tag[0] == 0:
		return r.take(12)
	case tag[0] == 1:
		return string(r.field())
	default:
		r.bad = true
		return nil
	}
}

// decodeChunk returns the deliveries of a chunk's data whose first rid is
// first, from the index from on (the ones before are skipped unread but
// for their length). The data must hold exactly n deliveries (the row's
// count), so a cut-off BLOB is an error, not a shorter chunk. Strings and
// keys are copies; info aliases data.
func decodeChunk(data []byte, first int64, from, n int) ([]chunkDelivery, error) {
	if len(data) == 0 || data[0] != chunkFormat {
		return nil, errChunk
	}
	r := chunkReader{b: data[1:]}
	out := make([]chunkDelivery, 0, max(n-from, 0))
	rid := first
	i := 0
	for ; len(r.b) > 0 && !r.bad; i++ {
		rid += int64(r.uvarint())
		if i < from {
			r.key()
			for range 5 {
				r.field()
			}
			continue
		}
		d := chunkDelivery{rid: rid, key: r.key()}
		if b, ok := d.key.([]byte); ok {
			d.key = append([]byte(nil), b...)
		}
		d.address, d.recipient = string(r.field()), string(r.field())
		d.info = r.field()
		d.errorCode, d.reason = string(r.field()), string(r.field())
		out = append(out, d)
	}
	if r.bad || i != n {
		return nil, errChunk
	}
	return out, nil
}

// sameKey reports whether two idKey values are the same ID.
func sameKey(a, b any) bool {
	switch a := a.(type) {
	case []byte:
		b, ok := b.([]byte)
		return ok && string(a) == string(b)
	case string:
		b, ok := b.(string)
		return ok && a == b
	}
	return false
}

// ---- chunk rows ----

// chunkRow is a delivery_chunks row without its data.
type chunkRow struct {
	id, grp                      int64
	kind                         channel.Kind
	state                        queue.DeliveryState // pending or cancelled
	n, taken                     int
	firstRID, lastRID            int64
	nextAt, createdAt, updatedAt int64
}

const chunkColumns = "id, grp, kind, state, n, taken, first_rid, last_rid, next_at, created_at, updated_at"

// scanChunk reads chunkColumns, then extra (as scanPlan does).
func scanChunk(s scanner, extra ...any) (*chunkRow, error) {
	var c chunkRow
	var kind, state string
	dest := []any{&c.id, &c.grp, &kind, &state, &c.n, &c.taken, &c.firstRID, &c.lastRID, &c.nextAt, &c.createdAt, &c.updatedAt}
	if err := s.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	c.kind, c.state = channel.Kind(kind), queue.DeliveryState(state)
	return &c, nil
}

// scanChunkRow is scanChunk for findAll.
func scanChunkRow(s scanner) (*chunkRow, error) { return scanChunk(s) }

// waiting returns the chunk's deliveries that have no row yet.
func (c *chunkRow) waiting(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) ([]chunkDelivery, error) {
	var data []byte
	if err := q.QueryRowContext(ctx, "SELECT data FROM delivery_chunks WHERE id = ?", c.id).Scan(&data); err != nil {
		return nil, fmt.Errorf("sqlite: delivery chunk %d: %w", c.id, err)
	}
	ds, err := decodeChunk(data, c.firstRID, c.taken, c.n)
	if err != nil {
		return nil, fmt.Errorf("sqlite: delivery chunk %d: %w", c.id, err)
	}
	return ds, nil
}

// delivery returns the queue.Delivery a waiting chunk delivery is: pending,
// or cancelled with its plan, never attempted.
func (c *chunkRow) delivery(g group, cd chunkDelivery) (*queue.Delivery, error) {
	d := &queue.Delivery{ID: idString(cd.key), PageID: g.PageID, IncidentID: g.IncidentID, UpdateID: g.UpdateID,
		BroadcastID: g.BroadcastID, MessageKind: g.MessageKind, Kind: c.kind, Address: cd.address, RecipientID: cd.recipient,
		State: c.state, NextAt: fromMS(c.nextAt), CreatedAt: fromMS(c.createdAt), UpdatedAt: fromMS(c.updatedAt),
		ErrorCode: cd.errorCode, Reason: cd.reason}
	if err := decodeInfo(cd.info, d); err != nil {
		return nil, fmt.Errorf("sqlite: delivery %s: %w", d.ID, err)
	}
	return d, nil
}

// chunkKey is what the deliveries of one chunk share.
type chunkKey struct {
	grp                    int64
	kind                   channel.Kind
	next, created, updated int64
	rtype                  queue.RecipientType
}

// writeChunks packs rs (pending deliveries with their rids and groups, in
// plan order) into chunks: one open chunk per chunkKey (so a customer's SMS
// and email go to their channels' chunks), closed at chunkSize. Recipients
// of one type come in ID order, so a chunk covers a narrow range of them.
func (db *DB) writeChunks(ctx context.Context, tx *sql.Tx, rs []newRow) error {
	type open struct {
		key    chunkKey
		ds     []chunkDelivery
		lo, hi string
	}
	var order []*open // by first delivery, so chunk ids follow rids
	byKey := map[chunkKey]*open{}
	var infos []byte
	flush := func(o *open) error {
		if len(o.ds) == 0 {
			return nil
		}
		data := encodeChunk(make([]byte, 0, 64*len(o.ds)), o.ds[0].rid, o.ds)
		if _, err := tx.StmtContext(ctx, db.stmts.chunk).ExecContext(ctx, o.key.grp, string(o.key.kind), len(o.ds),
			o.ds[0].rid, o.ds[len(o.ds)-1].rid, o.key.next, o.key.created, o.key.updated, o.lo, o.hi, data); err != nil {
			return fmt.Errorf("sqlite: write delivery chunk: %w", err)
		}
		o.ds = o.ds[:0]
		return nil
	}
	for _, r := range rs {
		d := r.d
		k := chunkKey{grp: r.grp, kind: d.Kind, next: ms(d.NextAt), created: ms(d.CreatedAt), updated: r.updated, rtype: d.RecipientType}
		o := byKey[k]
		if o == nil {
			o = &open{key: k}
			byKey[k] = o
			order = append(order, o)
		}
		if len(o.ds) == 0 || d.RecipientID < o.lo {
			o.lo = d.RecipientID
		}
		if len(o.ds) == 0 || d.RecipientID > o.hi {
			o.hi = d.RecipientID
		}
		start := len(infos)
		infos = encodeInfo(infos, d)
		o.ds = append(o.ds, chunkDelivery{rid: r.rid, key: r.key, address: d.Address, recipient: d.RecipientID,
			info: infos[start:len(infos):len(infos)], errorCode: d.ErrorCode, reason: d.Reason})
		if len(o.ds) == chunkSize {
			if err := flush(o); err != nil {
				return err
			}
			// The other open chunks still point into infos: start a new
			// buffer rather than overwrite theirs.
			infos = infos[:0:0]
		}
	}
	for _, o := range order {
		if err := flush(o); err != nil {
			return err
		}
	}
	return nil
}

// ---- a plan's IDs ----

// planIDs is the set of delivery IDs one planner's lease has written to a
// plan's chunks, so SavePlanBatch skips a repeated ID without an ID index
// (rows, which the ID levels index, are checked there as before). It lives
// in memory beside the writer and is built from the plan's chunks when the
// lease is new to it, so a planner that takes over after a crash, or after
// another process, starts from what is stored. A queue.DeliveryID's 12
// bytes are kept as 8 + 4; other IDs, and an ID whose first 8 bytes another
// one has, go in more.
//
// The 8 + 4 keys live in two sorted arrays, 12 bytes an ID, with the keys
// added since the last merge in a small map beside them: about 14 bytes an
// ID in all (BenchmarkPlanIDs), where a Go map of every key took about 38
// (75 MB for a plan of 2 000 000 deliveries).
type planIDs struct {
	lease string
	hi    []uint64 // sorted first 8 bytes of the merged keys
	lo    []uint32 // their last 4, by hi's index
	// dir[b] is the index in hi of the first key whose top bits are b or
	// more (the keys are hashes, so each range holds about 16).
	dir   []uint32
	bits  uint
	delta map[uint64]uint32
	more  map[string]struct{}
}

// minMerge is the fewest keys a merge moves into the arrays; past 8 times
// that, a merge waits for an eighth of the arrays' length, so each key is
// moved about eight times in all and the map stays small beside them.
const minMerge = 4096

func newPlanIDs(lease string) *planIDs {
	return &planIDs{lease: lease, delta: map[uint64]uint32{}, more: map[string]struct{}{}}
}

// front returns the last 4 bytes kept for a key's first 8.
func (s *planIDs) front(hi uint64) (uint32, bool) {
	if lo, ok := s.delta[hi]; ok {
		return lo, true
	}
	if len(s.hi) == 0 {
		return 0, false
	}
	b := hi >> (64 - s.bits)
	from, to := int(s.dir[b]), int(s.dir[b+1])
	if i, ok := slices.BinarySearch(s.hi[from:to], hi); ok {
		return s.lo[from+i], true
	}
	return 0, false
}

func (s *planIDs) has(key any) bool {
	if b, ok := key.([]byte); ok && len(b) == 12 {
		if lo, ok := s.front(binary.BigEndian.Uint64(b)); ok && lo == binary.BigEndian.Uint32(b[8:]) {
			return true
		}
		_, ok := s.more[string(b)]
		return ok
	}
	_, ok := s.more["t"+key.(string)]
	return ok
}

func (s *planIDs) add(key any) {
	if b, ok := key.([]byte); ok && len(b) == 12 {
		hi, lo := binary.BigEndian.Uint64(b), binary.BigEndian.Uint32(b[8:])
		if v, ok := s.front(hi); !ok {
			s.delta[hi] = lo
			if len(s.delta) >= max(minMerge, len(s.hi)/8) {
				s.merge()
			}
		} else if v != lo {
			s.more[string(b)] = struct{}{}
		}
		return
	}
	// "t" keeps text apart from the 12-byte keys (a text ID is never 12
	// bytes of hex: idKey decodes those).
	s.more["t"+key.(string)] = struct{}{}
}

// merge moves the map's keys into the sorted arrays, from the back, in
// place, and rebuilds the directory.
func (s *planIDs) merge() {
	add := make([]uint64, 0, len(s.delta))
	for hi := range s.delta {
		add = append(add, hi)
	}
	slices.Sort(add)
	i, j := len(s.hi)-1, len(add)-1
	s.hi = slices.Grow(s.hi, len(add))[:len(s.hi)+len(add)]
	s.lo = slices.Grow(s.lo, len(add))[:len(s.lo)+len(add)]
	for k := len(s.hi) - 1; j >= 0; k-- {
		if i >= 0 && s.hi[i] > add[j] {
			s.hi[k], s.lo[k] = s.hi[i], s.lo[i]
			i--
		} else {
			s.hi[k], s.lo[k] = add[j], s.delta[add[j]]
			j--
		}
	}
	clear(s.delta)
	s.bits = uint(max(1, bits.Len(uint(len(s.hi)/16))))
	n := 1 << s.bits
	if cap(s.dir) < n+1 {
		s.dir = make([]uint32, n+1)
	}
	s.dir = s.dir[:n+1]
	k := 0
	for b := range n {
		for k < len(s.hi) && s.hi[k]>>(64-s.bits) < uint64(b) {
			k++
		}
		s.dir[b] = uint32(k)
	}
	s.dir[n] = uint32(len(s.hi))
}

// planSets holds the planIDs of the plans being planned, by broadcast.
type planSets struct {
	mu   sync.Mutex
	sets map[string]*planIDs
}

// planSet returns the ID set of broadcast bid's plan for lease, building it
// from the plan's stored chunks when the lease is not the one it was built
// for. Call it inside the write transaction tx.
func (db *DB) planSet(ctx context.Context, tx *sql.Tx, bid, lease string) (*planIDs, error) {
	db.plans.mu.Lock()
	s := db.plans.sets[bid]
	db.plans.mu.Unlock()
	if s != nil && s.lease == lease {
		return s, nil
	}
	s, err := db.waitingIDs(ctx, tx, lease, "broadcast_id = ?", bid)
	if err != nil {
		return nil, fmt.Errorf("sqlite: plan IDs of %s: %w", bid, err)
	}
	db.plans.mu.Lock()
	if db.plans.sets == nil {
		db.plans.sets = map[string]*planIDs{}
	}
	db.plans.sets[bid] = s
	db.plans.mu.Unlock()
	return s, nil
}

// forgetPlanSet drops a plan's ID set (its planning has ended).
func (db *DB) forgetPlanSet(bid string) {
	db.plans.mu.Lock()
	delete(db.plans.sets, bid)
	db.plans.mu.Unlock()
}

// ---- reads ----

// chunkFilter is what FindDeliveries asks of the chunks' waiting
// deliveries.
type chunkFilter struct {
	groups    string // a subquery for the group IDs, "" for any
	groupArgs []any
	kind      channel.Kind
	address   string
	recipient string
	// recipientFrom leaves out the chunks whose recipients all sort
	// before it (FindRecipientDeliveries' cursor); "" none.
	recipientFrom string
	since         int64 // 0: any
	states        []queue.DeliveryState
}

// waitingDeliveries returns up to limit (≤ 0: all) of the chunks'
// waiting deliveries that match f, newest first as FindDeliveries orders
// (created_at, then rid, descending), each with its rid. It reads chunks
// newest first and stops once no further chunk can hold a newer one.
func (db *DB) waitingDeliveries(ctx context.Context, tx *sql.Tx, f chunkFilter, limit int) ([]ridDelivery, error) {
	var states []any
	for _, s := range f.states {
		if s == queue.StatePending || s == queue.StateCancelled {
			states = append(states, string(s))
		}
	}
	if len(f.states) == 0 {
		states = []any{string(queue.StatePending), string(queue.StateCancelled)}
	}
	if len(states) == 0 {
		return nil, nil
	}
	where := []string{"state IN (" + placeholders(len(states)) + ")"}
	args := states
	if f.groups != "" {
		where, args = append(where, "grp IN ("+f.groups+")"), append(args, f.groupArgs...)
	}
	if f.kind != "" {
		where, args = append(where, "kind = ?"), append(args, string(f.kind))
	}
	if f.recipient != "" {
		where, args = append(where, "rcpt_lo <= ? AND rcpt_hi >= ?"), append(args, f.recipient, f.recipient)
	}
	if f.recipientFrom != "" {
		where, args = append(where, "rcpt_hi >= ?"), append(args, f.recipientFrom)
	}
	if f.since != 0 {
		where, args = append(where, "created_at >= ?"), append(args, f.since)
	}
	cs, err := findAll(ctx, tx, "delivery chunks", scanChunkRow, "SELECT "+chunkColumns+" FROM delivery_chunks WHERE "+
		strings.Join(where, " AND ")+" ORDER BY created_at DESC, last_rid DESC", args...)
	if err != nil {
		return nil, err
	}
	var out []ridDelivery
	for _, c := range cs {
		if limit > 0 && len(out) >= limit {
			sortNewestFirst(out)
			out = out[:limit]
			if last := out[limit-1]; newer(last.d.CreatedAt.UnixMilli(), last.rid, c.createdAt, c.lastRID) {
				break
			}
		}
		ds, err := c.waiting(ctx, tx)
		if err != nil {
			return nil, err
		}
		g, err := db.group(ctx, tx, c.grp)
		if err != nil {
			return nil, err
		}
		for _, cd := range ds {
			if f.address != "" && cd.address != f.address || f.recipient != "" && cd.recipient != f.recipient {
				continue
			}
			d, err := c.delivery(g, cd)
			if err != nil {
				return nil, err
			}
			out = append(out, ridDelivery{d, cd.rid})
		}
	}
	sortNewestFirst(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// findWaiting returns the waiting chunk delivery with ID id, or nil. No
// index leads to it: this reads every chunk, which is why only the rare
// lookups of a delivery not yet claimed come here.
func (db *DB) findWaiting(ctx context.Context, tx *sql.Tx, id string) (*queue.Delivery, error) {
	key := idKey(id)
	rows, err := tx.QueryContext(ctx, "SELECT "+chunkColumns+", data FROM delivery_chunks")
	if err != nil {
		return nil, fmt.Errorf("sqlite: find delivery %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var data []byte
		c, err := scanChunk(rows, &data)
		if err != nil {
			return nil, fmt.Errorf("sqlite: find delivery %s: %w", id, err)
		}
		ds, err := decodeChunk(data, c.firstRID, c.taken, c.n)
		if err != nil {
			return nil, fmt.Errorf("sqlite: delivery chunk %d: %w", c.id, err)
		}
		for _, cd := range ds {
			if sameKey(cd.key, key) {
				rows.Close()
				g, err := db.group(ctx, tx, c.grp)
				if err != nil {
					return nil, err
				}
				return c.delivery(g, cd)
			}
		}
	}
	return nil, rows.Err()
}

// waitingIDs returns, as a planIDs for lease, the IDs of the deliveries
// waiting in the chunks of the groups that groupCond (a condition on
// delivery_groups, with its args) selects. SavePlanBatch builds a plan's
// set from its broadcast's; EnqueueDeliveries asks about its deliveries'
// updates (a delivery ID includes its update, so only those chunks can
// hold one).
// waitingChunksSQL reads the chunks of the delivery groups that match
// groupCond.
func waitingChunksSQL(groupCond string) string {
	return `SELECT first_rid, n, taken, data FROM delivery_chunks
		WHERE grp IN (SELECT id FROM delivery_groups WHERE ` + groupCond + `)`
}

func (db *DB) waitingIDs(ctx context.Context, tx *sql.Tx, lease, groupCond string, args ...any) (*planIDs, error) {
	s := newPlanIDs(lease)
	rows, err := db.txQuery(ctx, tx, waitingChunksSQL(groupCond), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var first int64
		var n, taken int
		var data []byte
		if err := rows.Scan(&first, &n, &taken, &data); err != nil {
			return nil, err
		}
		ds, err := decodeChunk(data, first, taken, n)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			s.add(d.key)
		}
	}
	return s, rows.Err()
}
