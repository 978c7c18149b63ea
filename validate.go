package ims

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultMaxContentLength is MESSAGE_MAX_LENGTH's default: one SMS segment.
const DefaultMaxContentLength = 160

// MaxIdempotencyKeyLength bounds client idempotency keys.
const MaxIdempotencyKeyLength = 255

// e164 is a plus sign and 8 to 15 digits, the first not zero (ITU-T E.164
// allows up to 15 digits; the shortest numbers in use have about 8).
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// MessageInput is a create request as the client sent it, before validation.
type MessageInput struct {
	PhoneNumber *string `json:"phone_number"`
	Content     *string `json:"content"`
	SendAt      *string `json:"send_at,omitempty"`
}

// Validate checks the input and returns the NewMessage it describes, or an
// EINVALID *Error whose Details map each bad field to what is wrong with it.
func (in MessageInput) Validate(maxContentLength int, idempotencyKey string) (NewMessage, error) {
	problems := map[string]string{}
	var nm NewMessage

	switch {
	case in.PhoneNumber == nil || *in.PhoneNumber == "":
		problems["phone_number"] = "is required"
	case !e164.MatchString(*in.PhoneNumber):
		problems["phone_number"] = "must be in E.164 format: + followed by 8 to 15 digits, e.g. +905551234567"
	default:
		nm.PhoneNumber = *in.PhoneNumber
	}

	switch {
	case in.Content == nil || strings.TrimSpace(*in.Content) == "":
		problems["content"] = "is required and must not be blank"
	case !utf8.ValidString(*in.Content):
		problems["content"] = "must be valid UTF-8"
	case utf8.RuneCountInString(*in.Content) > maxContentLength:
		problems["content"] = "must be at most " + itoa(maxContentLength) + " characters, got " + itoa(utf8.RuneCountInString(*in.Content))
	default:
		nm.Content = *in.Content
	}

	if in.SendAt != nil && *in.SendAt != "" {
		t, err := time.Parse(time.RFC3339, *in.SendAt)
		if err != nil {
			problems["send_at"] = "must be an RFC 3339 timestamp, e.g. 2026-01-02T15:04:05Z"
		} else {
			t = t.UTC()
			nm.SendAt = &t
		}
	}

	if len(idempotencyKey) > MaxIdempotencyKeyLength {
		problems["Idempotency-Key"] = "must be at most " + itoa(MaxIdempotencyKeyLength) + " bytes"
	} else {
		nm.IdempotencyKey = idempotencyKey
	}

	if len(problems) > 0 {
		return NewMessage{}, &Error{Code: EINVALID, Message: "invalid message", Details: problems}
	}
	return nm, nil
}
