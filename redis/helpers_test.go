package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
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

// proxy forwards TCP connections to a target until it is cut: then it drops
// every open connection and closes new ones at once, as a dead network would.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // listener closed
		}
		p.wg.Add(1)
		go p.serve(client)
	}
}

func (p *proxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	if !p.track(client, server) {
		_ = client.Close()
		_ = server.Close()
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(server, client)
	go pipe(client, server)
	<-done
	p.untrack(client, server)
	<-done
}

// track registers the pair unless the proxy is cut.
func (p *proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// Cut drops every open connection and refuses new ones until Restore.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

func (p *proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

func (p *proxy) close() {
	_ = p.ln.Close()
	p.Cut()
	p.wg.Wait()
}
