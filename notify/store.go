package notify

import (
	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/queue"
)

// Store is what the pipeline keeps: the audience it plans for, the queue
// it drains, and the keys it signs links with. store/sqlite and
// store/redis implement it without importing notify: the interfaces live
// in the data packages audience and queue.
type Store interface {
	audience.Store
	queue.Store
	queue.Secrets
	queue.AutoReplies
}
