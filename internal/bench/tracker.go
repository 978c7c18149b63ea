package bench

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/insiderone/ims/internal/sink"
)

// trackShards spreads the per-message map over independently locked shards:
// the sink calls into the tracker from every request goroutine at once.
const trackShards = 64

// tracker keeps, per message id, when its create request returned and when
// the sink first accepted it. Times are nanoseconds since base on the
// monotonic clock, so they compare across the creating goroutines and the
// sink's request goroutines (all in this process).
type tracker struct {
	base      time.Time
	shards    [trackShards]trackShard
	created   atomic.Int64 // ids whose create returned
	delivered atomic.Int64 // ids accepted by the sink at least once
	lastRecv  atomic.Int64 // newest first acceptance, ns since base
	firstRecv atomic.Int64 // oldest first acceptance, ns since base (0 = none yet)
	badKeys   atomic.Int64 // accepted requests whose key is not a UUID
}

type trackShard struct {
	mu sync.Mutex
	m  map[uuid.UUID]times
}

// times of one message; 0 means "not yet" (a real time is never 0: base is
// taken before anything happens).
type times struct {
	created, received int64
}

func newTracker(sizeHint int) *tracker {
	t := &tracker{base: time.Now()}
	for i := range t.shards {
		t.shards[i].m = make(map[uuid.UUID]times, sizeHint/trackShards+1)
	}
	return t
}

func (t *tracker) since(at time.Time) int64 { return max(at.Sub(t.base).Nanoseconds(), 1) }

func (t *tracker) shard(id uuid.UUID) *trackShard {
	// UUIDv7 starts with a timestamp; its last byte is random.
	return &t.shards[id[15]%trackShards]
}

// createdAt records that the create request of id returned at at.
func (t *tracker) createdAt(id uuid.UUID, at time.Time) {
	sh := t.shard(id)
	sh.mu.Lock()
	e := sh.m[id]
	e.created = t.since(at)
	sh.m[id] = e
	sh.mu.Unlock()
	t.created.Add(1)
}

// onDelivery is the sink's hook: it notes the first acceptance of each key.
// A delivery can beat its create request's answer back to the bench; the
// entry is then made here and completed by createdAt.
func (t *tracker) onDelivery(d sink.Delivery) {
	if !d.Accepted() {
		return
	}
	id, err := uuid.Parse(d.Key)
	if err != nil {
		t.badKeys.Add(1)
		return
	}
	at := t.since(d.ReceivedAt)
	sh := t.shard(id)
	sh.mu.Lock()
	e := sh.m[id]
	first := e.received == 0
	if first {
		e.received = at
		sh.m[id] = e
	}
	sh.mu.Unlock()
	if !first {
		return
	}
	t.delivered.Add(1)
	t.firstRecv.CompareAndSwap(0, at)
	for {
		last := t.lastRecv.Load()
		if at <= last || t.lastRecv.CompareAndSwap(last, at) {
			return
		}
	}
}

// outcome is the final reckoning over every tracked message.
type outcome struct {
	lost      int64   // created, never accepted
	unknown   int64   // accepted, never created by this run
	early     int64   // accepted before their create request returned
	latencies []int64 // received - created, ns, per message both created and accepted
	receipts  []int64 // first acceptance times, ns since base, sorted
}

func (t *tracker) reckon() outcome {
	var o outcome
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for _, e := range sh.m {
			switch {
			case e.created != 0 && e.received == 0:
				o.lost++
			case e.created == 0:
				o.unknown++
			default:
				lat := e.received - e.created
				if lat < 0 {
					o.early++
					lat = 0
				}
				o.latencies = append(o.latencies, lat)
			}
			if e.received != 0 {
				o.receipts = append(o.receipts, e.received)
			}
		}
		sh.mu.Unlock()
	}
	slices.Sort(o.latencies)
	slices.Sort(o.receipts)
	return o
}

// percentile of sorted values (nearest rank); 0 when empty.
func percentile(sorted []int64, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	return time.Duration(sorted[min(max(rank, 0), len(sorted)-1)])
}
