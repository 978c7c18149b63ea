package ims_test

import (
	"strings"
	"testing"

	"github.com/insiderone/ims"
)

func TestSegment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		content  string
		encoding ims.Encoding
		segments int
		units    int
		ucs2Char string
	}{
		{name: "empty is one SMS", content: "", encoding: ims.EncodingGSM7, segments: 1},
		{name: "plain English", content: "Hello, world!", encoding: ims.EncodingGSM7, segments: 1, units: 13},
		{name: "160 septets fit one SMS", content: strings.Repeat("a", 160), encoding: ims.EncodingGSM7, segments: 1, units: 160},
		{name: "161 septets are two parts", content: strings.Repeat("a", 161), encoding: ims.EncodingGSM7, segments: 2, units: 161},
		{name: "153*2 septets are two parts", content: strings.Repeat("a", 306), encoding: ims.EncodingGSM7, segments: 2, units: 306},
		{name: "153*2+1 septets are three parts", content: strings.Repeat("a", 307), encoding: ims.EncodingGSM7, segments: 3, units: 307},
		{name: "GSM letters outside ASCII", content: "Ä Ö Ñ Ü § ¿ ä ö ñ ü à Ç É ß Æ Δ Ω £ ¥ ¤ ¡ @ $ è é ù ì ò Ø ø Å å Φ Γ Λ Π Ψ Σ Θ Ξ æ _", encoding: ims.EncodingGSM7,
			segments: 1, units: 83},
		{name: "default alphabet accents stay GSM", content: "Ça coûte", encoding: ims.EncodingUCS2, segments: 1, units: 8, ucs2Char: "û"},
		{name: "upper-case C cedilla is GSM", content: "Çok iyi", encoding: ims.EncodingGSM7, segments: 1, units: 7},
		{name: "lower-case c cedilla is not", content: "Merhaba, nasılsın? çok", encoding: ims.EncodingUCS2, segments: 1, units: 22, ucs2Char: "ı"},
		{name: "Turkish", content: "Şifreniz: 1234. Lütfen kimseyle paylaşmayın.", encoding: ims.EncodingUCS2, segments: 1, units: 44, ucs2Char: "Ş"},
		{name: "euro sign is two septets", content: "Only 5€", encoding: ims.EncodingGSM7, segments: 1, units: 8},
		{name: "every extension character is two septets", content: `€[]{}^~\|`, encoding: ims.EncodingGSM7, segments: 1, units: 18},
		{name: "159 septets and a euro overflow one SMS", content: strings.Repeat("a", 159) + "€", encoding: ims.EncodingGSM7, segments: 2, units: 161},
		{name: "158 septets and a euro fit one SMS", content: strings.Repeat("a", 158) + "€", encoding: ims.EncodingGSM7, segments: 1, units: 160},
		// 152 + € straddles the first part's boundary (152+2 > 153): the
		// escape goes whole to part two, which then holds 2+152 = 154 > 153.
		{name: "an extension character is not split across parts", content: strings.Repeat("a", 152) + "€" + strings.Repeat("a", 152),
			encoding: ims.EncodingGSM7, segments: 3, units: 306},
		{name: "extension character filling a part exactly", content: strings.Repeat("a", 151) + "€" + strings.Repeat("a", 153),
			encoding: ims.EncodingGSM7, segments: 2, units: 306},
		{name: "grave accent is not GSM", content: "`code`", encoding: ims.EncodingUCS2, segments: 1, units: 6, ucs2Char: "`"},
		{name: "tab is not GSM", content: "a\tb", encoding: ims.EncodingUCS2, segments: 1, units: 3, ucs2Char: "\t"},
		{name: "newline is GSM", content: "a\nb", encoding: ims.EncodingGSM7, segments: 1, units: 3},
		{name: "70 UCS-2 units fit one SMS", content: strings.Repeat("ş", 70), encoding: ims.EncodingUCS2, segments: 1, units: 70, ucs2Char: "ş"},
		{name: "71 UCS-2 units are two parts", content: strings.Repeat("ş", 71), encoding: ims.EncodingUCS2, segments: 2, units: 71, ucs2Char: "ş"},
		{name: "67*2 UCS-2 units are two parts", content: strings.Repeat("ş", 134), encoding: ims.EncodingUCS2, segments: 2, units: 134, ucs2Char: "ş"},
		{name: "67*2+1 UCS-2 units are three parts", content: strings.Repeat("ş", 135), encoding: ims.EncodingUCS2, segments: 3, units: 135, ucs2Char: "ş"},
		{name: "an emoji is two code units", content: "Hi 😀", encoding: ims.EncodingUCS2, segments: 1, units: 5, ucs2Char: "😀"},
		{name: "35 emoji fit one SMS", content: strings.Repeat("😀", 35), encoding: ims.EncodingUCS2, segments: 1, units: 70, ucs2Char: "😀"},
		{name: "36 emoji are two parts", content: strings.Repeat("😀", 36), encoding: ims.EncodingUCS2, segments: 2, units: 72, ucs2Char: "😀"},
		// 66 units + a pair straddles 67: the pair goes to part two.
		{name: "a surrogate pair is not split across parts", content: strings.Repeat("ş", 66) + "😀" + strings.Repeat("ş", 66),
			encoding: ims.EncodingUCS2, segments: 3, units: 134, ucs2Char: "ş"},
		{name: "GSM text with one emoji is UCS-2", content: strings.Repeat("a", 100) + "👍", encoding: ims.EncodingUCS2,
			segments: 2, units: 102, ucs2Char: "👍"},
		{name: "BMP non-Latin", content: "Привет", encoding: ims.EncodingUCS2, segments: 1, units: 6, ucs2Char: "П"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ims.Segment(tt.content)
			want := ims.SegmentInfo{Encoding: tt.encoding, Segments: tt.segments, Units: tt.units, UCS2Char: tt.ucs2Char}
			if got != want {
				t.Errorf("Segment(%q) = %+v, want %+v", tt.content, got, want)
			}
		})
	}
}

func TestSegmentProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		max     int
		want    string // substring; "" = no problem
	}{
		{name: "no cap", content: strings.Repeat("a", 1000), max: 0},
		{name: "within the cap", content: strings.Repeat("a", 306), max: 2},
		{name: "over the cap, GSM", content: strings.Repeat("a", 307), max: 2, want: "at most 2 SMS segments, got 3 (gsm7, 307 septets)"},
		{name: "over the cap, names the UCS-2 character", content: strings.Repeat("a", 70) + "ş", max: 1,
			want: `got 2 (ucs2, 71 UTF-16 units); "ş" (U+015F) is not in the GSM 7-bit alphabet`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ims.SegmentProblem(ims.Segment(tt.content), tt.max)
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("SegmentProblem = %q, want it to contain %q", got, tt.want)
			}
		})
	}
}
