package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"strconv"
	"strings"
	"sync"
)

// signer produces Standard Webhooks signatures
// (https://www.standardwebhooks.com): v1,base64(HMAC-SHA256(key, id.ts.body)).
type signer struct {
	// macs recycles HMAC states: hmac.New allocates the inner and outer
	// hashes, and signing runs once per delivery.
	macs sync.Pool
}

// secretPrefix marks a secret in the spec's format, whose key is the
// base64 text that follows it.
const secretPrefix = "whsec_"

func newSigner(secret string) (*signer, error) {
	key := []byte(secret)
	if rest, ok := strings.CutPrefix(secret, secretPrefix); ok {
		decoded, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			// The error text is not wrapped: it could quote secret bytes.
			return nil, errors.New("signing secret: text after whsec_ is not valid base64")
		}
		key = decoded
	}
	if len(key) == 0 {
		return nil, errors.New("signing secret: empty key")
	}
	s := &signer{}
	s.macs.New = func() any { return hmac.New(sha256.New, key) }
	return s, nil
}

// sign returns the webhook-signature header value for one request.
func (s *signer) sign(id string, timestamp int64, body []byte) string {
	mac := s.macs.Get().(hash.Hash)
	defer s.macs.Put(mac)
	mac.Reset()

	var scratch [sha256.Size + 24]byte
	head := append(scratch[:0], id...)
	head = append(head, '.')
	head = strconv.AppendInt(head, timestamp, 10)
	head = append(head, '.')
	mac.Write(head)
	mac.Write(body)
	sum := mac.Sum(scratch[:0])

	const prefix = "v1,"
	out := make([]byte, len(prefix)+base64.StdEncoding.EncodedLen(len(sum)))
	copy(out, prefix)
	base64.StdEncoding.Encode(out[len(prefix):], sum)
	return string(out)
}
