package redis

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/internal/testenv"
)

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      Config
		want    Config
		wantErr string
	}{
		{
			name: "zero fields take defaults",
			in:   Config{URL: "redis://127.0.0.1:6379/0"},
			want: Config{URL: "redis://127.0.0.1:6379/0", TTL: DefaultTTL, Timeout: DefaultTimeout, Prefix: DefaultPrefix},
		},
		{
			name: "set fields are kept",
			in:   Config{URL: "redis://h/1", TTL: time.Hour, Timeout: time.Second, Prefix: "p:"},
			want: Config{URL: "redis://h/1", TTL: time.Hour, Timeout: time.Second, Prefix: "p:"},
		},
		{name: "empty URL", in: Config{}, wantErr: "URL is empty"},
		{name: "negative TTL", in: Config{URL: "redis://h", TTL: -time.Second}, wantErr: "must not be negative"},
		{name: "negative timeout", in: Config{URL: "redis://h", Timeout: -time.Second}, wantErr: "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.in.withDefaults()
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestNewHidesPassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		url     string
		wantErr string
	}{
		{name: "malformed port", url: "redis://user:s3cret@127.0.0.1:port/0", wantErr: "credentials"},
		{name: "bad escape", url: "redis://user:s3%zzcret@127.0.0.1:6379/0", wantErr: "credentials"},
		{name: "bad scheme", url: "http://user:s3cret@127.0.0.1:6379/0", wantErr: "invalid URL scheme"},
		{name: "bad database", url: "redis://user:s3cret@127.0.0.1:6379/db", wantErr: "invalid database number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(Config{URL: tt.url})
			require.ErrorContains(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), "s3")
		})
	}
}

func TestCachePutGet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		put  []ims.SentCacheEntry
	}{
		{name: "one entry", put: entries(1, "one")},
		{name: "batch", put: entries(1000, "batch")},
		{name: "empty batch", put: nil},
		{name: "zero time and empty provider id", put: []ims.SentCacheEntry{{MessageID: "bare"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Config{})
			ctx := context.Background()
			require.NoError(t, b.cache.Put(ctx, tt.put))
			for _, want := range tt.put {
				got, found, err := b.cache.Get(ctx, want.MessageID)
				require.NoError(t, err)
				require.True(t, found, want.MessageID)
				require.Equal(t, want.MessageID, got.MessageID)
				require.Equal(t, want.ProviderMessageID, got.ProviderMessageID)
				require.True(t, want.SentAt.Equal(got.SentAt), "sent_at %s, want %s", got.SentAt, want.SentAt)
			}
			n, err := b.raw.Exists(ctx, keysOf(b.prefix, tt.put)...).Result()
			if len(tt.put) == 0 {
				return // EXISTS needs at least one key
			}
			require.NoError(t, err)
			require.EqualValues(t, len(tt.put), n)
		})
	}
}

func keysOf(prefix string, es []ims.SentCacheEntry) []string {
	keys := make([]string, len(es))
	for i, e := range es {
		keys[i] = prefix + e.MessageID
	}
	return keys
}

func TestCacheStoredValue(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	ctx := context.Background()
	e := entries(1, "json")[0]
	require.NoError(t, b.cache.Put(ctx, []ims.SentCacheEntry{e}))

	raw, err := b.raw.Get(ctx, b.prefix+e.MessageID).Bytes()
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(raw, &fields))
	require.Equal(t, map[string]any{
		"provider_message_id": e.ProviderMessageID,
		"sent_at":             e.SentAt.Format(time.RFC3339Nano),
	}, fields)
}

func TestCacheTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ttl  time.Duration
		want time.Duration
	}{
		{name: "configured", ttl: time.Hour, want: time.Hour},
		{name: "default", ttl: 0, want: DefaultTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Config{TTL: tt.ttl})
			ctx := context.Background()
			es := entries(3, "ttl")
			require.NoError(t, b.cache.Put(ctx, es))
			for _, key := range keysOf(b.prefix, es) {
				got, err := b.raw.TTL(ctx, key).Result()
				require.NoError(t, err)
				require.Positive(t, got, key) // -1 would mean no expiry
				require.LessOrEqual(t, got, tt.want, key)
			}
		})
	}
}

