package ims_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestTransitionAllows(t *testing.T) {
	t.Parallel()
	// Every (transition, status) pair, spelled out: a change of the rules
	// must change this table.
	allowed := map[string][]ims.Status{
		"create":  nil,
		"claim":   {ims.StatusPending, ims.StatusSending},
		"renew":   {ims.StatusSending},
		"release": {ims.StatusSending},
		"sent":    {ims.StatusSending},
		"retry":   {ims.StatusSending},
		"dead":    {ims.StatusSending},
		"cancel":  {ims.StatusPending},
		"replay":  {ims.StatusDead},
		"expire":  {ims.StatusPending, ims.StatusSending},
		"revive":  {ims.StatusDead, ims.StatusExpired},
		"defer":   {ims.StatusSending},
	}
	require.Len(t, ims.Transitions, len(allowed))
	for _, tr := range ims.Transitions {
		want, ok := allowed[tr.Name]
		require.True(t, ok, "unexpected transition %q", tr.Name)
		for _, s := range ims.Statuses {
			require.Equal(t, contains(want, s), tr.Allows(s), "%s from %s", tr.Name, s)
		}
		require.False(t, tr.Allows("bogus"))
		require.Equal(t, len(want), len(tr.FromStrings()))
	}
}

func TestTransitionsAreWellFormed(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, tr := range ims.Transitions {
		require.NotEmpty(t, tr.Name)
		require.False(t, names[tr.Name], "duplicate name %q", tr.Name)
		names[tr.Name] = true
		require.True(t, tr.To.Valid(), "%s: target %q", tr.Name, tr.To)
		for _, f := range tr.From {
			require.True(t, f.Valid(), "%s: source %q", tr.Name, f)
		}
		if tr.Event != "" {
			require.True(t, ims.KnownEventType(tr.Event), "%s: event %q", tr.Name, tr.Event)
		} else {
			require.Equal(t, tr.From, []ims.Status{tr.To}, "%s: only a move that changes no status may write no event", tr.Name)
		}
		// A final status is left only by an operator's explicit action,
		// which answers with a refusal when the status is wrong.
		for _, f := range tr.From {
			if f.Final() {
				require.NotEmpty(t, tr.Refusal, "%s leaves final %s", tr.Name, f)
			}
		}
	}
	// Every status but the first is reachable, and pending is where
	// everything starts.
	reached := map[ims.Status]bool{}
	for _, tr := range ims.Transitions {
		reached[tr.To] = true
	}
	for _, s := range ims.Statuses {
		require.True(t, reached[s], "no transition leads to %s", s)
	}
	require.Equal(t, ims.StatusPending, ims.TransitionCreate.To)
	require.Empty(t, ims.TransitionCreate.From)
}

// TestTransitionsListsEveryVar reads the package source: every Transition*
// variable must be in ims.Transitions.
func TestTransitionsListsEveryVar(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "lifecycle.go", nil, 0)
	require.NoError(t, err)
	var declared []string
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			for _, name := range spec.(*ast.ValueSpec).Names {
				if strings.HasPrefix(name.Name, "Transition") && name.Name != "Transitions" {
					declared = append(declared, name.Name)
				}
			}
		}
	}
	require.Len(t, ims.Transitions, len(declared), "declared: %v", declared)
	for _, name := range declared {
		found := false
		for _, tr := range ims.Transitions {
			found = found || strings.EqualFold("Transition"+tr.Name, name)
		}
		require.True(t, found, "%s is not in ims.Transitions (or its Name does not match)", name)
	}
}

