package webhook

// Signer signs requests per Standard Webhooks for other senders than the
// webhook client (the status callbacks), with the same secret rules:
// "whsec_" + base64 is the spec's form, anything else is the key's bytes.
type Signer struct{ s *signer }

// NewSigner parses secret. Its error never quotes the secret.
func NewSigner(secret string) (*Signer, error) {
	s, err := newSigner(secret)
	if err != nil {
		return nil, err
	}
	return &Signer{s: s}, nil
}

// Sign returns the webhook-signature header value for id, timestamp (unix
// seconds) and body: "v1," + base64(HMAC-SHA256(key, id.timestamp.body)).
func (s *Signer) Sign(id string, timestamp int64, body []byte) string {
	return s.s.sign(id, timestamp, body)
}
