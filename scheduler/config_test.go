package scheduler

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// The lease check of the configuration: a lease set too short is refused
// with the fields named, never raised behind the operator's back.
func TestNewRefusesALeaseTooShort(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"lease not beyond the delivery timeout", Config{DeliveryTimeout: 30 * time.Second, Lease: 30 * time.Second},
			"scheduler: Lease (30s) must exceed DeliveryTimeout (30s)"},
		{"handover lease below the lease", Config{DeliveryTimeout: 30 * time.Second, Lease: time.Minute, HandoverLease: 10 * time.Second},
			"scheduler: HandoverLease (10s) must be at least Lease (1m0s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.Instance = "test-1"
			_, err := New(tt.cfg, Deps{Webhook: newFakeWebhook()})
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestLeasesLeftZeroTakeDefaults(t *testing.T) {
	t.Parallel()
	cfg := Config{Instance: "test-1", DeliveryTimeout: 30 * time.Second}
	require.NoError(t, cfg.validate())
	require.Equal(t, 37500*time.Millisecond, cfg.Lease)
	require.Equal(t, 2*time.Minute, cfg.HandoverLease)
}

// initCounter counts InitSchedulerState calls.
type initCounter struct {
	ims.Store
	inits atomic.Int32
}

func (s *initCounter) InitSchedulerState(ctx context.Context, running bool, actor string) (ims.SchedulerState, error) {
	s.inits.Add(1)
	return s.Store.InitSchedulerState(ctx, running, actor)
}

func (s *initCounter) Wakeups() <-chan struct{} { return s.Store.(ims.Waker).Wakeups() }

func TestRunDoesNotLoadAgainAfterLoad(t *testing.T) {
	t.Parallel()
	var counter *initCounter
	b := build(t, Config{Interval: time.Minute, AutoStart: true}, nil, func(s ims.Store) ims.Store {
		counter = &initCounter{Store: s}
		return counter
	})
	require.NoError(t, b.sched.Load(context.Background()))
	b.run(t)
	next(t, b.sig.tick, "the first tick")
	require.Equal(t, int32(1), counter.inits.Load(), "the state is loaded once, at boot")
}

// Modes is what the API documents as queue_mode: every mode New accepts,
// the built-in ones and one registered like a third mode would be.
func TestModesListsEveryModeNewAccepts(t *testing.T) {
	t.Parallel()
	got := Modes()
	require.Subset(t, got, []string{ModeDB, ModeRabbitMQ, modeInline})
	require.Len(t, got, len(modes))
	require.IsIncreasing(t, got, "sorted, so the document is the same on every build")
}
