package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

const callbackURL = "https://receiver.example/ims"

func (f *fixture) claimCallbacks(t *testing.T) []ims.Callback {
	t.Helper()
	got, err := f.s.ClaimCallbacks(f.ctx, 100, lease)
	require.NoError(t, err)
	return got
}

func (f *fixture) callbackCounts(t *testing.T) map[ims.CallbackState]int64 {
	t.Helper()
	got, err := f.s.CountCallbacks(f.ctx)
	require.NoError(t, err)
	return got
}

func testCallbacks(t *testing.T, open Opener) {
	t.Run("an idempotent replay must ask for the same callback url", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		nm := f.newMsg()
		nm.IdempotencyKey, nm.CallbackURL = "key-callback", "https://example.com/a"
		first := f.create(t, nm)
		res, err := f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{nm}))
		require.NoError(t, err)
		require.False(t, res[0].Created)
		require.Equal(t, first.ID, res[0].Message.ID)
		other := nm
		other.CallbackURL = "https://example.com/b"
		_, err = f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{other}))
		requireCode(t, ims.ECONFLICT, err)
		other.CallbackURL = ""
		_, err = f.s.CreateMessages(f.ctx, ims.WithActor(actor, []ims.NewMessage{other}))
		requireCode(t, ims.ECONFLICT, err) // dropping the url is another request too
	})
	t.Run("no url, no row", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		f.inState(t, ims.StatusSent)
		f.inState(t, ims.StatusCanceled)
		require.Equal(t, map[ims.CallbackState]int64{ims.CallbackPending: 0, ims.CallbackFailed: 0}, f.callbackCounts(t))
		require.Empty(t, f.claimCallbacks(t))
	})
	t.Run("every callback status writes a row with the change", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		require.NoError(t, f.s.SetStatusCallbackURL(f.ctx, callbackURL))
		sent := f.inState(t, ims.StatusSent)
		dead := f.inState(t, ims.StatusDead)
		canceled := f.inState(t, ims.StatusCanceled)
		expiring := f.create(t, f.expiring(time.Second))
		f.clock.Advance(2 * time.Second)
		n, err := f.s.ExpireDue(f.ctx, ims.ExpiryStopped, "expiry", 10)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		retried := f.claimOne(t)
		f.record(t, outcome(retried, ims.StatusPending, f.clock.Now()))

		got := map[string]ims.Callback{}
		for _, c := range f.claimCallbacks(t) {
			require.NotContains(t, got, c.MessageID, "one row per change")
			got[c.MessageID] = c
		}
		require.Len(t, got, len(ims.CallbackStatuses), "pending, sending and retries send none")
		for id, want := range map[string]ims.Status{sent.ID: ims.StatusSent, dead.ID: ims.StatusDead,
			canceled.ID: ims.StatusCanceled, expiring.ID: ims.StatusExpired} {
			c, ok := got[id]
			require.True(t, ok, "a callback for the %s message", want)
			require.Equal(t, want, c.Status)
			require.Equal(t, callbackURL, c.URL)
			require.Equal(t, 1, c.Attempts)
		}
		require.Equal(t, pid(sent), got[sent.ID].ProviderMessageID)
		require.NotEmpty(t, got[dead.ID].Error, "a dead callback carries the last error")
		requireTime(t, f.get(t, sent.ID).UpdatedAt, got[sent.ID].At)
	})
	t.Run("a message's own url wins; clearing the default stops the rest", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		require.NoError(t, f.s.SetStatusCallbackURL(f.ctx, callbackURL))
		nm := f.newMsg()
		nm.CallbackURL = "http://own.example/cb"
		own := f.create(t, nm)
		require.Equal(t, nm.CallbackURL, f.get(t, own.ID).CallbackURL)
		_, err := f.s.CancelMessage(f.ctx, own.ID, actor)
		require.NoError(t, err)
		require.NoError(t, f.s.SetStatusCallbackURL(f.ctx, ""))
		f.inState(t, ims.StatusCanceled)
		got := f.claimCallbacks(t)
		require.Len(t, got, 1)
		require.Equal(t, own.ID, got[0].MessageID)
		require.Equal(t, nm.CallbackURL, got[0].URL)
	})
	t.Run("an applied delivery report writes a row, a duplicate none", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		require.NoError(t, f.s.SetStatusCallbackURL(f.ctx, callbackURL))
		m := f.inState(t, ims.StatusSent)
		r := report(pid(m), ims.DeliveryUndelivered, f.clock.Now(), "EC7")
		f.reports(t, r, r)
		got := f.claimCallbacks(t)
		require.Len(t, got, 2)
		require.Equal(t, ims.DeliveryNone, got[0].DeliveryStatus, "the send first")
		require.Equal(t, ims.DeliveryUndelivered, got[1].DeliveryStatus)
		require.Equal(t, ims.StatusSent, got[1].Status)
		require.Equal(t, "EC7", got[1].Error)
	})
	t.Run("a parked report applied by the send writes its row after the send's", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		require.NoError(t, f.s.SetStatusCallbackURL(f.ctx, callbackURL))
		m := f.claimOne(t)
		f.reports(t, report(pid(m), ims.DeliveryDelivered, f.clock.Now(), ""))
		f.record(t, outcome(m, ims.StatusSent, f.clock.Now()))
		got := f.claimCallbacks(t)
		require.Len(t, got, 2)
		require.Equal(t, ims.DeliveryNone, got[0].DeliveryStatus)
		require.Equal(t, ims.DeliveryDelivered, got[1].DeliveryStatus)
	})
	t.Run("one batch of outcomes writes a row for each message that has a url, with its own", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		own := f.newMsg()
		own.CallbackURL = "http://own.example/cb"
		withURL := f.create(t, own)
		f.createN(t, 2)
		claimed := f.claim(t, 3)
		require.Len(t, claimed, 3)
		outs := make([]ims.Outcome, len(claimed))
		for i, m := range claimed {
			outs[i] = outcome(m, ims.StatusSent, f.clock.Now())
		}
		f.record(t, outs...)
		got := f.claimCallbacks(t)
		require.Len(t, got, 1, "no default url: only the message with its own")
		require.Equal(t, withURL.ID, got[0].MessageID)
		require.Equal(t, own.CallbackURL, got[0].URL)

		require.NoError(t, f.s.SetStatusCallbackURL(f.ctx, callbackURL))
		f.create(t, own)
		f.createN(t, 2)
		claimed = f.claim(t, 3)
		require.Len(t, claimed, 3)
		for i, m := range claimed {
			outs[i] = outcome(m, ims.StatusSent, f.clock.Now())
		}
		f.record(t, outs...)
		urls := map[string]int{}
		for _, c := range f.claimCallbacks(t) {
			require.Equal(t, ims.StatusSent, c.Status)
			urls[c.URL]++
		}
		require.Equal(t, map[string]int{own.CallbackURL: 1, callbackURL: 2}, urls, "the default for the rest")
	})
	t.Run("one batch applies the parked reports of its messages only, each after its send", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		require.NoError(t, f.s.SetStatusCallbackURL(f.ctx, callbackURL))
		f.createN(t, 3)
		claimed := f.claim(t, 3)
		require.Len(t, claimed, 3)
		parked := claimed[1]
		f.reports(t, report(pid(parked), ims.DeliveryDelivered, f.clock.Now(), ""),
			report("prov-unknown", ims.DeliveryDelivered, f.clock.Now(), ""))
		outs := make([]ims.Outcome, len(claimed))
		for i, m := range claimed {
			outs[i] = outcome(m, ims.StatusSent, f.clock.Now())
		}
		f.record(t, outs...)
		for _, m := range claimed {
			want := ims.DeliveryNone
			if m.ID == parked.ID {
				want = ims.DeliveryDelivered
			}
			require.Equal(t, want, f.get(t, m.ID).DeliveryStatus, "message %s", m.ID)
		}
		var order []ims.DeliveryStatus
		for _, c := range f.claimCallbacks(t) {
			if c.MessageID == parked.ID {
				order = append(order, c.DeliveryStatus)
			}
		}
		require.Equal(t, []ims.DeliveryStatus{ims.DeliveryNone, ims.DeliveryDelivered}, order)
	})
	t.Run("claims lease rows; a stale completion changes nothing", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		require.NoError(t, f.s.SetStatusCallbackURL(f.ctx, callbackURL))
		f.inState(t, ims.StatusSent)
		first := f.claimCallbacks(t)
		require.Len(t, first, 1)
		require.Empty(t, f.claimCallbacks(t), "leased: nobody else gets it")
		f.clock.Advance(lease)
		again := f.claimCallbacks(t)
		require.Len(t, again, 1, "the lease ran out: due again")
		require.Equal(t, 2, again[0].Attempts)

		now := f.now()
		require.NoError(t, f.s.CompleteCallbacks(f.ctx, []ims.CallbackResult{{ID: first[0].ID, Attempt: 1, OK: true, At: now}}, actor))
		require.Equal(t, int64(1), f.callbackCounts(t)[ims.CallbackPending], "stale: still pending")
		require.NoError(t, f.s.CompleteCallbacks(f.ctx, []ims.CallbackResult{{ID: again[0].ID, Attempt: 2, OK: true, At: now}}, actor))
		require.Equal(t, map[ims.CallbackState]int64{ims.CallbackPending: 0, ims.CallbackFailed: 0}, f.callbackCounts(t), "delivered")
		f.clock.Advance(time.Hour)
		require.Empty(t, f.claimCallbacks(t), "a delivered row is never sent again")
		n, err := f.s.PurgeCallbacks(f.ctx, f.clock.Now(), 100)
		require.NoError(t, err)
		require.Equal(t, 1, n, "and retention purges it")
	})
	t.Run("a retry is due later; giving up writes its event", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		require.NoError(t, f.s.SetStatusCallbackURL(f.ctx, callbackURL))
		m := f.inState(t, ims.StatusSent)
		c := f.claimCallbacks(t)[0]
		now := f.now()
		require.NoError(t, f.s.CompleteCallbacks(f.ctx, []ims.CallbackResult{
			{ID: c.ID, Attempt: c.Attempts, Error: "HTTP 500", NextAttemptAt: now.Add(time.Minute), At: now}}, actor))
		require.Empty(t, f.claimCallbacks(t), "not due yet")
		f.clock.Advance(time.Minute)
		c = f.claimCallbacks(t)[0]
		require.Equal(t, 2, c.Attempts)
		require.NoError(t, f.s.CompleteCallbacks(f.ctx, []ims.CallbackResult{
			{ID: c.ID, Attempt: c.Attempts, Error: "HTTP 500", At: f.now()}}, "callbacks:test"))
		require.Equal(t, int64(1), f.callbackCounts(t)[ims.CallbackFailed])
		evs := f.events(t, ims.AuditFilter{MessageID: m.ID, Type: ims.EventCallbackGivenUp})
		require.Len(t, evs, 1)
		require.Contains(t, evs[0].Details, "HTTP 500")
		require.Equal(t, "callbacks:test", evs[0].Actor)

		f.clock.Advance(time.Hour)
		n, err := f.s.PurgeCallbacks(f.ctx, f.clock.Now(), 100)
		require.NoError(t, err)
		require.Equal(t, 1, n, "finished rows are purged")
	})
	t.Run("retention purges a message with its reports and callbacks", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		require.NoError(t, f.s.SetStatusCallbackURL(f.ctx, callbackURL))
		m := f.inState(t, ims.StatusSent)
		f.reports(t, report(pid(m), ims.DeliveryDelivered, f.clock.Now(), ""))
		f.clock.Advance(time.Hour)
		n, err := f.s.PurgeMessages(f.ctx, ims.StatusSent, f.clock.Now(), 100)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Empty(t, f.claimCallbacks(t), "its callbacks go with it")
		require.Equal(t, []ims.ReportOutcome{ims.ReportParked}, f.reports(t, report(pid(m), ims.DeliveryDelivered, start, "")),
			"its reports go with it: the same report is new again")
	})
}
