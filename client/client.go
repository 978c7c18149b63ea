package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout bounds each call of a Client built without WithHTTPClient.
// Every method also honours its context, which is the finer tool.
const DefaultTimeout = 30 * time.Second

// DefaultUserAgent is sent unless WithUserAgent says otherwise.
const DefaultUserAgent = "ims-go-client"

// maxResponseBytes bounds how much of an answer is read. The largest answer
// is a page of 1000 messages (well under 2 MiB), so more means something
// other than IMS is answering.
const maxResponseBytes = 8 << 20

// maxDrainBytes is how much of an unread body is drained so that its
// connection can be reused; past that, closing the connection is cheaper.
const maxDrainBytes = 64 << 10

// Client calls the IMS API. It is safe for concurrent use; build it once and
// share it.
type Client struct {
	base      string // scheme://host[/prefix], without a trailing slash
	apiKey    string
	userAgent string
	http      *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithAPIKey sets the API key sent as "Authorization: Bearer <key>". Every
// route but health and the OpenAPI document requires it.
func WithAPIKey(key string) Option {
	return func(c *Client) { c.apiKey = key }
}

// WithHTTPClient makes the client send its requests through hc, e.g. one with
// its own transport, timeout or test hooks.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http = hc }
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// New returns a client of the IMS at baseURL, e.g. "http://127.0.0.1:8080".
// A path in baseURL is kept as a prefix, for an IMS behind a reverse proxy.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ims client: base URL %q must be an absolute http or https URL", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("ims client: base URL %q must not have a query or fragment", baseURL)
	}
	c := &Client{
		base:      strings.TrimSuffix(u.String(), "/"),
		userAgent: DefaultUserAgent,
		http:      &http.Client{Timeout: DefaultTimeout},
	}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		return nil, errors.New("ims client: WithHTTPClient needs a non-nil *http.Client")
	}
	// Checked here rather than left to net/http so that the error is clear;
	// it never quotes the key.
	if !validHeaderValue(c.apiKey) {
		return nil, errors.New("ims client: the API key holds characters a header cannot carry")
	}
	if !validHeaderValue(c.userAgent) {
		return nil, errors.New("ims client: the user agent holds characters a header cannot carry")
	}
	return c, nil
}

// validHeaderValue rejects control characters, which would end the header.
func validHeaderValue(s string) bool {
	for _, r := range s {
		if r < ' ' && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}

// call is one request to the API.
type call struct {
	method string
	path   string // already escaped
	query  url.Values
	body   any // sent as JSON when non-nil; a json.RawMessage is sent as it is
	header http.Header
}

// response is what a call got back, its body read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

// send performs c and reads its answer, whatever the status. Errors are
// transport errors (or a body over the limit), wrapped with method and path.
func (c *Client) send(ctx context.Context, cl call) (response, error) {
	var body io.Reader
	switch b := cl.body.(type) {
	case nil:
	case json.RawMessage:
		body = bytes.NewReader(b) // Do: the caller encoded it, and pays for no second pass
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return response{}, fmt.Errorf("%s %s: encode request: %w", cl.method, cl.path, err)
		}
		body = bytes.NewReader(raw)
	}
	target := c.base + cl.path
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, target, body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", cl.method, cl.path, err)
	}
	for k, vs := range cl.header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}

	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error repeats the method and the full URL; keep the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return response{}, fmt.Errorf("%s %s: %w", cl.method, cl.path, err)
	}
	defer func() {
		// Drain what is left so that the connection goes back to the pool.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainBytes))
		_ = resp.Body.Close()
	}()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return response{}, fmt.Errorf("%s %s: read response: %w", cl.method, cl.path, err)
	}
	if len(raw) > maxResponseBytes {
		return response{}, fmt.Errorf("%s %s: response is larger than %d bytes", cl.method, cl.path, maxResponseBytes)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// do performs cl and decodes a 2xx answer into out (unless out is nil). Any
// other status is returned as an *ims.Error.
func (c *Client) do(ctx context.Context, cl call, out any) (response, error) {
	resp, err := c.send(ctx, cl)
	if err != nil {
		return resp, err
	}
	if resp.status < 200 || resp.status > 299 {
		return resp, responseError(cl, resp)
	}
	if out != nil {
		if err := json.Unmarshal(resp.body, out); err != nil {
			return resp, decodeError(cl, err)
		}
	}
	return resp, nil
}

// Do sends one request to path (e.g. "/api/messages", under the base URL's
// prefix) with body, JSON the caller has encoded (nil: no body), and decodes
// a 2xx answer into out (nil: the answer is read and dropped). Any other
// status is an *ims.Error, as from every method.
//
// The typed methods are the way to call IMS. Do is for a caller whose own
// encoding is the point: a load generator that builds request bodies by hand
// and decodes only the fields it needs, because on a small machine every
// microsecond it spends is taken from the server it measures.
func (c *Client) Do(ctx context.Context, method, path string, body []byte, out any) error {
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("ims client: path %q must start with /", path)
	}
	cl := call{method: method, path: path}
	if body != nil {
		cl.body = json.RawMessage(body)
	}
	_, err := c.do(ctx, cl, out)
	return err
}

// decodeError reports a 2xx answer that is not the JSON expected.
func decodeError(cl call, err error) error {
	return fmt.Errorf("%s %s: decode response: %w", cl.method, cl.path, err)
}
