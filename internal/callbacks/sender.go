package callbacks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/webhook"
)

// HTTPSender POSTs callbacks as JSON, signed per Standard Webhooks when it
// has a secret. It has its own http.Client and connection pool: none of the
// webhook client's.
type HTTPSender struct {
	client *http.Client
	signer *webhook.Signer // nil: unsigned
	now    func() time.Time
}

// NewHTTPSender returns a sender; secret is STATUS_CALLBACK_SECRET ("" for
// unsigned callbacks).
func NewHTTPSender(secret string, timeout time.Duration) (*HTTPSender, error) {
	s := &HTTPSender{now: time.Now, client: &http.Client{
		Timeout: timeout,
		// A receiver's redirect is not followed: the body and signature
		// are for the URL configured, and a redirect is an error to fix.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, MaxIdleConns: 16, MaxIdleConnsPerHost: 8,
			IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second,
		},
	}}
	if secret != "" {
		signer, err := webhook.NewSigner(secret)
		if err != nil {
			return nil, fmt.Errorf("STATUS_CALLBACK_SECRET: %w", err)
		}
		s.signer = signer
	}
	return s, nil
}

// Close drops idle connections.
func (s *HTTPSender) Close() { s.client.CloseIdleConnections() }

// maxDrain bounds what is read of an answer, so the connection can be reused.
const maxDrain = 4 << 10

// Send POSTs c; any 2xx is success.
func (s *HTTPSender) Send(ctx context.Context, c ims.Callback) error {
	body, err := c.Payload()
	if err != nil {
		return fmt.Errorf("encode callback: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return errors.New("bad callback url") // the URL may hold a token: not quoted
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ims-status-callback")
	id := c.WebhookID()
	req.Header.Set("webhook-id", id)
	if s.signer != nil {
		ts := s.now().Unix()
		req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
		req.Header.Set("webhook-signature", s.signer.Sign(id, ts, body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return callError(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// callError names a failed call without the URL (it may hold a token).
func callError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return errors.New("timeout")
		}
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("timeout")
	}
	return fmt.Errorf("call failed: %w", err)
}
