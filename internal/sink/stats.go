package sink

import (
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
)

// Stats is what the sink has received so far. The counts are read one by
// one without a global lock, so under load they may be a request apart.
//
// Duplicates is defined per Idempotency-Key: the number of 2xx answers
// beyond the first. A key answered 202 three times counts 2; a key that
// failed twice and was then accepted once counts 0 (those were retries,
// not duplicates). So Accepted = UniqueAccepted + Duplicates + the
// accepted requests that carried no key.
type Stats struct {
	Received         int64 `json:"received"`          // webhook requests, whatever the answer
	Accepted         int64 `json:"accepted"`          // answered 2xx
	UniqueKeys       int64 `json:"unique_keys"`       // distinct Idempotency-Keys seen
	UniqueAccepted   int64 `json:"unique_accepted"`   // distinct keys answered 2xx at least once
	Duplicates       int64 `json:"duplicates"`        // 2xx answers beyond the first, summed over keys
	FailuresInjected int64 `json:"failures_injected"` // answered FailStatus on purpose
	TimeoutsInjected int64 `json:"timeouts_injected"` // held without an answer on purpose
	Unauthorized     int64 `json:"unauthorized"`      // wrong or missing x-ins-auth-key
	BadRequests      int64 `json:"bad_requests"`      // body not the contract's JSON
	MissingKey       int64 `json:"missing_key"`       // requests without Idempotency-Key
	// ByStatus counts answers by HTTP status; 0 counts requests whose
	// client gave up before the answer.
	ByStatus map[int]int64 `json:"by_status"`
}

// maxStatus bounds the by-status array; statuses are 100-599, 0 is "none".
const maxStatus = 600

type counters struct {
	received, accepted                atomic.Int64
	uniqueKeys, uniqueAccepted        atomic.Int64
	duplicates, failures, timeouts    atomic.Int64
	unauthorized, badRequests, noKeys atomic.Int64
	byStatus                          [maxStatus]atomic.Int64
}

// Stats returns the counts so far.
func (s *Sink) Stats() Stats {
	c := &s.counts
	st := Stats{
		Received:         c.received.Load(),
		Accepted:         c.accepted.Load(),
		UniqueKeys:       c.uniqueKeys.Load(),
		UniqueAccepted:   c.uniqueAccepted.Load(),
		Duplicates:       c.duplicates.Load(),
		FailuresInjected: c.failures.Load(),
		TimeoutsInjected: c.timeouts.Load(),
		Unauthorized:     c.unauthorized.Load(),
		BadRequests:      c.badRequests.Load(),
		MissingKey:       c.noKeys.Load(),
		ByStatus:         map[int]int64{},
	}
	for code := range c.byStatus {
		if n := c.byStatus[code].Load(); n > 0 {
			st.ByStatus[code] = n
		}
	}
	return st
}

// Received returns what arrived with Idempotency-Key key, in arrival
// order. It is empty unless Config.KeepDeliveries is set.
func (s *Sink) Received(key string) []Delivery {
	return s.keys.deliveries(key)
}

// record counts d and tells OnDelivery about it.
func (s *Sink) record(d Delivery) {
	c := &s.counts
	if d.Status >= 0 && d.Status < maxStatus {
		c.byStatus[d.Status].Add(1)
	}
	if d.Accepted() {
		c.accepted.Add(1)
	}
	if d.Key == "" {
		c.noKeys.Add(1)
	} else {
		newKey, firstAccept, duplicate := s.keys.add(d, s.cfg.KeepDeliveries)
		if newKey {
			c.uniqueKeys.Add(1)
		}
		if firstAccept {
			c.uniqueAccepted.Add(1)
		}
		if duplicate {
			c.duplicates.Add(1)
		}
	}
	if s.cfg.OnDelivery != nil {
		s.cfg.OnDelivery(d)
	}
}

// keyShards spreads keys over independently locked maps so concurrent
// requests rarely wait on each other; a power of two for a cheap modulo.
const keyShards = 64

// keyTable is the per-key state, sharded by a hash of the key.
type keyTable struct {
	seed   maphash.Seed
	shards [keyShards]keyShard
}

type keyShard struct {
	mu   sync.Mutex
	keys map[string]keyState
	_    [48]byte // keep neighbouring shards' locks off one cache line
}

type keyState struct {
	accepted   int
	deliveries []Delivery // only with KeepDeliveries
}

func newKeyTable(seed maphash.Seed) *keyTable {
	t := &keyTable{seed: seed}
	for i := range t.shards {
		t.shards[i].keys = make(map[string]keyState)
	}
	return t
}

func (t *keyTable) shard(key string) *keyShard {
	return &t.shards[maphash.String(t.seed, key)&(keyShards-1)]
}

// add records d under its key and reports whether the key is new, whether
// this is its first 2xx, and whether it is a 2xx beyond the first.
func (t *keyTable) add(d Delivery, keep bool) (newKey, firstAccept, duplicate bool) {
	sh := t.shard(d.Key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st, seen := sh.keys[d.Key]
	if d.Accepted() {
		st.accepted++
		firstAccept, duplicate = st.accepted == 1, st.accepted > 1
	}
	if keep {
		st.deliveries = append(st.deliveries, d)
	}
	sh.keys[d.Key] = st
	return !seen, firstAccept, duplicate
}

func (t *keyTable) deliveries(key string) []Delivery {
	sh := t.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return slices.Clone(sh.keys[key].deliveries)
}
