package ims

import (
	"fmt"
	"unicode/utf8"
)

// Encoding is how a message's text travels over SMS: the GSM 7-bit default
// alphabet when every character is in it, UCS-2 (UTF-16 on the wire)
// otherwise.
type Encoding string

const (
	EncodingGSM7 Encoding = "gsm7"
	EncodingUCS2 Encoding = "ucs2"
)

// Segment sizes, as carriers count them (3GPP TS 23.038 and 23.040): a
// single SMS carries 140 octets of user data, 160 septets or 70 UTF-16 code
// units; a part of a concatenated message gives 6 octets to the UDH that
// numbers the parts, leaving 153 septets or 67 code units.
const (
	GSM7SingleSeptets = 160
	GSM7PartSeptets   = 153
	UCS2SingleUnits   = 70
	UCS2PartUnits     = 67
)

// SegmentInfo is how a text is sent as SMS.
type SegmentInfo struct {
	Encoding Encoding
	// Segments is how many SMS the text takes: 1 when it fits one message,
	// else the number of concatenated parts. An empty text is one (empty) SMS.
	Segments int
	// Units is the text's length in the encoding's units: septets for GSM
	// 7-bit (an extension character is two), UTF-16 code units for UCS-2 (a
	// character outside the BMP is two).
	Units int
	// UCS2Char is the first character that is not in the GSM 7-bit default
	// alphabet, the one that made the text UCS-2; "" for GSM 7-bit.
	UCS2Char string
}

// Segment computes the encoding and segment count of content the way
// carriers do.
//
// GSM 7-bit means the default alphabet and its extension table only: no
// national language shift tables (3GPP TS 23.038 §6.2.1.2.4). Handsets and
// most providers send Turkish, Spanish or Portuguese text with ç, ş, ğ, ı
// and the like as UCS-2 unless the shift tables are negotiated, and billing
// follows what is sent; so IMS counts what a provider without them would
// send. Note that the default alphabet has upper-case Ç (0x09) but not
// lower-case ç: the ETSI table shows Ç there; Unicode's GSM0338.TXT maps
// 0x09 to ç with a note that the spec's glyph is upper case. IMS follows
// the spec, so "ç" makes a text UCS-2, the count a provider following the
// spec bills.
//
// Splitting never cuts a character in two: an extension character (the
// escape septet and its code) that would straddle the boundary of a
// concatenated part goes whole to the next part, as handsets and gateways
// do, since a receiver cannot reassemble an escape split across parts;
// likewise a surrogate pair in UCS-2. Such a part then carries one unit
// fewer than 153 or 67, which is why Segments is not always
// ceil(Units/153).
func Segment(content string) SegmentInfo {
	septets, gsm := 0, true
	var ucs2Char rune
	for _, r := range content {
		w := gsmWidth(r)
		if w == 0 {
			gsm, ucs2Char = false, r
			break
		}
		septets += w
	}
	if gsm {
		return SegmentInfo{Encoding: EncodingGSM7, Units: septets,
			Segments: pack(content, septets, GSM7SingleSeptets, GSM7PartSeptets, gsmWidth)}
	}
	units := 0
	for _, r := range content {
		units += utf16Width(r)
	}
	return SegmentInfo{Encoding: EncodingUCS2, Units: units, UCS2Char: string(ucs2Char),
		Segments: pack(content, units, UCS2SingleUnits, UCS2PartUnits, utf16Width)}
}

// pack counts the parts of a text of total units: one when it fits single,
// else parts of at most part units, filled greedily, no character split.
func pack(content string, total, single, part int, width func(rune) int) int {
	if total <= single {
		return 1
	}
	parts, used := 1, 0
	for _, r := range content {
		w := width(r)
		if used+w > part {
			parts, used = parts+1, 0
		}
		used += w
	}
	return parts
}

func utf16Width(r rune) int {
	if r >= 0x10000 {
		return 2 // a surrogate pair
	}
	return 1
}

// gsmWidth is how many septets r takes in GSM 7-bit: 1 in the default
// alphabet, 2 in the extension table (escape + code), 0 when it has none.
func gsmWidth(r rune) int {
	if r < utf8.RuneSelf {
		return int(gsmASCII[r])
	}
	switch r {
	case '£', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', 'Ø', 'ø', 'Å', 'å',
		'Δ', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', 'Æ', 'æ', 'ß', 'É',
		'¤', '¡', 'Ä', 'Ö', 'Ñ', 'Ü', '§', '¿', 'ä', 'ö', 'ñ', 'ü', 'à':
		return 1
	case '€':
		return 2
	}
	return 0
}

// gsmASCII is gsmWidth for ASCII: the default alphabet holds every
// printable ASCII character but ` (grave accent), and of the extension
// table ^ { } \ [ ~ ] | are ASCII. Of the controls only line feed (0x0A)
// and carriage return (0x0D) are in the alphabet; tab is not, so a tab
// makes a text UCS-2. (Form feed is an extension character, but IMS
// refuses control characters in content, see CheckText.)
var gsmASCII = func() (t [utf8.RuneSelf]uint8) {
	for c := ' '; c <= '~'; c++ {
		t[c] = 1
	}
	t['`'] = 0
	for _, c := range `^{}\[~]|` {
		t[c] = 2
	}
	t['\n'], t['\r'], t['\f'] = 1, 1, 2
	return t
}()

// SegmentProblem is the create-request problem of a text longer than
// maxSegments (MESSAGE_MAX_SEGMENTS, 0 = no cap), or "".
func SegmentProblem(si SegmentInfo, maxSegments int) string {
	if maxSegments <= 0 || si.Segments <= maxSegments {
		return ""
	}
	unit := "septets"
	if si.Encoding == EncodingUCS2 {
		unit = "UTF-16 units"
	}
	p := fmt.Sprintf("must fit in at most %d SMS segments, got %d (%s, %d %s)",
		maxSegments, si.Segments, si.Encoding, si.Units, unit)
	if si.UCS2Char != "" {
		p += fmt.Sprintf("; %q (%U) is not in the GSM 7-bit alphabet and makes the message UCS-2",
			si.UCS2Char, []rune(si.UCS2Char)[0])
	}
	return p
}

// WithSegments returns m with its encoding and segments computed from the
// content when they were not stored: rows created before IMS stored them
// read as if they had been.
func (m Message) WithSegments() Message {
	if m.Segments == 0 {
		si := Segment(m.Content)
		m.Encoding, m.Segments = si.Encoding, si.Segments
	}
	return m
}

// Cost is what delivering m costs the rate limiter in unit: one call, or
// its segments (WEBHOOK_RATE_UNIT=segments).
func (m Message) Cost(unit RateUnit) int {
	if unit == RateUnitSegments {
		return max(m.Segments, 1)
	}
	return 1
}

// RateUnit is WEBHOOK_RATE_UNIT: what WEBHOOK_RATE_LIMIT counts.
type RateUnit string

const (
	RateUnitMessages RateUnit = "messages"
	// RateUnitSegments counts SMS segments: providers throttle in
	// segments per second, so a 3-part message costs 3.
	RateUnitSegments RateUnit = "segments"
)

// ParseRateUnit reads WEBHOOK_RATE_UNIT; "" is messages.
func ParseRateUnit(s string) (RateUnit, error) {
	switch RateUnit(s) {
	case "", RateUnitMessages:
		return RateUnitMessages, nil
	case RateUnitSegments:
		return RateUnitSegments, nil
	}
	return "", fmt.Errorf("must be messages or segments, got %q", s)
}
