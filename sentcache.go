package ims

import (
	"context"
	"time"
)

// SentCacheEntry is what the sent-cache keeps for a delivered message.
type SentCacheEntry struct {
	MessageID         string    `json:"message_id"`
	ProviderMessageID string    `json:"provider_message_id"`
	SentAt            time.Time `json:"sent_at"`
}

// SentCache remembers sent messages (Redis). Callers bound every call with a
// short timeout: a cache outage must never block or slow delivery.
type SentCache interface {
	// Put stores a batch of entries (one pipelined round trip).
	Put(ctx context.Context, entries []SentCacheEntry) error
	Get(ctx context.Context, messageID string) (SentCacheEntry, bool, error)
	Ping(ctx context.Context) error
}
