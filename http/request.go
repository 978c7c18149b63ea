package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/insiderone/ims"
)

// decodeJSON reads exactly one JSON value into dst. Anything but a single
// well-typed object with known fields is an EINVALID error (400), and a body
// over the limit keeps its *http.MaxBytesError so that it answers 413.
//
// The raw body is checked first: encoding/json would silently turn invalid
// UTF-8 and unpaired UTF-16 surrogates (\ud800) into U+FFFD, storing text
// the client never sent.
func decodeJSON(r *http.Request, dst any) error {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyReadError(err)
	}
	return decodeRaw(raw, dst)
}

// decodeOptionalJSON is decodeJSON for a body that may be left out: an
// empty (or all-space) body leaves dst as it is and reports false.
func decodeOptionalJSON(r *http.Request, dst any) (bool, error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return false, bodyReadError(err)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return false, nil
	}
	return true, decodeRaw(raw, dst)
}

func decodeRaw(raw []byte, dst any) error {
	if err := checkRawJSON(raw); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	// A second value (or garbage) after the first is a malformed request, not
	// something to ignore silently.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return ims.Errorf(ims.EINVALID, "request body must hold a single JSON value")
	}
	return nil
}

// checkRawJSON rejects a body that is not valid UTF-8 or whose \u escapes
// hold a lone surrogate. A backslash only appears inside JSON strings (the
// decoder rejects it anywhere else), so the escapes need no string tracking.
func checkRawJSON(raw []byte) error {
	if !utf8.Valid(raw) {
		at := 0
		for at < len(raw) {
			r, size := utf8.DecodeRune(raw[at:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			at += size
		}
		return ims.Errorf(ims.EINVALID, "request body must be valid UTF-8 (invalid byte at offset %d)", at)
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // a two-character escape such as \\ or \"
			continue
		}
		r, ok := hexRune(raw, i+2)
		if !ok {
			continue // malformed: the decoder reports it
		}
		switch {
		case utf16.IsSurrogate(r) && r < 0xdc00: // high: a low one must follow
			low, ok := hexRune(raw, i+8)
			if !ok || i+7 >= len(raw) || raw[i+6] != '\\' || raw[i+7] != 'u' || low < 0xdc00 || low > 0xdfff {
				return loneSurrogate(r, i)
			}
			i += 11
		case utf16.IsSurrogate(r): // low without a high before it
			return loneSurrogate(r, i)
		default:
			i += 5
		}
	}
	return nil
}

// hexRune reads the four hex digits at raw[at:].
func hexRune(raw []byte, at int) (rune, bool) {
	if at < 0 || at+4 > len(raw) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(raw[at:at+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}

func loneSurrogate(r rune, at int) error {
	return ims.Errorf(ims.EINVALID, "request body holds an unpaired UTF-16 surrogate \\u%04x at offset %d; it is not a character", r, at)
}

// errBodyCut is a request body that ended before its declared length (or
// its last chunk): net/http reports that as io.ErrUnexpectedEOF when the
// client closes the connection mid-request. It is the client's leaving,
// not a malformed request and not a server error.
var errBodyCut = errors.New("client closed the connection before the request body was complete")

// bodyReadError is the error of reading a request body: over the limit is
// a 413 (decodeError), cut short is the client's leaving (errBodyCut, which
// writeError logs at debug as a client close), anything else a 400.
func bodyReadError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", errBodyCut, err)
	}
	return decodeError(err)
}

// decodeError says what is wrong with a body in words a client can act on.
func decodeError(err error) error {
	var (
		tooLarge  *http.MaxBytesError
		syntax    *json.SyntaxError
		typeError *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return fmt.Errorf("%w: %w", ims.Errorf(ims.EINVALID, "request body is larger than %d bytes", tooLarge.Limit), err)
	case errors.Is(err, io.EOF):
		return ims.Errorf(ims.EINVALID, "request body is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return ims.Errorf(ims.EINVALID, "malformed JSON: unexpected end of body")
	case errors.As(err, &syntax):
		return ims.Errorf(ims.EINVALID, "malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typeError):
		if typeError.Field == "" {
			return ims.Errorf(ims.EINVALID, "request body must be a JSON object")
		}
		return &ims.Error{Code: ims.EINVALID, Message: "wrong type in request body",
			Details: map[string]string{typeError.Field: "must be " + jsonTypeName(typeError.Type.Kind().String())}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this one.
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return &ims.Error{Code: ims.EINVALID, Message: "unknown field in request body",
			Details: map[string]string{strings.Trim(field, `"`): "is not a known field"}}
	default:
		return ims.Errorf(ims.EINVALID, "malformed JSON")
	}
}

// jsonTypeName turns a Go kind into the JSON type a client should send.
func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "a boolean"
	default:
		return "a number"
	}
}

// query is the query string of one endpoint, checked against the parameters
// it accepts. Every endpoint with parameters reads them through parseQuery,
// so an unknown or repeated parameter is a 400 like an unknown body field,
// and every value passes the one text rule before any parser sees it.
type query struct{ url.Values }

// parseQuery checks r's query against allowed.
func parseQuery(r *http.Request, allowed ...string) (query, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return query{}, &ims.Error{Code: ims.EINVALID, Message: "malformed query string",
			Details: map[string]string{"query": "must be name=value pairs, percent-encoded"}}
	}
	for name, values := range q {
		if !slices.Contains(allowed, name) {
			return query{}, unknownParam(name, allowed)
		}
		if len(values) > 1 {
			return query{}, invalidParam(name, "must be given at most once")
		}
		if p := ims.CheckText(values[0]); p != "" {
			return query{}, invalidParam(name, p)
		}
	}
	return query{q}, nil
}

// noQuery is parseQuery for an endpoint that takes no parameters.
func noQuery(r *http.Request) error {
	_, err := parseQuery(r)
	return err
}

func unknownParam(name string, allowed []string) error {
	if p := ims.CheckText(name); p != "" {
		name = strconv.QuoteToASCII(name) // shown, not echoed raw
	}
	accepted := "this endpoint takes no query parameters"
	if len(allowed) > 0 {
		accepted = "accepted: " + strings.Join(allowed, ", ")
	}
	return &ims.Error{Code: ims.EINVALID, Message: "unknown query parameter " + name,
		Details: map[string]string{name: "is not a known query parameter; " + accepted}}
}

// parseLimit reads ?limit=, 1..ims.MaxPageLimit, def when absent.
func parseLimit(q query, def int) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > ims.MaxPageLimit {
		return 0, invalidParam("limit", fmt.Sprintf("must be an integer from 1 to %d", ims.MaxPageLimit))
	}
	return n, nil
}