func TestCacheGetMissing(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	got, found, err := b.cache.Get(context.Background(), "never-put")
	require.NoError(t, err)
	require.False(t, found)
	require.Zero(t, got)
}

func TestCacheInvalidInput(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	ctx := context.Background()

	t.Run("put without message id writes nothing", func(t *testing.T) {
		es := append(entries(2, "valid"), ims.SentCacheEntry{ProviderMessageID: "p"})
		err := b.cache.Put(ctx, es)
		require.Equal(t, ims.EINVALID, ims.ErrorCode(err))
		n, err := b.raw.Exists(ctx, keysOf(b.prefix, es[:2])...).Result()
		require.NoError(t, err)
		require.Zero(t, n)
	})
	t.Run("get without message id", func(t *testing.T) {
		_, found, err := b.cache.Get(ctx, "")
		require.Equal(t, ims.EINVALID, ims.ErrorCode(err))
		require.False(t, found)
	})
	t.Run("undecodable value", func(t *testing.T) {
		require.NoError(t, b.raw.Set(ctx, b.prefix+"garbage", "not json", time.Minute).Err())
		_, found, err := b.cache.Get(ctx, "garbage")
		require.ErrorContains(t, err, "decode sent-cache entry garbage")
		require.False(t, found)
	})
}

func TestCachePing(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	require.NoError(t, b.cache.Ping(context.Background()))
}

// TestCacheUnreachable checks that every call fails, rather than hangs, when
// nothing listens, and that New itself does not need Redis.
func TestCacheUnreachable(t *testing.T) {
	t.Parallel()
	cache, err := New(Config{URL: "redis://user:s3cret@" + closedAddr(t) + "/0"})
	require.NoError(t, err)
	defer func() { require.NoError(t, cache.Close()) }()
	ctx := context.Background()

	tests := []struct {
		name string
		call func() error
		want string
	}{
		{name: "put", call: func() error { return cache.Put(ctx, entries(3, "down")) }, want: "put 3 sent-cache entries"},
		{name: "get", call: func() error { _, _, err := cache.Get(ctx, "down-0"); return err }, want: "get sent-cache entry down-0"},
		{name: "ping", call: func() error { return cache.Ping(ctx) }, want: "ping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.ErrorIs(t, err, syscall.ECONNREFUSED)
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "s3cret")
		})
	}
}

// TestCacheCallerDeadline checks that a caller's shorter deadline wins.
func TestCacheCallerDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.cache.Put(ctx, entries(1, "canceled"))
	require.ErrorIs(t, err, context.Canceled)
}

// TestCacheNetworkCut puts a proxy between the cache and Redis and cuts it
// mid-run: calls fail during the cut and work again once it is restored,
// with the same Cache.
func TestCacheNetworkCut(t *testing.T) {
	t.Parallel()
	redisURL := testenv.RedisURL(t)
	opts, err := goredis.ParseURL(redisURL)
	require.NoError(t, err)
	p := testenv.NewProxy(t, opts.Addr)
	b := setup(t, Config{URL: withHost(t, redisURL, p.Addr())})
	ctx := context.Background()

	require.NoError(t, b.cache.Put(ctx, entries(10, "before")))

	p.Cut()
	err = b.cache.Put(ctx, entries(10, "during"))
	require.ErrorContains(t, err, "put 10 sent-cache entries")
	_, _, err = b.cache.Get(ctx, "before-0")
	require.Error(t, err)

	p.Restore()
	require.NoError(t, b.cache.Put(ctx, entries(10, "after")))
	for _, id := range []string{"before-9", "after-9"} {
		_, found, err := b.cache.Get(ctx, id)
		require.NoError(t, err)
		require.True(t, found, id)
	}
	_, found, err := b.cache.Get(ctx, "during-0")
	require.NoError(t, err)
	require.False(t, found, "a put that failed during the cut must not have landed")
}
