package rabbitmq

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/insiderone/ims"
)

// contentType marks an entry in the claims format (version 1, below). An
// entry queued by an instance from before it is a single JSON claim
// (legacyContentType); DecodeEntry reads both, so a rolling upgrade drops
// nothing an older instance queued.
const (
	contentType       = "application/vnd.ims.claims"
	legacyContentType = "application/json"
)

// entryVersion is the first byte of an entry in the claims format. A JSON
// body starts with '{' (or white space), never with it.
const entryVersion = 1

// maxClaimsPerEntry bounds the claims one entry carries. The broker's work
// is per entry, not per byte (a quorum queue logs, confirms, delivers and
// settles each entry: ~30 µs of broker CPU for one claim, ~45 µs for 32), so
// packing a published batch cuts its cost per claim by about this factor.
// The entry is acked once all of its claims are handled, so a slow call
// holds the broker's window for the whole entry: 16 is the prefetch's
// default (1024) over the default webhook concurrency (64), which keeps the
// number of slow calls that can stall a consumer at what already stalls its
// workers.
const maxClaimsPerEntry = 16

// wireClaim is the body of a legacy queue entry. It is its own type so that
// the wire format does not change with ims.Claim.
type wireClaim struct {
	MessageID  string    `json:"message_id"`
	Attempt    *int      `json:"attempt"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
}

// EncodeClaim returns the body of a legacy (JSON, one claim) queue entry for
// c, the format of instances from before the claims format.
func EncodeClaim(c ims.Claim) ([]byte, error) {
	b, err := json.Marshal(wireClaim{MessageID: c.MessageID, Attempt: &c.Attempt, LeaseUntil: c.LeaseUntil})
	if err != nil {
		return nil, fmt.Errorf("encode claim %s: %w", c.MessageID, err)
	}
	return b, nil
}

// DecodeClaim parses a legacy queue entry's body. Its error says what is
// wrong, for the dead-letter log.
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

// AppendEntry appends the body of one queue entry carrying claims, in the
// claims format: the version byte, the number of claims, then for each the
// message id's length and bytes, the attempt, and the lease deadline in Unix
// nanoseconds (0: none), all as varints.
func AppendEntry(dst []byte, claims []ims.Claim) ([]byte, error) {
	if len(claims) == 0 {
		return dst, errors.New("encode entry: no claims")
	}
	dst = append(dst, entryVersion)
	dst = binary.AppendUvarint(dst, uint64(len(claims)))
	for _, c := range claims {
		switch {
		case c.MessageID == "":
			return dst, errors.New("encode entry: a claim has no message id")
		case c.Attempt < 0:
			return dst, fmt.Errorf("encode entry: claim %s: attempt %d is negative", c.MessageID, c.Attempt)
		}
		dst = binary.AppendUvarint(dst, uint64(len(c.MessageID)))
		dst = append(dst, c.MessageID...)
		dst = binary.AppendUvarint(dst, uint64(c.Attempt))
		var lease int64
		if !c.LeaseUntil.IsZero() {
			lease = c.LeaseUntil.UnixNano()
		}
		dst = binary.AppendVarint(dst, lease)
	}
	return dst, nil
}

// DecodeEntry parses a queue entry's body, in the claims format or the
// legacy one. Its error says what is wrong, for the dead-letter log.
func DecodeEntry(body []byte) ([]ims.Claim, error) {
	if len(body) == 0 || body[0] != entryVersion {
		c, err := DecodeClaim(body)
		if err != nil {
			return nil, err
		}
		return []ims.Claim{c}, nil
	}
	r := entryReader{rest: body[1:], ids: string(body)}
	n := r.uvarint()
	// Each claim takes at least three bytes, which bounds the allocation
	// below by the body's size.
	if r.err == nil && (n == 0 || n > uint64(len(r.rest))/3) {
		return nil, fmt.Errorf("decode entry: %d claims in %d bytes", n, len(body))
	}
	claims := make([]ims.Claim, 0, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		id := r.str()
		attempt := r.uvarint()
		lease := r.varint()
		switch {
		case r.err != nil:
		case id == "":
			r.err = fmt.Errorf("claim %d: message id is missing", i)
		case attempt > uint64(maxAttempt):
			r.err = fmt.Errorf("claim %d: attempt %d is out of range", i, attempt)
		default:
			c := ims.Claim{MessageID: id, Attempt: int(attempt)}
			if lease != 0 {
				c.LeaseUntil = time.Unix(0, lease).UTC()
			}
			claims = append(claims, c)
		}
	}
	if r.err == nil && len(r.rest) > 0 {
		r.err = fmt.Errorf("%d bytes after the last claim", len(r.rest))
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode entry: %w", r.err)
	}
	return claims, nil
}

// maxAttempt is the largest attempt an entry may carry (an int on every
// platform).
const maxAttempt = 1<<31 - 1

// entryReader reads varints and strings off an entry's body; the first
// error sticks. ids is the whole body as one string, so that the message ids
// are substrings of it: one allocation per entry, not one per claim.
type entryReader struct {
	rest []byte
	ids  string
	err  error
}

func (r *entryReader) uvarint() uint64 { return readNumber(r, binary.Uvarint) }

func (r *entryReader) varint() int64 { return readNumber(r, binary.Varint) }

// readNumber reads one number with decode (binary.Uvarint or binary.Varint).
func readNumber[T uint64 | int64](r *entryReader, decode func([]byte) (T, int)) T {
	if r.err != nil {
		return 0
	}
	v, n := decode(r.rest)
	if n <= 0 {
		r.err = errors.New("truncated or overlong number")
		return 0
	}
	r.rest = r.rest[n:]
	return v
}

func (r *entryReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.rest)) {
		r.err = fmt.Errorf("message id of %d bytes, %d left", n, len(r.rest))
		return ""
	}
	start := len(r.ids) - len(r.rest)
	r.rest = r.rest[n:]
	return r.ids[start : start+int(n)]
}
