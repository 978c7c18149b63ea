// Package webhook delivers messages to the provider's HTTP endpoint: the
// request IMS sends (see the webhook contract in DESIGN.md) and the reading
// of its answer into an ims.DeliveryResult for the retry policy to judge.
package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/insiderone/ims"
)

// Defaults for the zero values of Config.
const (
	DefaultTimeout             = 30 * time.Second
	DefaultMaxResponseBytes    = 64 << 10
	DefaultMaxIdleConnsPerHost = 256
)

// drainBytes is how much of an answer beyond MaxResponseBytes is read and
// discarded so that the connection can be reused; past it the connection is
// closed instead, since reading a huge body costs more than a new dial.
const drainBytes = 256 << 10

// Config configures a Client.
type Config struct {
	// URL is the webhook endpoint: an absolute http or https URL. Its
	// userinfo and query may hold tokens; they are never put in error text.
	URL string
	// AuthKey is sent as x-ins-auth-key; the header is left out when empty.
	AuthKey string
	// Timeout bounds one attempt, from dialing to reading the answer.
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// SigningSecret, when set, signs every request per Standard Webhooks.
	// A "whsec_" prefix marks a base64 key, as in the spec.
	SigningSecret string
	// MaxResponseBytes caps how much of an answer is read. Zero means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// MaxIdleConnsPerHost is how many keep-alive connections are pooled;
	// set it to at least the number of concurrent deliveries. Zero means
	// DefaultMaxIdleConnsPerHost.
	MaxIdleConnsPerHost int
}

// Client sends messages to one webhook endpoint. It implements ims.Webhook
// and is safe for concurrent use.
type Client struct {
	target      *url.URL // parsed once; shared read-only by every request
	safeURL     string   // scheme://host/path, for error text
	timeout     time.Duration
	maxResponse int64
	redactor    redactor
	signer      *signer // nil when unsigned
	transport   *http.Transport
	roundTrip   http.RoundTripper // the transport; a test may put a fake here
	now         func() time.Time  // signing timestamp and HTTP-date Retry-After

	// Header values shared by every request; net/http only reads them.
	contentType []string
	authKey     []string
	basicAuth   []string // from the URL's userinfo, as http.Client would send it

	readers sync.Pool // *answerReader
}

var _ ims.Webhook = (*Client)(nil)

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	u, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if err := validateConfig(cfg); err != nil {
		return nil, err
	}
	c := &Client{
		target:      u,
		safeURL:     safeURL(u),
		timeout:     durationOrDefault(cfg.Timeout, DefaultTimeout),
		maxResponse: cfg.MaxResponseBytes,
		redactor:    newRedactor(u, cfg),
		now:         time.Now,
		contentType: []string{"application/json"},
	}
	if c.maxResponse == 0 {
		c.maxResponse = DefaultMaxResponseBytes
	}
	if cfg.AuthKey != "" {
		c.authKey = []string{cfg.AuthKey}
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		c.basicAuth = []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass))}
	}
	if cfg.SigningSecret != "" {
		if c.signer, err = newSigner(cfg.SigningSecret); err != nil {
			return nil, err
		}
	}
	perHost := cfg.MaxIdleConnsPerHost
	if perHost == 0 {
		perHost = DefaultMaxIdleConnsPerHost
	}
	c.transport = newTransport(c.timeout, perHost)
	c.roundTrip = c.transport
	c.readers.New = func() any { return new(answerReader) }
	return c, nil
}

func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// The parse error quotes the URL, which may hold a token.
		return nil, errors.New("webhook URL is not a valid URL (not shown: it may hold a token)")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("webhook URL must be an absolute http:// or https:// URL")
	}
	if u.Host == "" {
		return nil, errors.New("webhook URL has no host")
	}
	return u, nil
}

func validateConfig(cfg Config) error {
	switch {
	case cfg.Timeout < 0:
		return errors.New("webhook timeout must not be negative")
	case cfg.MaxResponseBytes < 0:
		return errors.New("webhook max response bytes must not be negative")
	case cfg.MaxIdleConnsPerHost < 0:
		return errors.New("webhook max idle connections per host must not be negative")
	case !validHeaderValue(cfg.AuthKey):
		return errors.New("webhook auth key contains a control character")
	}
	return nil
}

// validHeaderValue rejects what net/http would refuse on every request, so
// that a bad key fails at start-up instead of on each delivery.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 && b != '\t' || b == 0x7f {
			return false
		}
	}
	return true
}

