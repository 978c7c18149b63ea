package sqlite

import (
	"github.com/insiderone/ims"
)

var _ ims.StateWatcher = (*Store)(nil)

// StateChanged is closed at the next change of the scheduler state or
// confirmation of it through this Store (one process: SQLite's fleet is the
// processes that share its file, and they see each other by polling).
func (s *Store) StateChanged() <-chan struct{} { return s.states.Wait() }

// Wakeups receives after messages become due (created, replayed, released).
func (s *Store) Wakeups() <-chan struct{} { return s.wake }

// signal wakes a waiting pipeline without ever blocking: one pending signal
// is enough, since the pipeline claims everything due when it wakes.
func (s *Store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
