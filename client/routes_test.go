package client_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/client"
)

// notJSONAPI are the served paths that are not the JSON API, so the client
// leaves them to browsers and Prometheus.
var notJSONAPI = map[string]bool{"/": true, "/api/docs": true, "/api/docs/{file}": true, "/metrics": true,
	"/console/{file}": true, "/api/console/stream": true}

// TestEveryRouteHasAMethod calls every method once and checks that together
// they reach every operation of the server's OpenAPI document (which a test
// of the http package holds true to the route table). A route added to the
// server without a client method fails here.
func TestEveryRouteHasAMethod(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m := b.create(t, "one")
	dead := b.create(t, "two")
	b.finishAll(t, ims.StatusDead, ims.DeliveryResult{StatusCode: 400})
	calls := []func() error{
		func() error { _, err := b.c.Health(ctx); return err },
		func() error { _, err := b.c.Stats(ctx); return err },
		func() error { _, err := b.c.Console(ctx); return err },
		func() error {
			_, err := b.c.CreateBatch(ctx, []client.NewMessage{{PhoneNumber: "+905551234567", Content: "x"}}, "")
			return err
		},
		func() error { _, err := b.c.ListMessages(ctx, client.MessageFilter{}); return err },
		func() error { _, err := b.c.ListSent(ctx, client.MessageFilter{}); return err },
		func() error { _, err := b.c.ListDeadLetters(ctx, client.MessageFilter{}); return err },
		func() error { _, err := b.c.GetMessage(ctx, m.ID); return err },
		func() error { _, err := b.c.ReplayMessage(ctx, dead.ID); return err },
		func() error { _, err := b.c.ReplayDeadLetters(ctx, 0); return err },
		func() error { _, err := b.c.CancelMessage(ctx, m.ID); return err },
		func() error { _, err := b.c.ControlStatus(ctx); return err },
		func() error { _, err := b.c.Stop(ctx); return err },
		func() error { _, err := b.c.ListAudit(ctx, client.AuditFilter{}); return err },
		func() error {
			_, err := b.c.DeliveryReports(ctx, dlrKey, []client.DeliveryReport{{MessageID: "p-1", Status: "delivered"}})
			return err
		},
	}
	for i, call := range calls {
		require.NoError(t, call(), "call %d", i)
	}
	doc, err := b.c.OpenAPI(ctx)
	require.NoError(t, err)

	var spec struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(doc, &spec))
	require.NotEmpty(t, spec.Paths)
	reqs := b.rec.all()
	for path, ops := range spec.Paths {
		if notJSONAPI[path] {
			continue
		}
		re := pathPattern(path)
		for method := range ops {
			found := false
			for _, r := range reqs {
				if strings.EqualFold(r.Method, method) && re.MatchString(r.URL.Path) {
					found = true
					break
				}
			}
			require.True(t, found, "no client method calls %s %s", strings.ToUpper(method), path)
		}
	}
}

// pathPattern matches the paths of an OpenAPI path template.
func pathPattern(template string) *regexp.Regexp {
	segs := strings.Split(template, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "[^/]+"
		} else {
			segs[i] = regexp.QuoteMeta(s)
		}
	}
	return regexp.MustCompile("^" + strings.Join(segs, "/") + "$")
}
