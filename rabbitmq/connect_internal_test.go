package rabbitmq

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestConnectEndsWithItsContext dials a peer that accepts TCP but never
// speaks AMQP: amqp091-go's handshake has no context, so without the
// watch on ctx a Close (or a shutdown) would wait the whole DialTimeout.
func TestConnectEndsWithItsContext(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		for c := range accepted {
			_ = c.Close()
		}
	})

	cfg, err := Config{URL: "amqp://guest:guest@" + ln.Addr().String() + "/", DialTimeout: time.Hour}.withDefaults()
	require.NoError(t, err)
	q := &Queue{cfg: cfg, topo: TopologyFor(cfg.Prefix), log: cfg.Logger}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := q.connect(ctx)
		done <- err
	}()
	// The handshake is under way once the peer has the connection.
	if c, ok := <-accepted; ok {
		defer func() { _ = c.Close() }()
	}
	cancel()
	select {
	case err := <-done:
		require.Error(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("connect did not return after its context ended")
	}
}
