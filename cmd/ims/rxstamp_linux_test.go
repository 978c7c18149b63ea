package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The receiver stamps a request with the kernel's arrival time of its bytes
// (SO_TIMESTAMPNS), not with the time its handler ran. On loopback the
// kernel stamps a segment inside the sender's write, so a request IMS wrote
// before some moment is stamped before it, however late the receiver's
// goroutine is scheduled. A test that checks "no call started after X"
// needs that: a handler-time stamp can land after X for a request written
// before it (seen on a loaded CI machine: 629 µs).

// stampedListener accepts TCP connections with receive timestamps on.
type stampedListener struct{ net.Listener }

func (l stampedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("raw conn: %w", err)
	}
	var optErr error
	if err := raw.Control(func(fd uintptr) {
		optErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	if optErr != nil {
		return nil, fmt.Errorf("SO_TIMESTAMPNS: %w", optErr)
	}
	return &stampedConn{TCPConn: tc, raw: raw}, nil
}

// stampedConn reads with recvmsg and keeps the arrival time of the bytes of
// the last read that returned any.
type stampedConn struct {
	*net.TCPConn
	raw     syscall.RawConn
	arrived atomic.Pointer[time.Time]
}

func (c *stampedConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	oob := make([]byte, unix.CmsgSpace(16))
	var n, oobn int
	var rerr error
	err := c.raw.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), p, oob, 0)
		return !errors.Is(rerr, unix.EAGAIN)
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	if n == 0 {
		return 0, io.EOF
	}
	if at, ok := arrivalTime(oob[:oobn]); ok {
		c.arrived.Store(&at)
	}
	return n, nil
}

// arrivalTime finds the SCM_TIMESTAMPNS control message.
func arrivalTime(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
			return time.Unix(sec, nsec), true
		}
	}
	return time.Time{}, false
}

type stampedConnKey struct{}

// withStampedConn is an http.Server's ConnContext: it lets a handler find
// its connection's arrival stamp.
func withStampedConn(ctx context.Context, c net.Conn) context.Context {
	if sc, ok := c.(*stampedConn); ok {
		return context.WithValue(ctx, stampedConnKey{}, sc)
	}
	return ctx
}

// arrivedAt is when the kernel received the bytes of the request being
// handled (read before its handler ran), or now when unknown.
func arrivedAt(ctx context.Context) time.Time {
	if sc, ok := ctx.Value(stampedConnKey{}).(*stampedConn); ok {
		if at := sc.arrived.Load(); at != nil {
			return *at
		}
	}
	return time.Now()
}