// TestReadmeTransitions holds the README's table of moves to ims.Transitions,
// both ways, and checks every arrow of its diagram that names both ends.
func TestReadmeTransitions(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := string(raw)
	_, rest, ok := strings.Cut(readme, "<!-- transitions:begin -->")
	require.True(t, ok, "README has no transitions table")
	table, _, ok := strings.Cut(rest, "<!-- transitions:end -->")
	require.True(t, ok)

	type row struct{ name, from, to, event string }
	var got []row
	for _, line := range strings.Split(strings.TrimSpace(table), "\n")[2:] {
		cells := strings.Split(strings.Trim(line, "| "), "|")
		require.Len(t, cells, 4, line)
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		got = append(got, row{cells[0], cells[1], cells[2], cells[3]})
	}
	var want []row
	for _, tr := range ims.Transitions {
		from := "(new)"
		if len(tr.From) > 0 {
			from = strings.Join(tr.FromStrings(), ", ")
		}
		event := tr.Event
		if event == "" {
			event = "(none)"
		}
		want = append(want, row{tr.Name, from, string(tr.To), event})
	}
	// The table may explain a source in parentheses ("sending (lease expired)").
	paren := regexp.MustCompile(` \([^)]*\)`)
	for i := range got {
		if got[i].from != "(new)" {
			got[i].from = paren.ReplaceAllString(got[i].from, "")
		}
	}
	require.Equal(t, want, got)

	// The diagram: "a ──label──▶ b" on one line is a move from a to b.
	_, diagram, ok := strings.Cut(readme, "```\npending ──claim──▶")
	require.True(t, ok, "README has no state diagram")
	diagram, _, _ = strings.Cut("pending ──claim──▶"+diagram, "```")
	arrow := regexp.MustCompile(`([a-z]+) ──[^▶]*▶ ([a-z]+)`)
	pairs := 0
	for _, line := range strings.Split(diagram, "\n") {
		for _, m := range arrow.FindAllStringSubmatch(line, -1) {
			from, to := ims.Status(m[1]), ims.Status(m[2])
			if !from.Valid() || !to.Valid() {
				continue
			}
			pairs++
			require.True(t, moves(from, to), "the diagram draws %s → %s, which no transition allows", from, to)
		}
	}
	require.NotZero(t, pairs)
}

func moves(from, to ims.Status) bool {
	for _, tr := range ims.Transitions {
		if tr.Allows(from) && tr.To == to {
			return true
		}
	}
	return false
}

func TestOutcomeTransition(t *testing.T) {
	t.Parallel()
	for s, want := range map[ims.Status]ims.Transition{
		ims.StatusSent: ims.TransitionSent, ims.StatusPending: ims.TransitionRetry, ims.StatusDead: ims.TransitionDead,
	} {
		got, err := ims.OutcomeTransition(s)
		require.NoError(t, err)
		require.Equal(t, want, got)
		require.Equal(t, ims.OutcomeFrom, got.From, "one guard serves a whole batch of outcomes")
	}
	for _, s := range []ims.Status{ims.StatusSending, ims.StatusCanceled, "", "bogus"} {
		_, err := ims.OutcomeTransition(s)
		require.Equal(t, ims.EINVALID, ims.ErrorCode(err), "%q", s)
	}
	// Whatever the retry policy decides is an outcome.
	p := ims.RetryPolicy{MaxRetries: 1, BaseDelay: time.Second, MaxDelay: time.Minute}
	for _, r := range []ims.DeliveryResult{{StatusCode: 202}, {StatusCode: 500}, {StatusCode: 400}, {Err: "timeout"}} {
		for attempt := 1; attempt <= 3; attempt++ {
			_, err := ims.OutcomeTransition(p.Decide(attempt, r, time.Now(), 0).Status)
			require.NoError(t, err)
		}
	}
}

