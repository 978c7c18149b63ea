// Package http serves IMS's JSON API, its OpenAPI document and the embedded
// Swagger UI. Every route is listed in routes.go; this file holds what every
// handler shares: the error → status mapping and the JSON response helpers.
//
// Status rule for bad input, applied everywhere:
//   - 400 Bad Request: the request cannot be understood — malformed JSON,
//     unknown fields, wrong types, trailing data, a bad query parameter, an
//     unknown enumeration value (status, action).
//   - 422 Unprocessable Entity: the body is well-formed but a message in it
//     breaks the message rules (phone not E.164, content blank or too long,
//     bad send_at, empty or oversized batch). Details map each field to its
//     problem.
//   - 413 Content Too Large: the body exceeds Config.MaxBodyBytes.
package http

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/insiderone/ims"
)

// errorResponse is the body of every error answer.
type errorResponse struct {
	Error   string `json:"error"`
	Details any    `json:"details,omitempty"`
}

// unprocessableError marks an EINVALID error found in a well-formed body, so
// that ErrorStatusCode answers 422 instead of 400 (see the package doc).
type unprocessableError struct{ err error }

func (e unprocessableError) Error() string { return e.err.Error() }
func (e unprocessableError) Unwrap() error { return e.err }

// unprocessable wraps a validation error of a well-formed body.
func unprocessable(err error) error { return unprocessableError{err: err} }

// ErrorStatusCode is the one place that turns an error into an HTTP status.
func ErrorStatusCode(err error) int {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	var unproc unprocessableError
	if errors.As(err, &unproc) && ims.ErrorCode(err) == ims.EINVALID {
		return http.StatusUnprocessableEntity
	}
	switch ims.ErrorCode(err) {
	case ims.EINVALID:
		return http.StatusBadRequest
	case ims.ENOTFOUND:
		return http.StatusNotFound
	case ims.ECONFLICT:
		return http.StatusConflict
	case ims.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case ims.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, r *http.Request, logger *slog.Logger, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		// The status is already sent; all we can do is leave a trace.
		logger.LogAttrs(r.Context(), slog.LevelWarn, "write response",
			slog.String("request_id", RequestIDFromContext(r.Context())), slog.Any("error", err))
	}
}

// writeError answers err as {"error", "details"}. Internal errors are logged
// with their full text and shown to the client only as "internal error".
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status := ErrorStatusCode(err)
	if status >= http.StatusInternalServerError {
		logger.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("request_id", RequestIDFromContext(r.Context())),
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", status), slog.Any("error", err))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ims"`)
	}
	writeJSON(w, r, logger, status, errorResponse{Error: ims.ErrorMessage(err), Details: ims.ErrorDetails(err)})
}
