package webhook

import (
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// appendBody appends the request body {"to":…,"content":…} to dst.
//
// It is hand-rolled rather than json.Marshal because it runs once per
// delivery: no reflection, no intermediate map or struct, one allocation
// when dst is sized by bodySize. The output is byte-for-byte what
// encoding/json produces with HTML escaping off (a fuzz test holds it to
// that), so any JSON parser reads back exactly the stored strings.
func appendBody(dst []byte, to, content string) []byte {
	dst = append(dst, `{"to":`...)
	dst = appendString(dst, to)
	dst = append(dst, `,"content":`...)
	dst = appendString(dst, content)
	return append(dst, '}')
}

// bodySize is an upper bound guess of appendBody's output so that the
// buffer is allocated once; escapes beyond the slack just grow it.
func bodySize(to, content string) int {
	return len(`{"to":"","content":""}`) + len(to) + len(content) + 16
}

// appendString appends s as a JSON string. Like encoding/json it escapes
// '"', '\\', control characters, U+2028 and U+2029 (which break JavaScript
// that embeds JSON), and replaces invalid UTF-8 with U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendASCIIEscape(dst, b)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendASCIIEscape(dst []byte, b byte) []byte {
	switch b {
	case '"', '\\':
		return append(dst, '\\', b)
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
}
