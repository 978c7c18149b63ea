package ims

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// PhoneValidation is PHONE_VALIDATION: how strictly a recipient's number is
// judged at create.
type PhoneValidation string

const (
	// PhoneE164 accepts any number of E.164 shape (+, 8 to 15 digits), as
	// IMS always has: +1234567890 still works. The number is still parsed
	// for its country and time zone, which are empty/default when it maps
	// to none.
	PhoneE164 PhoneValidation = "e164"
	// PhoneStrict also rejects numbers that are not valid for their
	// country (libphonenumber's rules), saying why.
	PhoneStrict PhoneValidation = "strict"
)

// DefaultPhoneValidation is PHONE_VALIDATION's default.
const DefaultPhoneValidation = PhoneE164

// ParsePhoneValidation reads PHONE_VALIDATION; "" is the default.
func ParsePhoneValidation(s string) (PhoneValidation, error) {
	switch PhoneValidation(s) {
	case "":
		return DefaultPhoneValidation, nil
	case PhoneE164, PhoneStrict:
		return PhoneValidation(s), nil
	}
	return "", fmt.Errorf("must be e164 or strict, got %q", s)
}

// PhoneInfo is what a number says about its recipient.
type PhoneInfo struct {
	// Country is the ISO 3166-1 alpha-2 region, "" when none is known
	// (an unassigned country code, a number no region claims).
	Country string
	// TimeZone is the IANA zone of the number when libphonenumber's
	// time-zone map gives exactly one, "" when it gives several (a
	// country like the US or Russia, the number not narrowing it down) or
	// none.
	TimeZone string
}

// ParsePhone reads what a number in E.164 form says, with
// github.com/nyaruka/phonenumbers, the maintained Go port of Google's
// libphonenumber (its metadata is compiled in: no I/O). The problem is ""
// unless mode is PhoneStrict and the number is not valid for its country;
// it then says why. The caller has checked the E.164 shape.
func ParsePhone(number string, mode PhoneValidation) (PhoneInfo, string) {
	num, err := parseE164(number)
	switch {
	case err == nil:
	case mode != PhoneStrict:
		return PhoneInfo{}, ""
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return PhoneInfo{}, "has an unknown country code (" + number[:min(len(number), 4)] + "…)"
	default:
		return PhoneInfo{}, "is not a phone number: " + err.Error()
	}
	var info PhoneInfo
	if r := phonenumbers.GetRegionCodeForNumber(num); r != "" && r != phonenumbers.UNKNOWN_REGION && r != "001" {
		info.Country = r
	}
	if zones, err := phonenumbers.GetTimezonesForNumber(num); err == nil && len(zones) == 1 &&
		zones[0] != phonenumbers.UNKNOWN_TIMEZONE {
		info.TimeZone = zones[0]
	}
	if mode != PhoneStrict || phonenumbers.IsValidNumber(num) {
		return info, ""
	}
	return info, strictProblem(num, info.Country)
}

// strictProblem says why a parsed number is not valid.
func strictProblem(num *phonenumbers.PhoneNumber, country string) string {
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.INVALID_COUNTRY_CODE:
		return fmt.Sprintf("has an unknown country code +%d", num.GetCountryCode())
	case phonenumbers.TOO_SHORT:
		return "is too short for its country" + regionSuffix(num, country)
	case phonenumbers.TOO_LONG:
		return "is too long for its country" + regionSuffix(num, country)
	case phonenumbers.INVALID_LENGTH:
		return "has a length no number of its country has" + regionSuffix(num, country)
	}
	return "is not a valid number for its country" + regionSuffix(num, country) +
		" (no number range of it matches)"
}

func regionSuffix(num *phonenumbers.PhoneNumber, country string) string {
	if country == "" {
		country = phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode()))
	}
	if country == "" || country == phonenumbers.UNKNOWN_REGION {
		return fmt.Sprintf(" (+%d)", num.GetCountryCode())
	}
	return fmt.Sprintf(" (%s, +%d)", country, num.GetCountryCode())
}

// parseE164 reads a number already in E.164 shape (+ and digits, checked by
// the caller) into libphonenumber's form without phonenumbers.Parse, whose
// free-text handling (extensions, punctuation, national prefixes) cost
// 80% of ParsePhone and is not needed for E.164: the country calling code
// is the prefix of 1 to 3 digits that the metadata knows (the codes are
// prefix-free), the rest is the national number, and leading zeros are
// kept as Parse keeps them (the "Italian leading zero"). Anything else
// falls back to Parse. TestParseE164MatchesParse holds the two together.
func parseE164(number string) (*phonenumbers.PhoneNumber, error) {
	digits := strings.TrimPrefix(number, "+")
	if len(digits) == len(number) || len(digits) < 4 || strings.IndexFunc(digits, notDigit) >= 0 {
		return phonenumbers.Parse(number, phonenumbers.UNKNOWN_REGION)
	}
	for l := 1; l <= 3; l++ {
		cc, _ := strconv.Atoi(digits[:l])
		if phonenumbers.GetRegionCodeForCountryCode(cc) == phonenumbers.UNKNOWN_REGION {
			continue
		}
		national := digits[l:]
		nn, err := strconv.ParseUint(national, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("national number %q: %w", national, err)
		}
		code := int32(cc)
		num := &phonenumbers.PhoneNumber{CountryCode: &code, NationalNumber: &nn}
		if len(national) > 1 && national[0] == '0' {
			yes, zeros := true, int32(1)
			for int(zeros) < len(national)-1 && national[zeros] == '0' {
				zeros++
			}
			num.ItalianLeadingZero = &yes
			if zeros != 1 {
				num.NumberOfLeadingZeros = &zeros
			}
		}
		return num, nil
	}
	return nil, phonenumbers.ErrInvalidCountryCode
}

func notDigit(r rune) bool { return r < '0' || r > '9' }
