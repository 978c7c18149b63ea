package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/testenv"
)

// bundle is what a Redis test works with: the cache under test, a plain
// client to inspect Redis directly, and the test's own key prefix.
type bundle struct {
	cache  *Cache
	raw    *goredis.Client
	prefix string
}

// setup returns a cache on the test Redis (or on url when it is not empty,
// e.g. a proxy in front of it) whose keys live under a random prefix that is
// deleted when the test ends.
func setup(t *testing.T, cfg Config) bundle {
	t.Helper()
	redisURL := testenv.RedisURL(t)
	if cfg.URL == "" {
		cfg.URL = redisURL
	}
	cfg.Prefix = "ims:test:" + randomHex(t) + ":"
	cache, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cache.Close()) })

	opts, err := goredis.ParseURL(redisURL)
	require.NoError(t, err)
	raw := goredis.NewClient(opts)
	t.Cleanup(func() {
		deleteKeys(t, raw, cfg.Prefix)
		require.NoError(t, raw.Close())
	})
	return bundle{cache: cache, raw: raw, prefix: cfg.Prefix}
}

func deleteKeys(t *testing.T, raw *goredis.Client, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := raw.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	require.NoError(t, iter.Err())
	if len(keys) > 0 {
		require.NoError(t, raw.Del(ctx, keys...).Err())
	}
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// entries returns n distinct entries with ids id-0, id-1, ...
func entries(n int, id string) []ims.SentCacheEntry {
	sentAt := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	out := make([]ims.SentCacheEntry, n)
	for i := range out {
		out[i] = ims.SentCacheEntry{
			MessageID:         fmt.Sprintf("%s-%d", id, i),
			ProviderMessageID: fmt.Sprintf("provider-%s-%d", id, i),
			SentAt:            sentAt.Add(time.Duration(i) * time.Second),
		}
	}
	return out
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// withHost returns rawURL pointing at addr instead of its own host.
func withHost(t *testing.T, rawURL, addr string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	u.Host = addr
	return u.String()
}
