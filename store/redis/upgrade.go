package redis

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
)

// Upgrades of data written by an older herald, run once per store when it
// is opened (Upgrade). Redis has no schema to migrate; what changes is
// what a save writes besides the document: index keys and tally counters.
// A document saved before such a change is saved again, which puts it in
// the keys and counters this code keeps, as the SQLite engine's migrations
// do in SQL.
//
// <prefix>:{global}:upgrades is a hash of the upgrades done: name → "1".
func (k keyspace) upgrades() string { return k.global("upgrades") }

// complaintQueueUpgrade: the agents' queue (its tab keys and the "q"
// tally counters) was added to what a complaint's save writes; complaints
// stored before it are saved again so the queue counts and lists them.
const complaintQueueUpgrade = "complaint-queue"

// Upgrade runs the upgrades this store has not had yet. Nodes starting
// together may both run one: each complaint is saved again under its
// version check, so one save wins and the other's conflict is ignored,
// and a save moves each complaint's keys and counters from what it was
// in to what it is in, so doing it twice counts nothing twice.
func (db *DB) Upgrade(ctx context.Context) error {
	done, err := db.client.HGet(ctx, db.keys.upgrades(), complaintQueueUpgrade).Result()
	if err != nil && err != goredis.Nil {
		return fmt.Errorf("redis: upgrade: %w", err)
	}
	if done == "1" {
		return nil
	}
	pages, err := db.complaintPageIDs(ctx, "")
	if err != nil {
		return err
	}
	for _, p := range pages {
		if err := db.resaveComplaints(ctx, p); err != nil {
			return fmt.Errorf("redis: upgrade %s: %w", complaintQueueUpgrade, err)
		}
	}
	if err := db.client.HSet(ctx, db.keys.upgrades(), complaintQueueUpgrade, "1").Err(); err != nil {
		return fmt.Errorf("redis: upgrade: %w", err)
	}
	return nil
}

// resaveComplaints saves every complaint of a page again, as is but for
// its version.
func (db *DB) resaveComplaints(ctx context.Context, pageID string) error {
	iter := db.client.HScan(ctx, db.keys.complaints(pageID), 0, "", 500).Iterator()
	for iter.Next(ctx) {
		id := iter.Val()
		if !iter.Next(ctx) {
			break
		}
		c, err := decode[complaint.Complaint](iter.Val())
		if err != nil {
			return fmt.Errorf("complaint %s: %w", id, err)
		}
		c.Version++
		if err := db.SaveComplaint(ctx, c, nil); err != nil && incident.ErrorCode(err) != incident.ECONFLICT {
			return fmt.Errorf("complaint %s: %w", id, err)
		}
	}
	return iter.Err()
}
