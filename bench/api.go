package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// apiTimeout bounds one API call; a bulk insert of 1000 rows on a loaded
// machine stays far below it.
const apiTimeout = 60 * time.Second

// apiClient calls the IMS API with the bench's key, over a keep-alive pool
// as large as the number of concurrent callers.
type apiClient struct {
	base string
	http *http.Client
}

func newAPIClient(base string, conns int) *apiClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns
	tr.MaxIdleConnsPerHost = conns
	return &apiClient{base: base, http: &http.Client{Transport: tr, Timeout: apiTimeout}}
}

func (c *apiClient) close() { c.http.CloseIdleConnections() }

// post sends body to path and decodes a 2xx answer into out. Any other
// answer is an error carrying the status and the start of the body.
func (c *apiClient) post(ctx context.Context, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+benchAPIKey)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("POST %s: HTTP %d: %s", path, resp.StatusCode, bytes.TrimSpace(snippet))
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("POST %s: decode answer: %w", path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body) // let the connection be reused
	return nil
}

// control starts or stops the scheduler (the state is shared by the fleet
// and kept in the database, so this is how an operator does it too).
func (c *apiClient) control(ctx context.Context, action string) error {
	return c.post(ctx, "/api/control", []byte(`{"action":"`+action+`"}`), nil)
}

// messageBody is the JSON of message i. Built by hand: on a 2-core machine
// every microsecond the load generator spends is taken from IMS.
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
