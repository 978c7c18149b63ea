package webhook

import (
	"context"
	"errors"
	"net"
	"net/url"
	"sort"
	"strings"
)

// redacted replaces a secret found in error text.
const redacted = "[redacted]"

// minSecretLen keeps very short query values ("1", "en") from being
// redacted everywhere they happen to occur in an error message.
const minSecretLen = 3

// safeURL returns scheme://host/path: the userinfo and the query of a
// webhook URL commonly carry tokens, and error text ends up in the database,
// the API and the logs.
func safeURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// redactor scrubs known secrets from error text. net/http errors quote the
// URL (with its query) and some wrapped errors may quote more, so rather
// than trusting every error type the client removes each secret it knows.
type redactor struct {
	secrets []string // longest first, so a secret inside another is not left half-replaced
}

func newRedactor(u *url.URL, cfg Config) redactor {
	secrets := []string{u.String(), u.RawQuery, cfg.AuthKey, cfg.SigningSecret}
	if u.User != nil {
		secrets = append(secrets, u.User.String(), u.User.Username())
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		}
	}
	for _, vals := range u.Query() {
		secrets = append(secrets, vals...)
		for _, v := range vals {
			secrets = append(secrets, url.QueryEscape(v))
		}
	}
	kept := secrets[:0]
	for _, s := range secrets {
		if len(s) >= minSecretLen {
			kept = append(kept, s)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return len(kept[i]) > len(kept[j]) })
	return redactor{secrets: kept}
}

func (r redactor) redact(s string) string {
	for _, secret := range r.secrets {
		if strings.Contains(s, secret) {
			s = strings.ReplaceAll(s, secret, redacted)
		}
	}
	return s
}

// errorText describes a failed request without secrets. parent is the
// caller's context: when it ended first the call was canceled, not timed out.
func (c *Client) errorText(parent context.Context, err error) string {
	prefix := "webhook request to " + c.safeURL
	if perr := parent.Err(); perr != nil {
		return prefix + " canceled: " + perr.Error()
	}
	if isTimeout(err) {
		return prefix + " timed out after " + c.timeout.String()
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // its text repeats the full URL
	}
	return prefix + " failed: " + c.redactor.redact(err.Error())
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var nerr net.Error
	return errors.As(err, &nerr) && nerr.Timeout()
}
