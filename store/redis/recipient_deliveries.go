package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// recipientBuckets is how many recipientDeliveries hashes there are (the
// first two bytes of a SHA-256).
const recipientBuckets = 1 << 16

// bucketsPerRead is how many recipient buckets one pipeline reads; a
// page's deliveries are loaded from them in batches of the page's size,
// so reading more buckets than a page needs costs only their HGETALLs.
const bucketsPerRead = 64

// recipientCursor is where a page of FindRecipientDeliveries ends: the
// bucket of its last recipient and that recipient's ID ("" before the
// bucket's first).
type recipientCursor struct {
	bucket    int
	recipient string
}

func (c recipientCursor) String() string {
	return fmt.Sprintf("%04x %s", c.bucket, c.recipient)
}

func parseRecipientCursor(s string) (recipientCursor, error) {
	if s == "" {
		return recipientCursor{}, nil
	}
	b, r, ok := strings.Cut(s, " ")
	n, err := strconv.ParseUint(b, 16, 16)
	if !ok || len(b) != 4 || err != nil {
		return recipientCursor{}, incident.Invalid("cursor", "bad cursor %q", s)
	}
	return recipientCursor{int(n), r}, nil
}

// FindRecipientDeliveries implements surveys.Deliveries. No index orders
// deliveries by incident and recipient, but the recipient index
// (recipientDeliveries) holds every delivery to a recipient under its page
// and ID, in 65536 buckets: the pages walk the buckets in order, and in a
// bucket the page's recipients by ID, loading each recipient's deliveries
// (every incident's: the index is per recipient) and keeping the ones f
// matches, a recipient's whole, in FindDeliveries' order (the index of
// every delivery's score, then ID, descending). A page ends after a
// recipient, so the cursor is a bucket and a recipient ID. Waiting chunks
// are expanded first, as FindDeliveries does.
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
	out := []*queue.Delivery{}
	if !incident.ValidID(f.PageID) {
		return out, "", nil
	}
	if err := db.expandChunks(ctx); err != nil {
		return nil, "", err
	}
	match := deliveryMatcher(f)
	prefix := f.PageID + " "
	for bucket := cur.bucket; bucket < recipientBuckets; bucket += bucketsPerRead {
		// The page's recipients in this read's buckets, in order.
		var cands []recipientCandidate
		pipe := db.client.Pipeline()
		cmds := make([]*goredis.MapStringStringCmd, 0, bucketsPerRead)
		for b := bucket; b < min(bucket+bucketsPerRead, recipientBuckets); b++ {
			cmds = append(cmds, pipe.HGetAll(ctx, db.keys.global(fmt.Sprintf("dr:%04x", b))))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, "", fmt.Errorf("redis: find recipient deliveries: %w", err)
		}
		for i, c := range cmds {
			b := bucket + i
			start := len(cands)
			for field, ids := range c.Val() {
				r, ok := strings.CutPrefix(field, prefix)
				if !ok || r == "" || b == cur.bucket && r <= cur.recipient || f.RecipientID != "" && r != f.RecipientID {
					continue
				}
				cands = append(cands, recipientCandidate{b, r, uniqueFields(ids)})
			}
			slices.SortFunc(cands[start:], func(x, y recipientCandidate) int { return strings.Compare(x.recipient, y.recipient) })
		}
		// Load the candidates' deliveries a page's worth at a time, until
		// the page is full.
		for len(cands) > 0 {
			n, ids := 0, 0
			for n < len(cands) && (n == 0 || ids+len(cands[n].ids) <= limit) {
				ids += len(cands[n].ids)
				n++
			}
			loaded, err := db.loadScoredDeliveries(ctx, cands[:n])
			if err != nil {
				return nil, "", err
			}
			for i, ds := range loaded {
				var mine []*queue.Delivery
				for _, d := range ds {
					if match(d.d) {
						mine = append(mine, d.d)
					}
				}
				if len(out) > 0 && len(out)+len(mine) > limit {
					return out, cur.String(), nil
				}
				out = append(out, mine...)
				cur = recipientCursor{cands[i].bucket, cands[i].recipient}
			}
			cands = cands[n:]
		}
	}
	return out, "", nil
}

// recipientCandidate is a recipient of the page in a bucket, with the IDs
// of its deliveries the index lists.
type recipientCandidate struct {
	bucket    int
	recipient string
	ids       []string
}

