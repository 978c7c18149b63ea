package stats

import (
	"encoding/hex"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/insiderone/ims"
)

// SeriesSpan is how far back the console's charts look; the series keeps
// one bucket per second of it.
const SeriesSpan = 15 * time.Minute

const seriesBuckets = int(SeriesSpan / time.Second)

// Latency histogram: bucket i holds latencies up to latencyBase·latencyGrowth^i
// milliseconds, so a percentile is known within one growth step (25 %), from
// a millisecond to over an hour, in a fixed few hundred bytes per second.
const (
	latencyBase    = 1.0 // ms
	latencyGrowth  = 1.25
	latencyBuckets = 70 // 1.25^69 ms ≈ 4.9 h; slower ones go in the last bucket
)

type latencyHist [latencyBuckets]uint32

func latencyBucket(d time.Duration) int {
	ms := float64(d) / float64(time.Millisecond)
	if ms <= latencyBase {
		return 0
	}
	i := int(math.Ceil(math.Log(ms/latencyBase) / math.Log(latencyGrowth)))
	return min(i, latencyBuckets-1)
}

// upper is the upper bound of bucket i, in milliseconds.
func latencyUpper(i int) float64 { return latencyBase * math.Pow(latencyGrowth, float64(i)) }

// quantile is the upper bound of the bucket holding quantile q of h, and
// false when h is empty.
func (h *latencyHist) quantile(q float64, total uint64) (float64, bool) {
	if total == 0 {
		return 0, false
	}
	rank := uint64(math.Ceil(q * float64(total)))
	rank = max(rank, 1)
	var seen uint64
	for i, n := range h {
		seen += uint64(n)
		if seen >= rank {
			return math.Round(latencyUpper(i)*10) / 10, true
		}
	}
	return math.Round(latencyUpper(latencyBuckets-1)*10) / 10, true
}

type seriesBucket struct {
	second                            int64
	delivered, retried, dead, expired int64
	latency                           latencyHist
	samples                           uint64
	backlog                           int64
	hasBacklog                        bool
}

// Series keeps this instance's delivery outcomes per second over the last
// SeriesSpan, with the create→delivered latency of every sent message and
// the backlog as sampled by the console's producer: the data of the
// console's charts. It is pure memory (a ring of one-second buckets) with an
// injected clock; Observe is cheap enough for the delivery path.
type Series struct {
	clock ims.Clock

	mu      sync.Mutex
	buckets [seriesBuckets]seriesBucket
}

// NewSeries returns an empty series; clock nil is time.Now.
func NewSeries(clock ims.Clock) *Series {
	if clock == nil {
		clock = time.Now
	}
	return &Series{clock: clock}
}

// bucket returns the bucket of second sec, reset if it held an older one.
// The caller holds mu.
func (s *Series) bucket(sec int64) *seriesBucket {
	i := int((sec%int64(seriesBuckets) + int64(seriesBuckets)) % int64(seriesBuckets))
	b := &s.buckets[i]
	if b.second != sec {
		*b = seriesBucket{second: sec}
	}
	return b
}

// Observe records one decided delivery. A sent message also records its
// latency from creation (the time in its UUIDv7 id) to the decision.
func (s *Series) Observe(out ims.Outcome) {
	at := out.At
	if at.IsZero() {
		at = s.clock()
	}
	var latency time.Duration
	created, haveCreated := CreatedAt(out.Claim.MessageID)
	if haveCreated {
		latency = max(at.Sub(created), 0)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucket(at.Unix())
	switch out.Decision.Status {
	case ims.StatusSent:
		b.delivered++
		if haveCreated {
			b.latency[latencyBucket(latency)]++
			b.samples++
		}
	case ims.StatusDead:
		b.dead++
	case ims.StatusExpired:
		b.expired++
	default:
		b.retried++
	}
}

// SampleBacklog records the backlog (messages pending or sending) as of now.
func (s *Series) SampleBacklog(n int64) {
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucket(now.Unix())
	b.backlog, b.hasBacklog = n, true
}

// CreatedAt reads the creation time IMS writes into a message id (a
// UUIDv7: its first 48 bits are Unix milliseconds). It is false for an id
// that is not a UUIDv7.
func CreatedAt(id string) (time.Time, bool) {
	if len(id) != 36 || id[14] != '7' {
		return time.Time{}, false
	}
	raw, err := hex.DecodeString(strings.Replace(id[:13], "-", "", 1))
	if err != nil || len(raw) != 6 {
		return time.Time{}, false
	}
	var ms int64
	for _, c := range raw {
		ms = ms<<8 | int64(c)
	}
	return time.UnixMilli(ms), true
}

// SeriesSnapshot is the series in points of Step each, oldest first, ending
// at End (exclusive: the current, partial second is left out). Rates are per
// second averaged over each point; a latency or backlog is nil where
// nothing was measured.
type SeriesSnapshot struct {
	End       time.Time  `json:"end"`
	Step      string     `json:"step"`
	StepSecs  int        `json:"step_seconds"`
	Delivered []float64  `json:"delivered_per_second"`
	Retried   []float64  `json:"retried_per_second"`
	Dead      []float64  `json:"dead_per_second"`
	Expired   []float64  `json:"expired_per_second"`
	P50       []*float64 `json:"latency_p50_ms"`
	P95       []*float64 `json:"latency_p95_ms"`
	Backlog   []*int64   `json:"backlog"`
}

// Snapshot returns the last SeriesSpan in points of step (a whole number of
// seconds that divides SeriesSpan; anything else is one second).
func (s *Series) Snapshot(step time.Duration) SeriesSnapshot {
	secs := int(step / time.Second)
	if secs <= 0 || seriesBuckets%secs != 0 {
		secs = 1
	}
	n := seriesBuckets / secs
	end := s.clock().Unix() // exclusive
	first := end - int64(seriesBuckets)
	snap := SeriesSnapshot{
		End: time.Unix(end, 0).UTC(), Step: (time.Duration(secs) * time.Second).String(), StepSecs: secs,
		Delivered: make([]float64, n), Retried: make([]float64, n), Dead: make([]float64, n), Expired: make([]float64, n),
		P50: make([]*float64, n), P95: make([]*float64, n), Backlog: make([]*int64, n),
	}
	per := func(v int64) float64 { return math.Round(float64(v)/float64(secs)*1000) / 1000 }
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range n {
		var delivered, retried, dead, expired int64
		var hist latencyHist
		var samples uint64
		var backlog *int64
		for k := range secs {
			sec := first + int64(p*secs+k)
			b := &s.buckets[int((sec%int64(seriesBuckets)+int64(seriesBuckets))%int64(seriesBuckets))]
			if b.second != sec {
				continue
			}
			delivered, retried, dead, expired = delivered+b.delivered, retried+b.retried, dead+b.dead, expired+b.expired
			for i, c := range b.latency {
				hist[i] += c
			}
			samples += b.samples
			if b.hasBacklog {
				v := b.backlog
				backlog = &v // the latest sample of the point
			}
		}
		snap.Delivered[p], snap.Retried[p], snap.Dead[p], snap.Expired[p] = per(delivered), per(retried), per(dead), per(expired)
		if v, ok := hist.quantile(0.50, samples); ok {
			snap.P50[p] = &v
		}
		if v, ok := hist.quantile(0.95, samples); ok {
			snap.P95[p] = &v
		}
		snap.Backlog[p] = backlog
	}
	return snap
}
