// Package redis is the sent-cache: after a message is delivered, it remembers
// the provider's message id and the send time under the message id, with a
// TTL. The cache is optional and best effort, so every call is bounded by a
// short timeout and a Redis outage costs the caller at most that timeout.
package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/insiderone/ims"
)

// Defaults for Config fields left zero.
const (
	DefaultTTL     = 168 * time.Hour
	DefaultTimeout = 250 * time.Millisecond
	DefaultPrefix  = "ims:sent:"
)

// Config configures a Cache. Zero fields take the defaults above.
type Config struct {
	// URL is like redis://[:password@]127.0.0.1:6379/0 (REDIS_URL).
	URL string
	// TTL is how long an entry is kept (REDIS_CACHE_TTL).
	TTL time.Duration
	// Timeout bounds every operation: it is the dial, read, write and pool
	// timeout and the deadline put on each call's context.
	Timeout time.Duration
	// Prefix is prepended to the message id to form the key.
	Prefix string
}

func (c Config) withDefaults() (Config, error) {
	if c.URL == "" {
		return c, errors.New("redis config: URL is empty")
	}
	if c.TTL < 0 || c.Timeout < 0 {
		return c, fmt.Errorf("redis config: TTL (%s) and Timeout (%s) must not be negative", c.TTL, c.Timeout)
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	return c, nil
}

// Cache is the Redis sent-cache. It implements ims.SentCache and is safe for
// concurrent use.
type Cache struct {
	rdb     *goredis.Client
	ttl     time.Duration
	timeout time.Duration
	prefix  string
	addr    string // host:port only, for error context; never the password
}

var _ ims.SentCache = (*Cache)(nil)

// New builds a Cache. It does not connect: Redis may come up later, and each
// call dials on demand.
func New(cfg Config) (*Cache, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	opts, err := goredis.ParseURL(cfg.URL)
	if err != nil {
		return nil, parseURLError(cfg.URL, err)
	}
	bound(opts, cfg.Timeout)
	return &Cache{
		rdb:     goredis.NewClient(opts),
		ttl:     cfg.TTL,
		timeout: cfg.Timeout,
		prefix:  cfg.Prefix,
		addr:    opts.Addr,
	}, nil
}

// bound makes sure that no client-side wait outlasts timeout: go-redis's own
// defaults (5s dials retried 5 times, 3 command retries, a pool wait of
// ReadTimeout+1s) would let an outage stall delivery for many seconds.
func bound(opts *goredis.Options, timeout time.Duration) {
	opts.DialTimeout = timeout
	opts.DialerRetries = 1 // one attempt; the next call dials again
	opts.ReadTimeout = timeout
	opts.WriteTimeout = timeout
	opts.PoolTimeout = timeout
	opts.ContextTimeoutEnabled = true
	// One immediate retry lets the first call after a Redis restart replace
	// a dead pooled connection instead of failing; the context deadline still
	// caps the whole call at timeout.
	opts.MaxRetries = 1
	opts.MinRetryBackoff = -1
	opts.MaxRetryBackoff = -1
}

// parseURLError hides credentials: url.Parse errors quote the whole URL.
func parseURLError(raw string, err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) && hasUserinfo(raw) {
		return errors.New("parse redis URL: malformed URL (not shown: it holds credentials)")
	}
	return fmt.Errorf("parse redis URL: %w", err)
}

func hasUserinfo(raw string) bool {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		rest = raw
	}
	authority, _, _ := strings.Cut(rest, "/")
	return strings.Contains(authority, "@")
}

// cachedValue is what is stored under a key; the message id is the key.
type cachedValue struct {
	ProviderMessageID string    `json:"provider_message_id"`
	SentAt            time.Time `json:"sent_at"`
}

func (c *Cache) key(messageID string) string { return c.prefix + messageID }

// Put stores entries in one pipelined round trip, each with the cache TTL.
// An entry without a message id fails the whole batch before any I/O.
func (c *Cache) Put(ctx context.Context, entries []ims.SentCacheEntry) error {
	if len(entries) == 0 {
		return nil
	}
	values, err := encodeEntries(entries)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, err = c.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, e := range entries {
			p.Set(ctx, c.key(e.MessageID), values[i], c.ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis %s: put %d sent-cache entries: %w", c.addr, len(entries), err)
	}
	return nil
}

func encodeEntries(entries []ims.SentCacheEntry) ([][]byte, error) {
	values := make([][]byte, len(entries))
	for i, e := range entries {
		if e.MessageID == "" {
			return nil, ims.Errorf(ims.EINVALID, "sent-cache entry %d has no message id", i)
		}
		b, err := json.Marshal(cachedValue{ProviderMessageID: e.ProviderMessageID, SentAt: e.SentAt})
		if err != nil {
			return nil, fmt.Errorf("encode sent-cache entry %s: %w", e.MessageID, err)
		}
		values[i] = b
	}
	return values, nil
}

// Get returns the entry for messageID; found is false, with a nil error, when
// nothing is cached for it.
func (c *Cache) Get(ctx context.Context, messageID string) (ims.SentCacheEntry, bool, error) {
	if messageID == "" {
		return ims.SentCacheEntry{}, false, ims.Errorf(ims.EINVALID, "message id is empty")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	b, err := c.rdb.Get(ctx, c.key(messageID)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return ims.SentCacheEntry{}, false, nil
	} else if err != nil {
		return ims.SentCacheEntry{}, false, fmt.Errorf("redis %s: get sent-cache entry %s: %w", c.addr, messageID, err)
	}
	var v cachedValue
	if err := json.Unmarshal(b, &v); err != nil {
		return ims.SentCacheEntry{}, false, fmt.Errorf("decode sent-cache entry %s: %w", messageID, err)
	}
	return ims.SentCacheEntry{MessageID: messageID, ProviderMessageID: v.ProviderMessageID, SentAt: v.SentAt}, true, nil
}

// Ping checks that Redis answers within the timeout.
func (c *Cache) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis %s: ping: %w", c.addr, err)
	}
	return nil
}

// Close releases the connections.
func (c *Cache) Close() error {
	if err := c.rdb.Close(); err != nil {
		return fmt.Errorf("redis %s: close: %w", c.addr, err)
	}
	return nil
}
