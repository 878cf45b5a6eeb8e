// Package livemsg holds the record of an incident's live message in a chat
// channel: the one Slack message herald posts when an incident is
// declared and then keeps current with chat.update, and the thread its
// updates are replied in. The record is what lets any node (on Redis, any
// number of them) edit the message another node posted. It is data only
// (standard library only): the engines implement Store without importing
// the Slack front door that uses it.
package livemsg

import (
	"context"
	"time"
)

// Message is where an incident's live message is.
type Message struct {
	IncidentID string
	PageID     string
	// Channel is the conversation ID the message was posted in.
	Channel string
	// TS is Slack's ts of the message; "" while it is being posted (the
	// record then only claims the right to post it).
	TS string
	// Replied is the ID of the newest incident update posted as a reply
	// in the message's thread; "" when none has been.
	Replied string
	// Rendered is a digest of what the message last showed (posted or
	// edited), whichever node sent it: a node renders the incident and
	// edits only when its digest differs, so N nodes hearing one change
	// make one edit, and a node never skips an edit because it alone
	// remembers having sent the same text before another node's edit.
	Rendered string
	// EditedAt is when the message was last posted or edited: edits of
	// one message are spaced across every node, not per node.
	EditedAt time.Time
	// ClaimedAt is when a node claimed the right to post the message.
	ClaimedAt time.Time
	UpdatedAt time.Time
}

// Store keeps one Message per incident. store/sqlite and store/redis
// implement it, held to storetest.RunLiveMessages. Times round-trip at
// millisecond precision in UTC.
type Store interface {
	// ClaimLiveMessage records m (with TS "") as the incident's message
	// being posted, and reports true: the caller posts it. It records
	// nothing and reports false when a message is already recorded for
	// the incident with a TS, or claimed at or after staleBefore (another
	// node is posting it). A claim older than staleBefore is taken over:
	// its node died before it could say where the message went.
	ClaimLiveMessage(ctx context.Context, m *Message, staleBefore time.Time) (bool, error)
	// SaveLiveMessage writes m whole (a posted message's TS, the update
	// last replied).
	SaveLiveMessage(ctx context.Context, m *Message) error
	// AdvanceLiveReply writes m whole if the stored record's Replied is
	// still from, and reports true: the caller may post the thread reply
	// for m.Replied, and no other node will. It writes nothing and reports
	// false when another node has moved Replied on; an incident without a
	// record is an ENOTFOUND error.
	AdvanceLiveReply(ctx context.Context, m *Message, from string) (bool, error)
	// LeaseLiveMessage takes the incident's edit lease for holder until
	// until and reports true: holder alone may post, edit or reply for the
	// incident until it releases the lease or until passes. It reports
	// false, taking nothing, while another holder's lease runs (its until
	// is after now). Holding it, a node reads the incident, renders and
	// sends: two nodes changing the incident at once are then rendered
	// one after the other, and the later render is the last one sent. A
	// lease needs no record (the first post takes it too).
	LeaseLiveMessage(ctx context.Context, incidentID, holder string, now, until time.Time) (bool, error)
	// ReleaseLiveMessage gives back holder's lease of the incident; it
	// does nothing when the lease is not holder's (it ran out and another
	// took it).
	ReleaseLiveMessage(ctx context.Context, incidentID, holder string) error
	// FindLiveMessage returns the incident's record, or an ENOTFOUND
	// error (incident.NotFound).
	FindLiveMessage(ctx context.Context, incidentID string) (*Message, error)
}
