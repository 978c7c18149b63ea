// Package msgid makes message IDs and the bounds that find them by time.
//
// A message ID is a UUIDv7 (RFC 9562) whose 48-bit timestamp is the
// message's created_at on the store's clock, to the millisecond, so ID
// order is creation order and an ID range is a time range: the sent purge
// walks the (status, id) index up to the ID bound of its cut instead of
// paying an index on sent_at in every delivery (migration 00015 in both
// stores). The uuid package makes version 7 UUIDs from the wall clock
// only, hence this generator.
package msgid

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Generator makes the message IDs of one store. IDs it makes grow: within
// one millisecond a 42-bit counter (RFC 9562's fixed-length dedicated
// counter: the 12 bits of rand_a and the top 30 of rand_b) orders them,
// starting each millisecond at a random value with room for 2^41 more; the
// last 32 bits are random. The zero value is ready to use.
type Generator struct {
	mu      sync.Mutex
	lastMs  int64
	counter uint64
}

// New returns the ID of a message created at createdAt. If createdAt is not
// after the last ID's millisecond (the same millisecond, or a clock that
// went back), the ID keeps that millisecond and counts on, so it is still
// above every earlier one: its time is then a little later than createdAt.
func (g *Generator) New(createdAt time.Time) (string, error) {
	u, err := g.NewUUID(createdAt)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// NewUUID is New as a UUID value, for a store that binds it as one.
func (g *Generator) NewUUID(createdAt time.Time) (uuid.UUID, error) {
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return uuid.UUID{}, fmt.Errorf("new message id: %w", err)
	}
	ms := clamp(createdAt.UnixMilli())
	g.mu.Lock()
	if ms > g.lastMs {
		g.lastMs, g.counter = ms, binary.BigEndian.Uint64(rnd[:8])>>23
	} else {
		g.counter++
	}
	ms, c := g.lastMs, g.counter
	g.mu.Unlock()

	var u uuid.UUID
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	u[6] = 0x70 | byte(c>>38)&0x0f // version 7, counter bits 41–38
	u[7] = byte(c >> 30)
	u[8] = 0x80 | byte(c>>24)&0x3f // variant 10, counter bits 29–24
	u[9], u[10], u[11] = byte(c>>16), byte(c>>8), byte(c)
	copy(u[12:], rnd[8:])
	return u, nil
}

// Bound returns the smallest ID a message created after t's millisecond can
// have: every message created at or before t has an ID below it, compared
// as UUIDs (PostgreSQL) or as their canonical text (SQLite) alike. It is
// the next millisecond with every other bit zero; a real ID of that
// millisecond has version 7 and is above it.
//
// A message is sent after it is created, so one sent before a cut has an ID
// below the cut's bound, unless its ID is later than its creation: made
// after the clock went back, or by an instance whose clock ran ahead of the
// sender's. Such a message is purged by a later run, never early.
func Bound(t time.Time) string {
	ms := clamp(t.UnixMilli() + 1)
	return fmt.Sprintf("%08x-%04x-0000-0000-000000000000", ms>>16, ms&0xffff)
}

// maxMillis is the largest time a UUIDv7 holds: 48 bits of milliseconds.
const maxMillis = 1<<48 - 1

func clamp(ms int64) int64 {
	return min(max(ms, 0), maxMillis)
}
