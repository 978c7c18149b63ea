package scheduler

// testSignals report the engine's steps on channels that tests wait on, so a
// test that something did not happen waits for the step where it would have
// happened instead of racing the goroutine (River's test signals). In
// production the pointer is nil and each report costs a nil check. Sends
// never block: a channel nobody reads fills up and then drops.
type testSignals struct {
	// tick: the dispatch loop went round once and is about to wait (its
	// wait is armed, so time moved after a tick wakes it). The value says
	// whether it dispatched.
	tick chan bool
	// claimed: a claim took n messages.
	claimed chan int
	// recorded and released: the completer stored n outcomes, or n releases.
	recorded chan int
	released chan int
	// deferred: the completer stored n claims handed back for quiet hours.
	deferred chan int
	// draining: the shutdown began and armed its deadlines.
	draining chan struct{}
	// gateClosing: a stop found a call past its last check and waits for
	// it to be on the wire (stopgate.go).
	gateClosing chan struct{}
	// beforeGate, when set, runs in a delivery right before its last
	// check, so a test can hold it there. Set it before Run.
	beforeGate func()
}

func newTestSignals() *testSignals {
	const n = 1000
	return &testSignals{
		tick: make(chan bool, n), claimed: make(chan int, n),
		recorded: make(chan int, n), released: make(chan int, n), draining: make(chan struct{}, n),
		deferred: make(chan int, n), gateClosing: make(chan struct{}, n),
	}
}

// The reports; each is a nil check in production.

func (t *testSignals) ticked(dispatched bool) {
	if t != nil {
		trySend(t.tick, dispatched)
	}
}

func (t *testSignals) claimedN(n int) {
	if t != nil {
		trySend(t.claimed, n)
	}
}

func (t *testSignals) recordedN(n int) {
	if t != nil {
		trySend(t.recorded, n)
	}
}

func (t *testSignals) releasedN(n int) {
	if t != nil {
		trySend(t.released, n)
	}
}

func (t *testSignals) deferredN(n int) {
	if t != nil {
		trySend(t.deferred, n)
	}
}

func (t *testSignals) drainBegan() {
	if t != nil {
		trySend(t.draining, struct{}{})
	}
}

func (t *testSignals) closingGate() {
	if t != nil {
		trySend(t.gateClosing, struct{}{})
	}
}

func (t *testSignals) atGate() {
	if t != nil && t.beforeGate != nil {
		t.beforeGate()
	}
}

func trySend[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}
