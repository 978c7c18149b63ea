package ims

import (
	"context"
	"time"
)

// Purgeable reports whether messages in status s may be deleted once they
// outlive their retention: only final ones (sent, canceled, dead), never a
// message that may still be delivered. A message's age counts from when it
// reached that status: sent_at for sent, updated_at for canceled and dead.
func Purgeable(s Status) bool {
	for _, p := range PurgeableStatuses {
		if s == p {
			return true
		}
	}
	return false
}

// RetentionStore deletes what has outlived its retention. Each call is one
// short statement (or transaction) over at most limit rows, so purging a large
// backlog never holds long locks or rewrites a table: callers repeat it.
type RetentionStore interface {
	// PurgeMessages deletes up to limit messages in status that reached it
	// before cut, oldest first, with their delivery attempts, and returns how
	// many it deleted. A status that is not Purgeable is EINVALID. Audit
	// events are kept: they have their own retention.
	PurgeMessages(ctx context.Context, status Status, cut time.Time, limit int) (int, error)
	// PurgeAudit deletes up to limit audit events created before cut, oldest
	// first, and returns how many it deleted.
	PurgeAudit(ctx context.Context, cut time.Time, limit int) (int, error)
}
