package ims_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/insiderone/ims"
)

// Segment counts as carriers do: GSM 7-bit with extension characters as two
// septets, UCS-2 as soon as one character is outside the GSM alphabet.
func ExampleSegment() {
	for _, text := range []string{
		"Your code is 1234",
		"Total: 25€ " + strings.Repeat(".", 150), // 162 septets: two parts
		"Siparişiniz yola çıktı",
		"Party tonight 🎉",
	} {
		si := ims.Segment(text)
		fmt.Printf("%s %d segment(s), %d units %q\n", si.Encoding, si.Segments, si.Units, si.UCS2Char)
	}
	// Output:
	// gsm7 1 segment(s), 17 units ""
	// gsm7 2 segment(s), 162 units ""
	// ucs2 1 segment(s), 22 units "ş"
	// ucs2 1 segment(s), 16 units "🎉"
}

// A window that wraps midnight, judged in the recipient's zone.
func ExampleQuietHours_Defer() {
	q, _ := ims.ParseQuietHours("21:00-08:00", "UTC", false)
	now, _ := time.Parse(time.RFC3339, "2026-06-10T19:30:00Z") // 22:30 in Istanbul, 04:30 in Tokyo
	for _, tz := range []string{"Europe/Istanbul", "Asia/Tokyo", "Europe/London"} {
		d := q.Defer(now, tz, ims.PriorityNormal, true, nil)
		fmt.Println(tz, d.Deferred(), d.Until.Format(time.RFC3339))
	}
	// Output:
	// Europe/Istanbul true 2026-06-11T05:00:00Z
	// Asia/Tokyo true 2026-06-10T23:00:00Z
	// Europe/London false 0001-01-01T00:00:00Z
}
