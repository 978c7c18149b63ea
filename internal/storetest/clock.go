package storetest

import (
	"sync"
	"time"
)

// Start is the fake clock's initial time. It has nanoseconds on purpose, so
// the suite proves that stores truncate timestamps to microseconds.
var start = time.Date(2030, time.January, 2, 3, 4, 5, 123456789, time.UTC)

// Clock is a fake clock that only moves when a test moves it, so tests about
// leases and schedules never sleep. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time. Pass the method value (c.Now) as an ims.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
