package rabbitmq

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/insiderone/ims"
)

const contentType = "application/json"

// wireClaim is the body of a queue entry (see the package documentation). It
// is its own type so that the wire format does not change with ims.Claim.
type wireClaim struct {
	MessageID  string    `json:"message_id"`
	Attempt    *int      `json:"attempt"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
}

// EncodeClaim returns the body of the queue entry for c.
func EncodeClaim(c ims.Claim) ([]byte, error) {
	b, err := json.Marshal(wireClaim{MessageID: c.MessageID, Attempt: &c.Attempt, LeaseUntil: c.LeaseUntil})
	if err != nil {
		return nil, fmt.Errorf("encode claim %s: %w", c.MessageID, err)
	}
	return b, nil
}

// DecodeClaim parses a queue entry's body. Its error says what is wrong, for
// the dead-letter log.
func DecodeClaim(body []byte) (ims.Claim, error) {
	var w wireClaim
	if err := json.Unmarshal(body, &w); err != nil {
		return ims.Claim{}, fmt.Errorf("decode claim: %w", err)
	}
	switch {
	case w.MessageID == "":
		return ims.Claim{}, errors.New("decode claim: message_id is missing")
	case w.Attempt == nil:
		return ims.Claim{}, errors.New("decode claim: attempt is missing")
	case *w.Attempt < 0:
		return ims.Claim{}, fmt.Errorf("decode claim: attempt %d is negative", *w.Attempt)
	}
	return ims.Claim{MessageID: w.MessageID, Attempt: *w.Attempt, LeaseUntil: w.LeaseUntil}, nil
}
