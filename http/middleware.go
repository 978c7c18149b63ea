package http

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/insiderone/ims"
)

type ctxKey int

const requestIDKey ctxKey = iota

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-ID"

// maxRequestIDLength bounds a client-chosen request id, which ends up in logs
// and audit actors.
const maxRequestIDLength = 128

// RequestIDFromContext returns the id withRequestID gave the request, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// actor names the API request in the audit trail.
func actor(r *http.Request) string {
	return "api:" + RequestIDFromContext(r.Context())
}

// withRequestID honours a sane X-Request-ID so a caller can follow its
// request through our logs, and otherwise makes one up. Either way it is
// echoed back.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = uuid.NewString()
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

// validRequestID accepts short ids of URL-safe characters only, so a client
// cannot inject anything odd into logs.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLength {
		return false
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)
		if !ok {
			return false
		}
	}
	return true
}

// responseRecorder remembers what was sent, for the access log and for
// knowing whether a panic can still be answered.
type responseRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (rr *responseRecorder) WriteHeader(code int) {
	if rr.status == 0 {
		rr.status = code
	}
	rr.ResponseWriter.WriteHeader(code)
}

func (rr *responseRecorder) Write(b []byte) (int, error) {
	if rr.status == 0 {
		rr.status = http.StatusOK
	}
	n, err := rr.ResponseWriter.Write(b)
	rr.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (rr *responseRecorder) Unwrap() http.ResponseWriter { return rr.ResponseWriter }

// logAccess logs one line per request. Headers are never logged: they carry
// the API key. Polled endpoints log at debug level so they do not drown the
// rest; so do requests whose client left.
func (s *Server) logAccess(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &responseRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		level := slog.LevelInfo
		if r.URL.Path == "/api/health" || r.URL.Path == "/metrics" || rec.status == StatusClientClosedRequest {
			level = slog.LevelDebug
		}
		s.logger.LogAttrs(r.Context(), level, "http request",
			slog.String("request_id", RequestIDFromContext(r.Context())),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int("bytes", rec.bytes),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote_addr", r.RemoteAddr))
	})
}

// recoverPanic turns a handler panic into a logged 500 instead of a dropped
// connection.
func (s *Server) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &responseRecorder{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler { //nolint:errorlint // net/http compares it the same way
				panic(p)
			}
			s.logger.LogAttrs(r.Context(), slog.LevelError, "handler panic",
				slog.String("request_id", RequestIDFromContext(r.Context())),
				slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			if rec.status == 0 {
				writeError(rec, r, s.logger, fmt.Errorf("panic: %v", p))
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// limitBody caps every request body; decodeJSON reports the overflow as 413.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// requireAPIKey accepts "Authorization: <key>" and "Authorization: Bearer
// <key>". Both sides are hashed before the constant-time compare so that not
// even the key's length leaks through timing.
func (s *Server) requireAPIKey(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(s.cfg.APIKey))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimSpace(r.Header.Get("Authorization"))
		if len(key) > 7 && strings.EqualFold(key[:7], "bearer ") {
			key = strings.TrimSpace(key[7:])
		} else if strings.EqualFold(key, "bearer") {
			key = "" // "Bearer " with the key left out, trimmed
		}
		if key == "" {
			writeError(w, r, s.logger, ims.Errorf(ims.EUNAUTHORIZED,
				"missing API key: send it as \"Authorization: <key>\" or \"Authorization: Bearer <key>\""))
			return
		}
		got := sha256.Sum256([]byte(key))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			writeError(w, r, s.logger, ims.Errorf(ims.EUNAUTHORIZED, "invalid API key"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// jsonMuxErrors makes the mux's own 404 and 405 answers JSON like every other
// error. Matched requests go straight through.
func (s *Server) jsonMuxErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// No route: the mux answers 404, 405 (with Allow) or a redirect to a
		// cleaned path. Let it set headers, swallow its plain-text errors.
		mw := &muxErrorWriter{ResponseWriter: w}
		h.ServeHTTP(mw, r)
		switch mw.status {
		case http.StatusNotFound:
			writeError(w, r, s.logger, ims.Errorf(ims.ENOTFOUND, "no route for %s %s", r.Method, r.URL.Path))
		case http.StatusMethodNotAllowed:
			writeJSON(w, r, s.logger, http.StatusMethodNotAllowed, errorResponse{
				Error:   fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path),
				Details: map[string]string{"allowed": w.Header().Get("Allow")},
			})
		}
	})
}

// muxErrorWriter passes everything through except a 404 or 405, whose status
// and plain-text body it keeps back so that a JSON answer can replace them.
type muxErrorWriter struct {
	http.ResponseWriter
	status int
}

func (m *muxErrorWriter) swallowed() bool {
	return m.status == http.StatusNotFound || m.status == http.StatusMethodNotAllowed
}

func (m *muxErrorWriter) WriteHeader(code int) {
	m.status = code
	if !m.swallowed() {
		m.ResponseWriter.WriteHeader(code)
	}
}

func (m *muxErrorWriter) Write(b []byte) (int, error) {
	if m.swallowed() {
		return len(b), nil
	}
	return m.ResponseWriter.Write(b)
}