func TestPlanOutcome(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	next := at.Add(time.Minute)

	sent, err := ims.PlanOutcome(ims.Outcome{At: at, Decision: ims.Decision{Status: ims.StatusSent, Reason: "delivered"},
		Result: ims.DeliveryResult{StatusCode: 202, ProviderMessageID: "p1"}})
	require.NoError(t, err)
	require.Equal(t, ims.TransitionSent, sent.Transition)
	require.True(t, sent.SetSent)
	require.False(t, sent.SetNextAttempt)
	require.Empty(t, sent.LastError)
	require.Equal(t, "delivered (HTTP 202)", sent.Details)

	retry, err := ims.PlanOutcome(ims.Outcome{At: at, Decision: ims.Decision{Status: ims.StatusPending, NextAttemptAt: next,
		Reason: "retry scheduled: timeout"}, Result: ims.DeliveryResult{Err: "timeout"}})
	require.NoError(t, err)
	require.Equal(t, ims.TransitionRetry, retry.Transition)
	require.True(t, retry.SetNextAttempt)
	require.Equal(t, next, retry.NextAttemptAt)
	require.False(t, retry.SetSent)
	require.Equal(t, "timeout", retry.LastError)
	require.Equal(t, "retry scheduled: timeout", retry.Details, "no answer, no HTTP status")

	dead, err := ims.PlanOutcome(ims.Outcome{At: at, Decision: ims.Decision{Status: ims.StatusDead, Reason: "permanent failure"},
		Result: ims.DeliveryResult{StatusCode: 404}})
	require.NoError(t, err)
	require.Equal(t, ims.TransitionDead, dead.Transition)
	require.False(t, dead.SetNextAttempt)
	require.False(t, dead.SetSent)
	require.Equal(t, "webhook answered HTTP 404", dead.LastError)
	require.Equal(t, "permanent failure (HTTP 404)", dead.Details)

	_, err = ims.PlanOutcome(ims.Outcome{Decision: ims.Decision{Status: ims.StatusCanceled}})
	require.Equal(t, ims.EINVALID, ims.ErrorCode(err))
}

func TestTransitionTexts(t *testing.T) {
	t.Parallel()
	require.Equal(t, "attempt 3", ims.TransitionClaim.DetailsFor(3))
	require.Equal(t, "attempt 12 released", ims.TransitionRelease.DetailsFor(12))
	require.Equal(t, "", ims.TransitionCancel.DetailsFor(1))

	err := ims.TransitionCancel.Refuse(ims.StatusSent)
	require.Equal(t, ims.ECONFLICT, ims.ErrorCode(err))
	require.Equal(t, "message is sent, only pending messages can be canceled", ims.ErrorMessage(err))
	require.Equal(t, "message is pending, only dead messages can be replayed",
		ims.ErrorMessage(ims.TransitionReplay.Refuse(ims.StatusPending)))

	at := time.Date(2030, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600))
	require.Equal(t, "send_at 2030-01-02T02:04:05.0000006Z", ims.CreatedDetails(&at))
	require.Equal(t, "", ims.CreatedDetails(nil))
}

func TestReplayLimit(t *testing.T) {
	t.Parallel()
	require.Equal(t, ims.DefaultReplayLimit, ims.ReplayLimit(0))
	require.Equal(t, ims.DefaultReplayLimit, ims.ReplayLimit(-5))
	require.Equal(t, 7, ims.ReplayLimit(7))
	require.Equal(t, 5000, ims.ReplayLimit(5000), "an explicit limit is the caller's")
}

func TestMessageFilterValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, ims.MessageFilter{}.Validate())
	for _, s := range ims.Statuses {
		require.NoError(t, ims.MessageFilter{Status: s}.Validate())
	}
	err := ims.MessageFilter{Status: "bogus"}.Validate()
	require.Equal(t, ims.EINVALID, ims.ErrorCode(err))
}

func TestSchedulerEvent(t *testing.T) {
	t.Parallel()
	require.Equal(t, ims.EventSchedulerStarted, ims.SchedulerEvent(true))
	require.Equal(t, ims.EventSchedulerStopped, ims.SchedulerEvent(false))
}

func TestPurgeable(t *testing.T) {
	t.Parallel()
	for _, s := range ims.Statuses {
		require.Equal(t, s.Final(), ims.Purgeable(s), "%s: exactly the final statuses are purged", s)
	}
	require.False(t, ims.Purgeable("bogus"))
}

func contains(list []ims.Status, s ims.Status) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
