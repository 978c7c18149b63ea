package ims

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"
)

// DefaultMaxContentLength is MESSAGE_MAX_LENGTH's default: one SMS segment.
const DefaultMaxContentLength = 160

// MaxIdempotencyKeyLength bounds client idempotency keys.
const MaxIdempotencyKeyLength = 255

// DefaultSendAtHorizon is SEND_AT_HORIZON's default: how far ahead a message
// may be scheduled.
const DefaultSendAtHorizon = 365 * 24 * time.Hour

// SendAtPastTolerance is how far in the past send_at may lie: a client whose
// clock is behind, or a retried request, still means "now"; anything older
// is a mistake.
const SendAtPastTolerance = 24 * time.Hour

// e164 is a plus sign and 8 to 15 digits, the first not zero (ITU-T E.164
// allows up to 15 digits; the shortest numbers in use have about 8).
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// PhoneShapeProblem is what is wrong with a number not of E.164 shape, on
// create and in the phone_number filter alike.
const PhoneShapeProblem = "must be in E.164 format: + followed by 8 to 15 digits, e.g. +905551234567"

// ValidPhoneShape reports whether number has the E.164 shape every create
// requires (PHONE_VALIDATION=strict judges more, but only at create: a
// filter need not, as no stored number breaks the shape).
func ValidPhoneShape(number string) bool { return e164.MatchString(number) }

// MessageInput is a create request as the client sent it, before validation.
type MessageInput struct {
	PhoneNumber *string `json:"phone_number"`
	Content     *string `json:"content"`
	SendAt      *string `json:"send_at,omitempty"`
	// Priority is high, normal or low; absent is normal.
	Priority *string `json:"priority,omitempty"`
	// TTLSeconds and ExpiresAt give the expiry, never both (ResolveExpiry).
	TTLSeconds *int64  `json:"ttl_seconds,omitempty"`
	ExpiresAt  *string `json:"expires_at,omitempty"`
	// QuietHours false opts the message out of QUIET_HOURS; absent or true
	// honours them.
	QuietHours *bool `json:"quiet_hours,omitempty"`
	// CallbackURL is where status callbacks of this message go (http or
	// https); absent uses STATUS_CALLBACK_URL.
	CallbackURL *string `json:"callback_url,omitempty"`
}

// CreateRules are what a create request is validated against. Now is an
// input, not a call to time.Now, so the rules are a pure function.
type CreateRules struct {
	MaxContentLength int           // characters (runes); ≤ 0 means DefaultMaxContentLength
	SendAtHorizon    time.Duration // how far after Now send_at may be; ≤ 0 means DefaultSendAtHorizon
	MaxBatchSize     int           // items of one batch; ≤ 0 means no batch limit is checked
	// DefaultTTL is MESSAGE_TTL: the expiry of a message that gives none,
	// counted from when it is due; 0 means such messages never expire.
	DefaultTTL time.Duration
	Now        time.Time

	// SMS-native rules (issue 10). MaxSegments is MESSAGE_MAX_SEGMENTS (0
	// = no cap); PhoneValidation is PHONE_VALIDATION ("" = e164);
	// QuietHours is QUIET_HOURS with its default zone (zero = off).
	MaxSegments     int
	PhoneValidation PhoneValidation
	QuietHours      QuietHours
}

func (r CreateRules) maxContentLength() int {
	if r.MaxContentLength <= 0 {
		return DefaultMaxContentLength
	}
	return r.MaxContentLength
}

func (r CreateRules) horizon() time.Duration {
	if r.SendAtHorizon <= 0 {
		return DefaultSendAtHorizon
	}
	return r.SendAtHorizon
}

