package broadcast

import "testing"

func TestSignal(t *testing.T) {
	t.Run("every waiter wakes at the broadcast", func(t *testing.T) {
		var s Signal
		a, b := s.Wait(), s.Wait()
		requireOpen(t, a)
		s.Broadcast()
		requireClosed(t, a)
		requireClosed(t, b)
	})
	t.Run("a wait taken after the broadcast waits for the next", func(t *testing.T) {
		var s Signal
		s.Broadcast() // nobody waits: nothing to close, no panic
		c := s.Wait()
		requireOpen(t, c)
		s.Broadcast()
		requireClosed(t, c)
		requireOpen(t, s.Wait())
	})
}

func requireOpen(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
		t.Fatal("signalled before a broadcast")
	default:
	}
}

func requireClosed(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	default:
		t.Fatal("not signalled by the broadcast")
	}
}