func newTransport(timeout time.Duration, perHost int) *http.Transport {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            dialWire(dialer.DialContext),
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           perHost, // one endpoint: the per-host pool is the whole pool
		MaxIdleConnsPerHost:    perHost,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

func durationOrDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Close closes idle keep-alive connections. Deliveries in flight finish.
func (c *Client) Close() error {
	c.transport.CloseIdleConnections()
	return nil
}

// Deliver sends m once and describes what happened. It never returns an
// error: failures are in the result, for the retry policy to judge.
//
// It calls the transport itself rather than an http.Client: the client's
// redirect machinery copies the headers and the URL of every request, and
// IMS follows no redirect anyway (a redirect is the provider's answer, not
// an instruction: following it would resend the message and the auth key
// somewhere else). What http.Client would add, Basic auth from the URL's
// userinfo, is added here.
func (c *Client) Deliver(ctx context.Context, m ims.Message) ims.DeliveryResult {
	reqCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if sent := ims.RequestSentHook(ctx); sent != nil {
		reqCtx = withSentTrace(reqCtx, sent)
	}
	req := c.newRequest(reqCtx, m)

	start := time.Now()
	resp, err := c.roundTrip.RoundTrip(req)
	if err != nil {
		return ims.DeliveryResult{Latency: time.Since(start), Err: c.errorText(ctx, err)}
	}
	res := c.readResponse(resp)
	res.Latency = time.Since(start)
	return res
}

// outgoing is one request's own memory in one allocation: the body and its
// reader, and the header values that differ per request. The body goes to
// the transport as io.NopCloser of a *bytes.Reader, a reader net/http knows
// to be in memory: it then writes headers and body in one write instead of
// flushing the headers first (two syscalls per request, measured). It is
// deliberately not pooled: the transport may still read the body after RoundTrip returns
// (an early answer) and may replay it (GetBody) on a dead keep-alive
// connection.
type outgoing struct {
	body   []byte
	reader bytes.Reader
	values [4]string // Idempotency-Key, webhook-id, webhook-timestamp, webhook-signature
}

// replay gives the transport a fresh reader of the same body.
func (o *outgoing) replay() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(o.body)), nil
}

func (c *Client) newRequest(ctx context.Context, m ims.Message) *http.Request {
	o := &outgoing{}
	o.body = appendBody(make([]byte, 0, bodySize(m.PhoneNumber, m.Content)), m.PhoneNumber, m.Content)
	o.reader.Reset(o.body)
	req := &http.Request{
		Method:        http.MethodPost,
		URL:           c.target,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header, 8),
		Body:          io.NopCloser(&o.reader),
		GetBody:       o.replay,
		ContentLength: int64(len(o.body)),
		Host:          c.target.Host,
	}
	c.setHeaders(req.Header, m.ID, o)
	return req.WithContext(ctx)
}

// setHeaders writes the contract's headers. Keys are set in the map as the
// contract spells them (HTTP/1.1 sends map keys as they are): header names
// are case-insensitive, but a provider that is not should still match.
func (c *Client) setHeaders(h http.Header, id string, o *outgoing) {
	h["Content-Type"] = c.contentType
	if c.authKey != nil {
		h["x-ins-auth-key"] = c.authKey
	}
	if c.basicAuth != nil {
		h["Authorization"] = c.basicAuth
	}
	if id == "" {
		return
	}
	v := o.values[:]
	// Canonical spelling on purpose: net/http looks this key up to treat
	// the POST as idempotent and retry it on a stale keep-alive connection.
	v[0] = id
	h["Idempotency-Key"] = v[0:1:1]
	if c.signer != nil {
		ts := c.now().Unix()
		v[1], v[2], v[3] = id, strconv.FormatInt(ts, 10), c.signer.sign(id, ts, o.body)
		h["webhook-id"] = v[1:2:2]
		h["webhook-timestamp"] = v[2:3:3]
		h["webhook-signature"] = v[3:4:4]
	}
}

// answerReader is what reading one answer needs, pooled: the buffer and the
// limit around the body.
type answerReader struct {
	buf   bytes.Buffer
	limit io.LimitedReader
}

// readResponse reads up to maxResponse bytes of the answer, then drains and
// closes the body so that the keep-alive connection goes back to the pool.
func (c *Client) readResponse(resp *http.Response) ims.DeliveryResult {
	ar := c.readers.Get().(*answerReader)
	defer c.putReader(ar)
	ar.buf.Reset()

	// A read error (the timeout striking mid-body, a reset) is ignored on
	// purpose: the status line has arrived, and it is what decides the
	// outcome; the partial body still gives a snippet.
	ar.limit = io.LimitedReader{R: resp.Body, N: c.maxResponse}
	_, _ = ar.buf.ReadFrom(&ar.limit)
	ar.limit = io.LimitedReader{R: resp.Body, N: drainBytes}
	_, _ = io.Copy(io.Discard, &ar.limit)
	ar.limit.R = nil
	_ = resp.Body.Close()

	body := ar.buf.Bytes()
	res := ims.DeliveryResult{StatusCode: resp.StatusCode, Response: snippet(body)}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		res.ProviderMessageID = providerMessageIDIn(body, res.Response)
	case honoursRetryAfter(resp.StatusCode):
		res.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), c.now())
	}
	return res
}

// putReader recycles a reader unless an oversized answer grew its buffer:
// pooling that would pin the memory for every later small answer.
func (c *Client) putReader(ar *answerReader) {
	if ar.buf.Cap() <= 2*DefaultMaxResponseBytes {
		c.readers.Put(ar)
	}
}
