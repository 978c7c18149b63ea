package webhook

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/insiderone/ims"
)

// On HTTP/1 the request-sent hook runs once the request's bytes are in the
// receiving socket, not when the Transport has merely buffered them (its
// WroteRequest hook, which a stop waited for and answered too early by).
// The receiver here is a bare socket that nobody reads until the hook has
// looked at it.
func TestRequestSentHookRunsOnceTheRequestIsOnTheSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	conns, peeked := make(chan net.Conn, 1), make(chan struct{})
	served := make(chan error, 1)
	go func() { served <- serveOne(ln, conns, peeked) }()

	c, err := New(Config{URL: "http://" + ln.Addr().String() + "/hook"})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	var onSocket int
	var runs atomic.Int32
	sent := func() {
		runs.Add(1)
		conn := <-conns
		onSocket = bytesWaiting(t, conn)
		conns <- conn
		close(peeked)
	}
	res := c.Deliver(ims.WithRequestSent(context.Background(), sent), message("m1", "+905551111111", "hi"))
	require.NoError(t, <-served)
	require.Equal(t, 202, res.StatusCode, res.Err)
	require.Equal(t, int32(1), runs.Load(), "the hook runs once per request sent")
	require.Positive(t, onSocket, "the request was in the receiver's socket when the hook ran")
}

// serveOne accepts one connection, hands it out on conns, waits for peeked,
// then reads one request from it and answers 202.
func serveOne(ln net.Listener, conns chan net.Conn, peeked <-chan struct{}) error {
	conn, err := ln.Accept()
	if err != nil {
		return err
	}
	defer conn.Close()
	conns <- conn
	<-peeked
	conn = <-conns
	req, err := http.ReadRequest(bufio.NewReader(conn))
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, req.Body)
	_, err = io.WriteString(conn, "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
	return err
}

// bytesWaiting is how many bytes conn's socket holds unread, without
// reading them or waiting.
func bytesWaiting(t *testing.T, conn net.Conn) int {
	t.Helper()
	raw, err := conn.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	buf := make([]byte, 64<<10)
	var n int
	var peekErr error
	require.NoError(t, raw.Control(func(fd uintptr) {
		n, _, peekErr = unix.Recvfrom(int(fd), buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
	}))
	if errors.Is(peekErr, unix.EAGAIN) {
		return 0
	}
	require.NoError(t, peekErr)
	return n
}

// Over TLS the hook runs once per request too: through the connection on
// HTTP/1, through the Transport's WroteRequest on HTTP/2, where one
// connection carries many requests at once (arming the connection there
// would run one call's hook for another's frames and never run the rest).
func TestRequestSentHookOverTLS(t *testing.T) {
	tests := []struct {
		name  string
		http2 bool
		proto string
		// viaConn: the hook is armed on the connection the request got.
		viaConn bool
	}{
		{"HTTP/1.1", false, "HTTP/1.1", true},
		{"HTTP/2, concurrent requests on one connection", true, "HTTP/2.0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var protos sync.Map
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				protos.Store(r.Proto, true)
				_, _ = io.Copy(io.Discard, r.Body)
				accepted(w, r)
			}))
			srv.EnableHTTP2 = tt.http2
			srv.StartTLS()
			t.Cleanup(srv.Close)
			c, err := New(Config{URL: srv.URL + "/hook"})
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			c.transport.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()

			const calls = 32
			var wg sync.WaitGroup
			var armed sync.Map // call -> whether its connection was armed
			runs := make([]atomic.Int32, calls)
			runsAtReturn := make([]int32, calls)
			results := make([]ims.DeliveryResult, calls)
			for i := range calls {
				wg.Go(func() {
					ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
						GotConn: func(info httptrace.GotConnInfo) { armed.Store(i, http1WireConn(info.Conn) != nil) },
					})
					ctx = ims.WithRequestSent(ctx, func() { runs[i].Add(1) })
					results[i] = c.Deliver(ctx, message("m1", "+905551111111", "hi"))
					runsAtReturn[i] = runs[i].Load()
				})
			}
			wg.Wait()
			for i, r := range results {
				require.Equal(t, 202, r.StatusCode, "call %d: %s", i, r.Err)
				require.Equal(t, int32(1), runsAtReturn[i], "call %d: the hook ran once before Deliver returned", i)
				require.Equal(t, int32(1), runs[i].Load(), "call %d: and not again", i)
				viaConn, _ := armed.Load(i)
				require.Equal(t, tt.viaConn, viaConn, "call %d: armed on its connection", i)
			}
			_, ok := protos.Load(tt.proto)
			require.True(t, ok, "the requests went over %s", tt.proto)
		})
	}
}
