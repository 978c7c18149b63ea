package sqlite

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