// parseStatus reads ?status=, empty meaning all.
func parsePriority(q query) (ims.Priority, error) {
	v := q.Get("priority")
	if v == "" {
		return "", nil
	}
	p, err := ims.ParsePriority(v)
	if err != nil {
		return "", invalidParam("priority", err.Error())
	}
	return p, nil
}

// parsePhoneFilter reads phone_number, an exact match that must have the
// shape a create requires. A "+" left unencoded in a query string arrives as
// a space, so the problem says to encode it.
func parsePhoneFilter(q query) (string, error) {
	v := q.Get("phone_number")
	if v == "" || ims.ValidPhoneShape(v) {
		return v, nil
	}
	return "", invalidParam("phone_number", ims.PhoneShapeProblem+" (encode + as %2B in a query string)")
}

func parseStatus(q query) (ims.Status, error) {
	s := ims.Status(q.Get("status"))
	if s == "" || s.Valid() {
		return s, nil
	}
	names := make([]string, len(ims.Statuses))
	for i, v := range ims.Statuses {
		names[i] = string(v)
	}
	return "", invalidParam("status", "must be one of: "+strings.Join(names, ", "))
}

// parseMessageCursor reads a message list cursor, which is a message ID.
func parseMessageCursor(q query) (string, error) {
	s := q.Get("cursor")
	if s == "" || validMessageID(s) {
		return s, nil
	}
	return "", invalidParam("cursor", "must be a next_cursor value from a previous page")
}

// parseAuditCursor reads an audit list cursor, which is an event ID.
func parseAuditCursor(q query) (int64, error) {
	s := q.Get("cursor")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, invalidParam("cursor", "must be a next_cursor value from a previous page")
	}
	return n, nil
}

// parseTime reads an optional RFC 3339 query parameter.
func parseTime(q query, name string) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || t.UTC().Year() < 0 || t.UTC().Year() > 9999 {
		return time.Time{}, invalidParam(name, "must be an RFC 3339 timestamp from year 0 to 9999 (in UTC), e.g. 2026-01-02T15:04:05Z")
	}
	return t.UTC(), nil
}

// validMessageID reports whether s is a canonical UUID, the form of every
// message ID. Anything else cannot name a message, so it is rejected before
// it reaches the store.
func validMessageID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

// pathMessageID returns the {id} of the route, or ENOTFOUND when it cannot be
// a message ID: such a message does not exist, whatever the store would say.
func pathMessageID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !validMessageID(id) {
		return "", ims.Errorf(ims.ENOTFOUND, "message %q not found", id)
	}
	return id, nil
}

func invalidParam(name, problem string) error {
	return &ims.Error{Code: ims.EINVALID, Message: "invalid query parameter " + name,
		Details: map[string]string{name: problem}}
}
