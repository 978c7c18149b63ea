package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/insiderone/ims"
)

// Query parameter bounds shared by every list.
const (
	defaultListLimit = 50
	maxListLimit     = 1000
)

// decodeJSON reads exactly one JSON value into dst. Anything but a single
// well-typed object with known fields is an EINVALID error (400), and a body
// over the limit keeps its *http.MaxBytesError so that it answers 413.
func decodeJSON(r *http.Request, dst any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	// A second value (or garbage) after the first is a malformed request, not
	// something to ignore silently.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return decodeError(err)
		}
		return ims.Errorf(ims.EINVALID, "request body must hold a single JSON value")
	}
	return nil
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

// parseLimit reads ?limit=, 1..maxListLimit, def when absent.
func parseLimit(q url.Values, def int) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxListLimit {
		return 0, invalidParam("limit", fmt.Sprintf("must be an integer from 1 to %d", maxListLimit))
	}
	return n, nil
}

// parseStatus reads ?status=, empty meaning all.
func parseStatus(q url.Values) (ims.Status, error) {
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
func parseMessageCursor(q url.Values) (string, error) {
	s := q.Get("cursor")
	if s == "" || validMessageID(s) {
		return s, nil
	}
	return "", invalidParam("cursor", "must be a next_cursor value from a previous page")
}

// parseAuditCursor reads an audit list cursor, which is an event ID.
func parseAuditCursor(q url.Values) (int64, error) {
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
func parseTime(q url.Values, name string) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, invalidParam(name, "must be an RFC 3339 timestamp, e.g. 2026-01-02T15:04:05Z")
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
