// Package broadcast is a signal that wakes every waiter at once, for the
// stores' StateChanged (ims.StateWatcher): a buffered channel of one would
// wake only one of the goroutines that wait on a state change.
package broadcast

import "sync"

// Signal is a broadcast; the zero value is ready.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// Wait returns a channel closed at the next Broadcast. Take it before
// looking at what it signals, so a change in between is not missed.
func (s *Signal) Wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Broadcast wakes every current waiter; it never blocks.
func (s *Signal) Broadcast() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}