// scoredDelivery is a delivery with its score in the index of every
// delivery, which orders it in FindDeliveries.
type scoredDelivery struct {
	d     *queue.Delivery
	score float64
}

// loadScoredDeliveries reads each candidate's deliveries with their
// scores in one pipeline, each candidate's newest first as FindDeliveries
// walks them (score, then ID, descending), skipping IDs whose hash is gone.
func (db *DB) loadScoredDeliveries(ctx context.Context, cands []recipientCandidate) ([][]scoredDelivery, error) {
	pipe := db.client.Pipeline()
	type cmd struct {
		doc   *goredis.MapStringStringCmd
		score *goredis.FloatCmd
	}
	cmds := make([][]cmd, len(cands))
	for i, c := range cands {
		for _, id := range c.ids {
			cmds[i] = append(cmds[i], cmd{pipe.HGetAll(ctx, db.keys.delivery(id)), pipe.ZScore(ctx, db.keys.deliveriesAll(), id)})
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis: load deliveries: %w", err)
	}
	out := make([][]scoredDelivery, len(cands))
	for i, cs := range cmds {
		for _, c := range cs {
			if err := c.doc.Err(); err != nil {
				return nil, fmt.Errorf("redis: load deliveries: %w", err)
			}
			m := c.doc.Val()
			if len(m) == 0 {
				continue
			}
			d, err := decodeDelivery(m)
			if err != nil {
				return nil, err
			}
			out[i] = append(out[i], scoredDelivery{d, c.score.Val()})
		}
		slices.SortFunc(out[i], func(a, b scoredDelivery) int {
			if a.score != b.score {
				if a.score > b.score {
					return -1
				}
				return 1
			}
			return -strings.Compare(a.d.ID, b.d.ID)
		})
	}
	return out, nil
}

// uniqueFields splits a recipient index entry into its IDs, each once.
func uniqueFields(s string) []string {
	ids := strings.Fields(s)
	slices.Sort(ids)
	return slices.Compact(ids)
}

// deliveryMatcher is the test FindDeliveries and FindRecipientDeliveries
// apply to each delivery they load.
func deliveryMatcher(f queue.DeliveryFilter) func(d *queue.Delivery) bool {
	states := map[queue.DeliveryState]bool{}
	for _, s := range f.States {
		states[s] = true
	}
	return func(d *queue.Delivery) bool {
		return (f.PageID == "" || d.PageID == f.PageID) &&
			(f.BroadcastID == "" || d.BroadcastID == f.BroadcastID) &&
			(f.IncidentID == "" || d.IncidentID == f.IncidentID) &&
			(f.RecipientID == "" || d.RecipientID == f.RecipientID) &&
			(f.Kind == "" || d.Kind == f.Kind) &&
			(f.Address == "" || d.Address == f.Address) &&
			(len(states) == 0 || states[d.State]) &&
			(f.Since.IsZero() || !d.CreatedAt.Before(f.Since))
	}
}

// FindCustomersByIDs implements surveys.Customers: one HMGET per batch of
// IDs.
func (db *DB) FindCustomersByIDs(ctx context.Context, pageID string, ids []string) ([]*audience.Customer, error) {
	out := []*audience.Customer{}
	if !incident.ValidID(pageID) {
		return out, nil
	}
	for part := range slices.Chunk(ids, 1000) {
		docs, err := db.client.HMGet(ctx, db.keys.customers(pageID), part...).Result()
		if err != nil {
			return nil, fmt.Errorf("redis: find customers: %w", err)
		}
		for _, doc := range docs {
			s, ok := doc.(string)
			if !ok {
				continue
			}
			c, err := decodeCustomer(s)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// LastSurveyedKeys implements surveys.Store: one HMGET of survey-last per
// batch of keys.
func (db *DB) LastSurveyedKeys(ctx context.Context, pageID string, keys []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	if !incident.ValidID(pageID) {
		return out, nil
	}
	for part := range slices.Chunk(keys, 1000) {
		vs, err := db.client.HMGet(ctx, db.keys.surveyLast(pageID), part...).Result()
		if err != nil {
			return nil, fmt.Errorf("redis: last surveyed: %w", err)
		}
		for i, v := range vs {
			s, ok := v.(string)
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("redis: last surveyed: %w", err)
			}
			out[part[i]] = time.UnixMilli(n).UTC()
		}
	}
	return out, nil
}
