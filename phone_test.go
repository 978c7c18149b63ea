package ims_test

import (
	"strings"
	"testing"

	"github.com/insiderone/ims"
)

func TestParsePhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		number  string
		mode    ims.PhoneValidation
		want    ims.PhoneInfo
		problem string // substring; "" = none
	}{
		{name: "Turkish mobile", number: "+905551234567", mode: ims.PhoneStrict,
			want: ims.PhoneInfo{Country: "TR", TimeZone: "Europe/Istanbul"}},
		// UK mobile ranges are shared with the Crown Dependencies: several
		// zones, so none is picked (quiet hours use QUIET_HOURS_DEFAULT_TZ).
		{name: "UK mobile maps to several zones", number: "+447400123456", mode: ims.PhoneStrict,
			want: ims.PhoneInfo{Country: "GB"}},
		{name: "Moscow mobile maps to one of Russia's zones", number: "+79161234567", mode: ims.PhoneStrict,
			want: ims.PhoneInfo{Country: "RU", TimeZone: "Europe/Moscow"}},
		{name: "not in a GB number range", number: "+447700900123", mode: ims.PhoneStrict,
			problem: "not a valid number for its country (GB, +44)"},
		{name: "Japanese mobile", number: "+819012345678", mode: ims.PhoneStrict,
			want: ims.PhoneInfo{Country: "JP", TimeZone: "Asia/Tokyo"}},
		{name: "New York number maps to one zone", number: "+12125551234", mode: ims.PhoneStrict,
			want: ims.PhoneInfo{Country: "US", TimeZone: "America/New_York"}},
		// Too short to be valid, so no country; its prefix +1 234 is an
		// Ohio area code, which the time-zone map still knows.
		{name: "the brief's example passes e164", number: "+1234567890", mode: ims.PhoneE164,
			want: ims.PhoneInfo{TimeZone: "America/New_York"}},
		{name: "the brief's example fails strict", number: "+1234567890", mode: ims.PhoneStrict,
			problem: "too short"},
		{name: "unknown country code", number: "+99912345678", mode: ims.PhoneStrict,
			problem: "unknown country code"},
		{name: "unknown country code passes e164", number: "+99912345678", mode: ims.PhoneE164},
		{name: "a length Turkey has not", number: "+9055512345678", mode: ims.PhoneStrict,
			problem: "has a length no number of its country has (TR, +90)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, problem := ims.ParsePhone(tt.number, tt.mode)
			if tt.problem == "" {
				if problem != "" || got != tt.want {
					t.Errorf("ParsePhone(%q) = %+v, %q; want %+v, no problem", tt.number, got, problem, tt.want)
				}
				return
			}
			if !strings.Contains(problem, tt.problem) {
				t.Errorf("ParsePhone(%q) problem %q, want it to contain %q", tt.number, problem, tt.problem)
			}
		})
	}
}

// BenchmarkParsePhone measures the create path's cost per number: a
// Turkish number (a country code of one region) and a US one (+1 is shared
// by 25 regions, which the region lookup tells apart by their patterns).
func BenchmarkParsePhone(b *testing.B) {
	for _, number := range []string{"+905551234567", "+12125551234"} {
		for _, mode := range []ims.PhoneValidation{ims.PhoneE164, ims.PhoneStrict} {
			b.Run(number[:3]+"/"+string(mode), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					ims.ParsePhone(number, mode)
				}
			})
		}
	}
}
