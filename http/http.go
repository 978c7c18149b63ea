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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

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

// writeJSON answers status with v as JSON. It is the one place that writes
// a JSON answer: v is encoded before the status line goes out, so a value
// that cannot be encoded (a time past year 9999, say) is a logged 500, never
// a 2xx with no body.
func writeJSON(w http.ResponseWriter, r *http.Request, logger *slog.Logger, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		logRequestError(r, logger, http.StatusInternalServerError, fmt.Errorf("encode response: %w", err))
		status = http.StatusInternalServerError
		buf.Reset()
		// An errorResponse of two strings always encodes.
		_ = json.NewEncoder(&buf).Encode(errorResponse{Error: ims.ErrorMessage(err)})
		w.Header().Del("Location")
		w.Header().Del(IdempotentReplayedHeader)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if _, err := w.Write(buf.Bytes()); err != nil {
		// The status is already sent; the client has most likely gone.
		logger.LogAttrs(r.Context(), slog.LevelDebug, "write response",
			slog.String("request_id", RequestIDFromContext(r.Context())), slog.Any("error", err))
	}
}

// StatusClientClosedRequest is what the access log records for a request
// whose client went away before the answer (nginx's 499): nobody reads it.
const StatusClientClosedRequest = 499

// writeError answers err as {"error", "details"}. Internal errors are logged
// with their full text and shown to the client only as "internal error". A
// request that failed because its client hung up is no server error: it is
// logged at debug level as a client close.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status := ErrorStatusCode(err)
	if clientClosed(r, err) {
		logger.LogAttrs(r.Context(), slog.LevelDebug, "client closed request",
			slog.String("request_id", RequestIDFromContext(r.Context())),
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
		writeJSON(w, r, logger, StatusClientClosedRequest, errorResponse{Error: "client closed request"})
		return
	}
	if status >= http.StatusInternalServerError {
		logRequestError(r, logger, status, err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ims"`)
	}
	writeJSON(w, r, logger, status, errorResponse{Error: ims.ErrorMessage(err), Details: ims.ErrorDetails(err)})
}

// clientClosed reports whether a failure came after the client hung up:
// net/http cancels the request's context then, and the store call fails
// with it (as a context error, or a connection the driver had to drop); or
// the client left while sending its body, which ends the body early before
// net/http notices and cancels anything.
func clientClosed(r *http.Request, err error) bool {
	if errors.Is(err, errBodyCut) {
		return true
	}
	return errors.Is(r.Context().Err(), context.Canceled) && ErrorStatusCode(err) >= http.StatusInternalServerError
}

func logRequestError(r *http.Request, logger *slog.Logger, status int, err error) {
	logger.LogAttrs(r.Context(), slog.LevelError, "request failed",
		slog.String("request_id", RequestIDFromContext(r.Context())),
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", status), slog.Any("error", err))
}
