package webhook

import (
	"context"
	"crypto/tls"
	"net"
	"net/http/httptrace"
	"sync/atomic"
)

// Telling the caller when a request has been sent (ims.WithRequestSent).
//
// net/http's WroteRequest trace hook is not that moment on HTTP/1: the
// Transport calls it once the request is in its write buffer, and flushes
// the buffer to the connection after the hook returns. A stop that waited
// for WroteRequest could answer before the request left (seen: a request
// reaching the receiver 629 µs after the stop's answer). So on HTTP/1 the
// connection itself tells: the first write to it after the request got it
// is the request going out. HTTP/2 writes and flushes a request's frames
// before calling WroteRequest, and its connection carries many requests at
// once, so there the hook is the moment.

// wireConn is a dialed connection that runs the hook armed on it after its
// next write that put bytes on the wire.
type wireConn struct {
	net.Conn
	armed atomic.Pointer[sentTrace]
}

func (c *wireConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	// Bytes that reached the operating system are the call started, even
	// when the write then failed: the Transport does not replay a request
	// it wrote part of. A write that wrote nothing may be replayed on a
	// new connection, which is armed afresh.
	if n > 0 {
		if st := c.armed.Swap(nil); st != nil {
			st.sent()
		}
	}
	return n, err
}

// dialWire wraps dial so that every connection it makes is a wireConn.
func dialWire(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err // as it is: the Transport and errorText read the dialer's own error
		}
		return &wireConn{Conn: conn}, nil
	}
}

// http1WireConn is the wireConn under a connection the Transport handed a
// request, when the request goes over HTTP/1 on it; nil otherwise.
func http1WireConn(conn net.Conn) *wireConn {
	if tc, ok := conn.(*tls.Conn); ok {
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			return nil
		}
		conn = tc.NetConn()
	}
	w, _ := conn.(*wireConn)
	return w
}

// sentTrace is one request's trace: it runs sent once the request is sent,
// through the connection on HTTP/1, through WroteRequest otherwise.
type sentTrace struct {
	trace   httptrace.ClientTrace
	sent    func()
	viaConn atomic.Bool
}

// withSentTrace returns ctx with the trace that runs sent.
func withSentTrace(ctx context.Context, sent func()) context.Context {
	st := &sentTrace{sent: sent}
	st.trace.GotConn = st.gotConn
	st.trace.WroteRequest = st.wroteRequest
	return httptrace.WithClientTrace(ctx, &st.trace)
}

func (st *sentTrace) gotConn(info httptrace.GotConnInfo) {
	if w := http1WireConn(info.Conn); w != nil {
		st.viaConn.Store(true)
		w.armed.Store(st)
	}
}

func (st *sentTrace) wroteRequest(info httptrace.WroteRequestInfo) {
	if info.Err == nil && !st.viaConn.Load() {
		st.sent()
	}
}
