//go:build !linux

package main

import (
	"context"
	"net"
	"time"
)

// Elsewhere than Linux the receiver stamps a request when its handler runs
// (see rxstamp_linux_test.go for why Linux does better).
type stampedListener struct{ net.Listener }

func withStampedConn(ctx context.Context, _ net.Conn) context.Context { return ctx }

func arrivedAt(context.Context) time.Time { return time.Now() }