// Validate checks the input and returns the NewMessage it describes, or an
// EINVALID *Error whose Details map each bad field to what is wrong with it.
func (in MessageInput) Validate(rules CreateRules, idempotencyKey string) (NewMessage, error) {
	problems := map[string]string{}
	nm := in.validate(rules, problems)
	if p := checkIdempotencyKey(idempotencyKey, MaxIdempotencyKeyLength, ""); p != "" {
		problems["Idempotency-Key"] = p
	}
	nm.IdempotencyKey = idempotencyKey
	if len(problems) > 0 {
		return NewMessage{}, &Error{Code: EINVALID, Message: "invalid message", Details: problems}
	}
	return nm, nil
}

// validate checks the fields of one message, adding each problem to problems.
func (in MessageInput) validate(rules CreateRules, problems map[string]string) NewMessage {
	var nm NewMessage

	switch {
	case in.PhoneNumber == nil || *in.PhoneNumber == "":
		problems["phone_number"] = "is required"
	case !ValidPhoneShape(*in.PhoneNumber):
		problems["phone_number"] = PhoneShapeProblem
	default:
		nm.PhoneNumber = *in.PhoneNumber
		if p := nm.describeRecipient(rules); p != "" {
			problems["phone_number"] = p
		}
	}

	maxLen := rules.maxContentLength()
	switch {
	case in.Content == nil:
		problems["content"] = "is required and must not be blank"
	case CheckText(*in.Content) != "":
		problems["content"] = CheckText(*in.Content)
	case IsBlank(*in.Content):
		problems["content"] = "is required and must not be blank"
	case utf8.RuneCountInString(*in.Content) > maxLen:
		problems["content"] = "must be at most " + itoa(maxLen) + " characters, got " + itoa(utf8.RuneCountInString(*in.Content))
	default:
		nm.Content = *in.Content
		si := Segment(nm.Content)
		nm.Encoding, nm.Segments = si.Encoding, si.Segments
		if p := SegmentProblem(si, rules.MaxSegments); p != "" {
			problems["content"] = p
		}
	}

	if in.SendAt != nil && *in.SendAt != "" {
		at, problem := checkSendAt(*in.SendAt, rules.Now, rules.horizon())
		if problem != "" {
			problems["send_at"] = problem
		} else {
			nm.SendAt = &at
		}
	}

	if p, problem := ValidatePriority(in.Priority); problem != "" {
		problems["priority"] = problem
	} else {
		nm.Priority = p
	}

	// A bad send_at is reported on its own: the expiry is only judged
	// against a send_at that is valid.
	if _, bad := problems["send_at"]; !bad {
		exp, expProblems := ResolveExpiry(in.TTLSeconds, in.ExpiresAt, nm.SendAt, rules.DefaultTTL, rules.Now)
		for field, p := range expProblems {
			problems[field] = p
		}
		nm.ExpiresAt = exp
		nm.ExpiryFixed = exp != nil && in.ExpiresAt != nil && *in.ExpiresAt != ""
	}
	validateCallbackURL(in.CallbackURL, &nm, problems)

	nm.QuietHoursOptOut = in.QuietHours != nil && !*in.QuietHours
	if len(problems) == 0 {
		nm.Deferral = rules.QuietHours.Defer(nm.due(rules.Now), nm.TimeZone, nm.Priority, !nm.QuietHoursOptOut, nm.ExpiresAt)
	}
	return nm
}

// describeRecipient fills the country and time zone of nm's number and
// returns the problem PHONE_VALIDATION=strict finds with it, or "". A
// number whose country has several zones, and that does not map to one of
// them, gets the quiet hours' default zone.
func (nm *NewMessage) describeRecipient(rules CreateRules) string {
	info, problem := ParsePhone(nm.PhoneNumber, rules.PhoneValidation)
	nm.Country, nm.TimeZone = info.Country, info.TimeZone
	if nm.TimeZone == "" {
		nm.TimeZone = rules.QuietHours.Location("").String()
	}
	return problem
}

// due is when a message created at now is first due: its send_at, or now.
func (nm NewMessage) due(now time.Time) time.Time {
	if nm.SendAt != nil && nm.SendAt.After(now) {
		return *nm.SendAt
	}
	return now
}

