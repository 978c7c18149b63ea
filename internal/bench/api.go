package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/insiderone/ims/client"
)

// apiTimeout bounds one API call; a bulk insert of 1000 rows on a loaded
// machine stays far below it.
const apiTimeout = 60 * time.Second

// newAPIClient is the IMS client of a run, with the bench's key, over a
// keep-alive pool as large as the number of concurrent callers. closeIdle
// releases its idle connections.
func newAPIClient(base string, conns int) (c *client.Client, closeIdle func(), err error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns
	tr.MaxIdleConnsPerHost = conns
	hc := &http.Client{Transport: tr, Timeout: apiTimeout}
	c, err = client.New(base, client.WithAPIKey(benchAPIKey), client.WithHTTPClient(hc))
	if err != nil {
		return nil, nil, fmt.Errorf("bench: API client: %w", err)
	}
	return c, hc.CloseIdleConnections, nil
}

// The create bodies are built by hand and sent through client.Do, which
// decodes only the ids: on a 2-core machine every microsecond the load
// generator spends is taken from IMS.

// messageBody is the JSON of message i.
func messageBody(dst []byte, i int) []byte {
	dst = append(dst, `{"phone_number":"+9055`...)
	dst = fmt.Appendf(dst, "%08d", i%100_000_000)
	dst = append(dst, `","content":"bench message `...)
	dst = fmt.Appendf(dst, "%d", i)
	return append(dst, `"}`...)
}

// batchBody is the JSON of messages [from, to) for POST /api/messages/batch.
func batchBody(from, to int) []byte {
	b := make([]byte, 0, (to-from)*64+16)
	b = append(b, `{"messages":[`...)
	for i := from; i < to; i++ {
		if i > from {
			b = append(b, ',')
		}
		b = messageBody(b, i)
	}
	return append(b, "]}"...)
}

type createdMessage struct {
	ID string `json:"id"`
}

type createdBatch struct {
	Messages []createdMessage `json:"messages"`
}

// createOne posts message i and returns its id.
func createOne(ctx context.Context, c *client.Client, i int) (string, error) {
	var out createdMessage
	if err := c.Do(ctx, http.MethodPost, "/api/messages", messageBody(make([]byte, 0, 96), i), &out); err != nil {
		return "", fmt.Errorf("POST /api/messages: %w", err)
	}
	return out.ID, nil
}

// createBatch posts messages [from, to) in one request and returns their
// ids in order.
func createBatch(ctx context.Context, c *client.Client, from, to int) ([]createdMessage, error) {
	var out createdBatch
	if err := c.Do(ctx, http.MethodPost, "/api/messages/batch", batchBody(from, to), &out); err != nil {
		return nil, fmt.Errorf("POST /api/messages/batch: %w", err)
	}
	return out.Messages, nil
}
