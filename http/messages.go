package http

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/insiderone/ims"
)

// IdempotencyKeyHeader lets a client retry POST /api/messages safely.
const IdempotencyKeyHeader = "Idempotency-Key"

// IdempotentReplayedHeader marks an answer that returns the message an earlier
// request with the same Idempotency-Key created.
const IdempotentReplayedHeader = "Idempotent-Replayed"

// cacheLookupTimeout bounds the Redis lookup of GET /api/messages/{id}: the
// cache is a nicety and must never make the API slow.
const cacheLookupTimeout = 300 * time.Millisecond

func (s *Server) handleCreateMessage(w http.ResponseWriter, r *http.Request) {
	var in ims.MessageInput
	err := noQuery(r)
	if err == nil {
		err = decodeJSON(r, &in)
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	nm, err := in.Validate(s.createRules(), r.Header.Get(IdempotencyKeyHeader))
	if err != nil {
		writeError(w, r, s.logger, unprocessable(err))
		return
	}
	res, err := s.deps.Messages.CreateMessages(r.Context(), ims.WithActor(actor(r), []ims.NewMessage{nm}))
	if err == nil && len(res) != 1 {
		err = fmt.Errorf("create message: store returned %d results for 1 message", len(res))
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	if !res[0].Created {
		w.Header().Set(IdempotentReplayedHeader, "true")
		writeJSON(w, r, s.logger, http.StatusOK, res[0].Message)
		return
	}
	w.Header().Set("Location", "/api/messages/"+res[0].Message.ID)
	writeJSON(w, r, s.logger, http.StatusCreated, res[0].Message)
}

type batchRequest struct {
	Messages []ims.MessageInput `json:"messages"`
}

type batchResponse struct {
	Messages []ims.Message `json:"messages"`
	Created  int           `json:"created"`
}

func (s *Server) handleCreateBatch(w http.ResponseWriter, r *http.Request) {
	var in batchRequest
	err := noQuery(r)
	if err == nil {
		err = decodeJSON(r, &in)
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	msgs, err := ims.ValidateBatch(in.Messages, s.createRules(), r.Header.Get(IdempotencyKeyHeader))
	if err != nil {
		writeError(w, r, s.logger, unprocessable(err))
		return
	}
	res, err := s.deps.Messages.CreateMessages(r.Context(), ims.WithActor(actor(r), msgs))
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	out := batchResponse{Messages: make([]ims.Message, len(res))}
	for i, cr := range res {
		out.Messages[i] = cr.Message
		if cr.Created {
			out.Created++
		}
	}
	status := http.StatusCreated
	if out.Created == 0 {
		// Every message came from an earlier request with the same key.
		status = http.StatusOK
		w.Header().Set(IdempotentReplayedHeader, "true")
	}
	writeJSON(w, r, s.logger, status, out)
}

// createRules are the rules of every create, single or batch, as of now.
func (s *Server) createRules() ims.CreateRules {
	return ims.CreateRules{MaxContentLength: s.cfg.MaxContentLength, SendAtHorizon: s.cfg.SendAtHorizon,
		MaxBatchSize: s.cfg.MaxBatchSize, DefaultTTL: s.cfg.MessageTTL, Now: s.now(),
		MaxSegments: s.cfg.MaxSegments, PhoneValidation: s.cfg.PhoneValidation, QuietHours: s.cfg.QuietHours}
}

func (s *Server) handleListMessages(w http.ResponseWriter, r *http.Request) {
	s.listMessages(w, r, "")
}

func (s *Server) handleListSent(w http.ResponseWriter, r *http.Request) {
	s.listMessages(w, r, ims.StatusSent)
}

func (s *Server) handleListDead(w http.ResponseWriter, r *http.Request) {
	s.listMessages(w, r, ims.StatusDead)
}

// listMessages serves the message lists; status, when set, is fixed by the
// route, which then takes no ?status=.
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, status ims.Status) {
	f, err := parseMessageFilter(r, status)
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	page, err := s.deps.Messages.ListMessages(r.Context(), f)
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	if page.Messages == nil {
		page.Messages = []ims.Message{} // [] rather than null for clients
	}
	writeJSON(w, r, s.logger, http.StatusOK, page)
}

func parseMessageFilter(r *http.Request, status ims.Status) (ims.MessageFilter, error) {
	allowed := []string{"limit", "cursor", "priority", "delivery_status"}
	if status == "" {
		allowed = append(allowed, "status", "phone_number")
	}
	q, err := parseQuery(r, allowed...)
	if err != nil {
		return ims.MessageFilter{}, err
	}
	f := ims.MessageFilter{Status: status}
	if f.Status == "" {
		if f.Status, err = parseStatus(q); err != nil {
			return f, err
		}
	}
	if f.PhoneNumber, err = parsePhoneFilter(q); err != nil {
		return f, err
	}
	if f.Priority, err = parsePriority(q); err != nil {
		return f, err
	}
	if f.Delivery, f.DeliverySet, err = ims.ParseDeliveryFilter(q.Get("delivery_status")); err != nil {
		return f, invalidParam("delivery_status", "must be delivered, undelivered or none")
	}
	if f.Limit, err = parseLimit(q, ims.DefaultPageLimit); err != nil {
		return f, err
	}
	f.Before, err = parseMessageCursor(q)
	return f, err
}

type replayResponse struct {
	Replayed int `json:"replayed"`
}

func (s *Server) handleReplayDeadLetters(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r, "limit")
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	limit, err := parseLimit(q, ims.DefaultReplayLimit)
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	n, err := s.deps.Messages.ReplayDeadLetters(r.Context(), actor(r), limit)
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	writeJSON(w, r, s.logger, http.StatusOK, replayResponse{Replayed: n})
}

// messageDetail is GET /api/messages/{id}: the message, how each delivery
// attempt went, and what the sent-cache knows about it.
type messageDetail struct {
	Message  ims.Message   `json:"message"`
	Attempts []ims.Attempt `json:"attempts"`
	Cache    cacheInfo     `json:"cache"`
}

type cacheInfo struct {
	Enabled           bool       `json:"enabled"`
	Cached            bool       `json:"cached"`
	ProviderMessageID string     `json:"provider_message_id,omitempty"`
	SentAt            *time.Time `json:"sent_at,omitempty"`
	Error             string     `json:"error,omitempty"`
}

func (s *Server) handleGetMessage(w http.ResponseWriter, r *http.Request) {
	id, err := pathMessageID(r)
	if err == nil {
		err = noQuery(r)
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	m, err := s.deps.Messages.GetMessage(r.Context(), id)
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	attempts, err := s.deps.Messages.ListAttempts(r.Context(), id)
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	if attempts == nil {
		attempts = []ims.Attempt{}
	}
	writeJSON(w, r, s.logger, http.StatusOK, messageDetail{Message: m, Attempts: attempts, Cache: s.lookupCache(r, id)})
}

// lookupCache asks the sent-cache about a message. Its failures are reported
// in the answer and logged, never turned into an error response.
func (s *Server) lookupCache(r *http.Request, id string) cacheInfo {
	if s.deps.Cache == nil {
		return cacheInfo{}
	}
	ctx, cancel := context.WithTimeout(r.Context(), cacheLookupTimeout)
	defer cancel()
	e, ok, err := s.deps.Cache.Get(ctx, id)
	if err != nil {
		s.logger.LogAttrs(r.Context(), slog.LevelWarn, "sent-cache lookup failed",
			slog.String("request_id", RequestIDFromContext(r.Context())),
			slog.String("message_id", id), slog.Any("error", err))
		return cacheInfo{Enabled: true, Error: "cache unavailable"}
	}
	if !ok {
		return cacheInfo{Enabled: true}
	}
	sentAt := e.SentAt
	return cacheInfo{Enabled: true, Cached: true, ProviderMessageID: e.ProviderMessageID, SentAt: &sentAt}
}

func (s *Server) handleCancelMessage(w http.ResponseWriter, r *http.Request) {
	id, err := pathMessageID(r)
	if err == nil {
		err = noQuery(r)
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	m, err := s.deps.Messages.CancelMessage(r.Context(), id, actor(r))
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	writeJSON(w, r, s.logger, http.StatusOK, m)
}

// handleReplayMessage replays one dead or expired message. An expired one
// needs a new expiry in the body ({"ttl_seconds": N} or {"expires_at":
// ...}); a dead one may be given one; no body is a plain dead-letter replay.
func (s *Server) handleReplayMessage(w http.ResponseWriter, r *http.Request) {
	id, err := pathMessageID(r)
	if err == nil {
		err = noQuery(r)
	}
	var in ims.ReplayInput
	if err == nil {
		_, err = decodeOptionalJSON(r, &in)
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	exp, err := in.Validate(s.now())
	if err != nil {
		writeError(w, r, s.logger, unprocessable(err))
		return
	}
	var m ims.Message
	if exp != nil {
		m, err = s.deps.Messages.ReplayWithExpiry(r.Context(), id, actor(r), *exp)
	} else {
		m, err = s.deps.Messages.ReplayMessage(r.Context(), id, actor(r))
		if ims.ErrorCode(err) == ims.ECONFLICT {
			if cur, gerr := s.deps.Messages.GetMessage(r.Context(), id); gerr == nil && cur.Status == ims.StatusExpired {
				err = ims.ReplayNeedsExpiry()
			}
		}
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	writeJSON(w, r, s.logger, http.StatusOK, m)
}