// checkSendAt parses send_at and bounds it around now: not more than
// SendAtPastTolerance before, not more than horizon after. The result is UTC
// at microsecond precision, the form both stores keep, so an idempotent
// replay compares equal to what was stored.
func checkSendAt(s string, now time.Time, horizon time.Duration) (time.Time, string) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, "must be an RFC 3339 timestamp, e.g. 2026-01-02T15:04:05Z"
	}
	t = t.UTC().Truncate(time.Microsecond)
	earliest, latest := now.Add(-SendAtPastTolerance), now.Add(horizon)
	switch {
	case t.Before(earliest):
		return time.Time{}, fmt.Sprintf("must not be more than %s in the past (earliest %s)",
			formatHours(SendAtPastTolerance), earliest.UTC().Format(time.RFC3339))
	case t.After(latest):
		return time.Time{}, fmt.Sprintf("must not be more than %s ahead (latest %s)",
			formatHours(horizon), latest.UTC().Format(time.RFC3339))
	}
	return t, ""
}

// formatHours writes a bound the way the setting is written (8760h, 24h).
func formatHours(d time.Duration) string {
	if d%time.Hour == 0 {
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return d.String()
}

// checkIdempotencyKey applies the text rule and a length bound to a key.
func checkIdempotencyKey(key string, maxLen int, where string) string {
	if p := CheckText(key); p != "" {
		return p
	}
	if len(key) > maxLen {
		return "must be at most " + itoa(maxLen) + " bytes" + where
	}
	return ""
}

// BatchItemKey is the idempotency key of item i of a batch sent with key:
// retrying the same batch replays it item by item. The keys live in
// ScopeBatch, so they can never meet a single create's key.
func BatchItemKey(key string, i int) string {
	if key == "" {
		return ""
	}
	return key + "#" + itoa(i)
}

// ValidateBatch validates every item of a batch with the rules of a single
// create, before anything is stored, and reports every problem at once as
// "messages[i].field" → problem.
func ValidateBatch(items []MessageInput, rules CreateRules, key string) ([]NewMessage, error) {
	if len(items) == 0 || (rules.MaxBatchSize > 0 && len(items) > rules.MaxBatchSize) {
		want := "at least 1 message"
		if rules.MaxBatchSize > 0 {
			want = fmt.Sprintf("1 to %d messages", rules.MaxBatchSize)
		}
		return nil, &Error{Code: EINVALID, Message: "invalid batch",
			Details: map[string]string{"messages": fmt.Sprintf("must hold %s, got %d", want, len(items))}}
	}
	// The key must leave room for the longest "#<i>" suffix.
	maxKey := MaxIdempotencyKeyLength - len("#"+itoa(max(rules.MaxBatchSize, len(items))))
	if p := checkIdempotencyKey(key, maxKey, " on a batch"); p != "" {
		return nil, &Error{Code: EINVALID, Message: "invalid batch", Details: map[string]string{"Idempotency-Key": p}}
	}
	msgs := make([]NewMessage, len(items))
	problems := map[string]string{}
	invalid := 0
	for i, item := range items {
		itemProblems := map[string]string{}
		nm := item.validate(rules, itemProblems)
		if len(itemProblems) > 0 {
			for field, p := range itemProblems {
				problems[fmt.Sprintf("messages[%d].%s", i, field)] = p
			}
			invalid++
			continue
		}
		if key != "" {
			nm.IdempotencyKey, nm.IdempotencyScope = BatchItemKey(key, i), ScopeBatch
		}
		msgs[i] = nm
	}
	if len(problems) > 0 {
		return nil, &Error{Code: EINVALID,
			Message: fmt.Sprintf("invalid batch: %d of %d messages are invalid, none was stored", invalid, len(items)),
			Details: problems}
	}
	return msgs, nil
}
