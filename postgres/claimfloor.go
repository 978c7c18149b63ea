package postgres

import (
	"slices"
	"sync"
	"time"

	"github.com/insiderone/ims"
)

// floorTTL bounds how long a claim floor is used before a claim walks the
// due index from its front again. It is the longest a message made due
// behind the floor by someone this store cannot see (another instance's
// create with a past send_at, another claimer's rolled-back claim, a clock
// behind this one) waits beyond its turn.
const floorTTL = time.Second

// floorLag keeps every floor this far behind the claim's now. A message
// stamped due at t becomes visible when its transaction commits, a little
// later; a claim in between may claim younger ones committed first. The lag
// keeps such a message ahead of the floor (unless its commit took longer),
// and it covers a fleet whose clocks differ by less than it. While a backlog
// drains the floor is far behind now and the lag changes nothing; when
// claims keep up with creates, it costs a walk over one second of claims.
const floorLag = time.Second

// claimFloors is where, per priority, this store's last full claim stopped
// in messages_due_idx (priority, next_attempt_at, id).
//
// Why: on PostgreSQL every claim leaves the entry of the row version it
// replaced at the front of that index, and only VACUUM removes it. A claim
// that walks from the front steps over the entries of every message claimed
// since the last vacuum: after 300,000 claims of one backlog, ~2,400 index
// pages and ~15 ms per claim (docs/benchmarks.md), so a large backlog
// drained ever slower. A claim that starts its walk at the floor steps only
// over what lies behind its own last row.
//
// The floor is a hint, never a bound on what gets claimed: a claim that
// comes back short from a floored walk walks again from the front for the
// rest (so a claim asking for more than is due gets all that is due), a
// create of a message due before now drops the floors (so this store's own
// past send_at is claimed in its turn), and floors older than floorTTL are
// dropped. SQLite updates its indexes in place and needs none of this.
type claimFloors struct {
	mu sync.Mutex
	// at holds a floor per ims.Priorities index (nil until the first
	// advance); the zero time means the front.
	at []time.Time
	// setAt is when the floors were first set after the last reset.
	setAt time.Time
	// gen counts resets. A claim sets floors only if none happened while it
	// ran: a create that committed during the claim may be behind them.
	gen uint64
}

// current returns the floors a claim starting at now walks from, the
// generation to hand back to advance, and whether any floor is set.
func (f *claimFloors) current(now time.Time) (floors []time.Time, gen uint64, floored bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.setAt.IsZero() && (now.Sub(f.setAt) >= floorTTL || now.Before(f.setAt)) {
		f.resetLocked()
	}
	floors = make([]time.Time, len(ims.Priorities))
	copy(floors, f.at)
	return floors, f.gen, !f.setAt.IsZero()
}

// advance moves the floors of the priorities in claimed to the due time of
// the last message claimed of each, or floorLag before now if that is
// earlier. It is called only after a claim that came back full: one that
// came back short found everything due, and the next walks from the front.
func (f *claimFloors) advance(gen uint64, now time.Time, claimed []ims.ClaimKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if gen != f.gen {
		return
	}
	if f.at == nil {
		f.at = make([]time.Time, len(ims.Priorities))
	}
	limit := now.Add(-floorLag)
	for _, k := range claimed {
		i := slices.Index(ims.Priorities, k.Priority)
		due := k.Due
		if due.After(limit) {
			due = limit
		}
		if i < 0 || !due.After(f.at[i]) {
			continue
		}
		f.at[i] = due
		if f.setAt.IsZero() {
			f.setAt = now
		}
	}
}

// reset drops every floor: the next claim walks from the front.
func (f *claimFloors) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resetLocked()
}

func (f *claimFloors) resetLocked() {
	clear(f.at)
	f.setAt = time.Time{}
	f.gen++
}

// resetIfBehind drops the floors when a message of msgs is due before now,
// i.e. possibly behind a floor. Messages due now or later are ahead of every
// floor: a floor is the due time of a message already claimed.
func (f *claimFloors) resetIfBehind(msgs []ims.NewMessage, now time.Time) {
	for _, nm := range msgs {
		if nm.SendAt != nil && nm.SendAt.Before(now) {
			f.reset()
			return
		}
	}
}
