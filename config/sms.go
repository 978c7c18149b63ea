package config

import "github.com/insiderone/ims"

// SMS is the SMS-native settings (issue 10, parts 1-3).
type SMS struct {
	// MaxSegments is MESSAGE_MAX_SEGMENTS: the most SMS segments a message
	// may take, 0 for no cap. MESSAGE_MAX_LENGTH still bounds characters.
	MaxSegments int
	// PhoneValidation is PHONE_VALIDATION: e164 (the shape only) or strict.
	PhoneValidation ims.PhoneValidation
	// RateUnit is WEBHOOK_RATE_UNIT: what WEBHOOK_RATE_LIMIT counts.
	RateUnit ims.RateUnit
	// QuietHours is QUIET_HOURS with QUIET_HOURS_DEFAULT_TZ and
	// QUIET_HOURS_HIGH; off when QUIET_HOURS is empty.
	QuietHours ims.QuietHours
}

// maxSegmentsCap keeps MESSAGE_MAX_SEGMENTS meaningful: past 255 parts the
// concatenation header cannot number them.
const maxSegmentsCap = 255

func (r *reader) sms() SMS {
	c := SMS{MaxSegments: r.integer("MESSAGE_MAX_SEGMENTS", 0, 0, maxSegmentsCap)}
	var err error
	if c.PhoneValidation, err = ims.ParsePhoneValidation(r.oneOf("PHONE_VALIDATION", string(ims.DefaultPhoneValidation), string(ims.PhoneE164), string(ims.PhoneStrict))); err != nil {
		r.setErr(err)
	}
	if c.RateUnit, err = ims.ParseRateUnit(r.oneOf("WEBHOOK_RATE_UNIT", string(ims.RateUnitMessages), string(ims.RateUnitMessages), string(ims.RateUnitSegments))); err != nil {
		r.setErr(err)
	}
	window, tz, high := r.str("QUIET_HOURS", ""), r.str("QUIET_HOURS_DEFAULT_TZ", "UTC"), r.boolean("QUIET_HOURS_HIGH", false)
	if c.QuietHours, err = ims.ParseQuietHours(window, tz, high); err != nil {
		r.setErr(err)
	}
	return c
}

func (r *reader) setErr(err error) {
	if r.err == nil {
		r.err = err
	}
}
