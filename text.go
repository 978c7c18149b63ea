package ims

import (
	"unicode"
	"unicode/utf8"
)

// CheckText says what is wrong with s as text that IMS stores, compares or
// forwards — content, idempotency keys, every query filter — or "" when it is
// fine. The rule is the same for every store: PostgreSQL rejects NUL and
// invalid UTF-8 in text, SQLite would keep them and pass them on, so IMS
// refuses them before either sees them. Control characters other than
// newline and tab have no place in a text message or a filter either.
func CheckText(s string) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
		case r == 0:
			return "must not contain NUL characters"
		case unicode.IsControl(r):
			return "must not contain control characters (only newline and tab are allowed)"
		}
	}
	return ""
}

// IsBlank reports whether s shows nothing: it is empty or holds only white
// space and invisible characters (zero-width space, joiners, the byte order
// mark, soft hyphens, variation selectors, fillers).
func IsBlank(s string) bool {
	for _, r := range s {
		if !invisible(r) {
			return false
		}
	}
	return true
}

func invisible(r rune) bool {
	return unicode.IsSpace(r) ||
		unicode.In(r, unicode.Cf, unicode.Zs, unicode.Zl, unicode.Zp,
			unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) ||
		r == '\u034f' // combining grapheme joiner: default-ignorable, category Mn
}
