package http

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/insiderone/ims"
)

// Defaults of the console's live stream.
const (
	// DefaultConsoleStreams bounds the open streams of one instance; one
	// more is answered 503 and the page falls back to polling.
	DefaultConsoleStreams = 32
	// consoleTick is how often the producer publishes a snapshot.
	consoleTick = time.Second
	// streamWriteTimeout bounds one event's write, so that a viewer who
	// stopped reading is dropped, and it stretches the server's
	// WriteTimeout, which would otherwise cut every stream after a minute.
	streamWriteTimeout = 10 * time.Second
)

// liveHub is the one producer of the console's snapshots and its viewers:
// Run assembles a snapshot once per tick, encodes it once, and hands the
// same bytes to every open stream. Viewers never cause store work.
type liveHub struct {
	build func() ([]byte, error)
	max   int
	every time.Duration

	mu      sync.Mutex
	clients map[chan []byte]struct{}
	last    []byte
	running bool
	ended   chan struct{} // closed when Run ends: every stream returns
}

func newLiveHub(build func() ([]byte, error), maxStreams int) *liveHub {
	if maxStreams <= 0 {
		maxStreams = DefaultConsoleStreams
	}
	return &liveHub{build: build, max: maxStreams, every: consoleTick,
		clients: map[chan []byte]struct{}{}, ended: make(chan struct{})}
}

// latest is the last published snapshot, nil before the first or when the
// producer does not run.
func (h *liveHub) latest() []byte {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// run publishes a snapshot every tick until ctx ends, then ends every
// stream, so that the HTTP server's shutdown, which waits for handlers,
// never waits for a console.
func (h *liveHub) run(ctx context.Context, logf func(err error)) {
	h.mu.Lock()
	if h.running {
		h.mu.Unlock()
		return
	}
	h.running = true
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.last = nil
		h.mu.Unlock()
		close(h.ended)
	}()
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		if err := h.publish(); err != nil {
			logf(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// publish builds one snapshot and offers it to every stream. A stream that
// has not taken the previous one gets the new one instead: a slow viewer
// skips frames and never holds the producer up.
func (h *liveHub) publish() error {
	b, err := h.build()
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = b
	for ch := range h.clients {
		select {
		case <-ch:
		default:
		}
		ch <- b
	}
	return nil
}

// subscribe registers a stream; false when the hub is full or not running.
func (h *liveHub) subscribe() (chan []byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.running || len(h.clients) >= h.max {
		return nil, false
	}
	select {
	case <-h.ended:
		return nil, false
	default:
	}
	ch := make(chan []byte, 1)
	if h.last != nil {
		ch <- h.last // the viewer sees something at once
	}
	h.clients[ch] = struct{}{}
	return ch, true
}

func (h *liveHub) unsubscribe(ch chan []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, ch)
}

// RunConsole produces the console's live snapshots (GET /api/console and its
// stream) until ctx ends, then closes every open stream. Cancel ctx before
// the HTTP server's Shutdown: it waits for handlers, and a stream only ends
// with its viewer or with this. Without it the stream answers 503.
func (s *Server) RunConsole(ctx context.Context) {
	if s.live == nil {
		return
	}
	s.live.run(ctx, func(err error) { s.logger.Error("console snapshot", "err", err) })
}

// handleConsoleStream is GET /api/console/stream: Server-Sent Events, one
// "snapshot" event a second carrying the JSON of GET /api/console. It needs
// the key like every data call; a page sends it with fetch (EventSource
// cannot set headers, and the key must not go in the URL).
func (s *Server) handleConsoleStream(w http.ResponseWriter, r *http.Request) {
	if err := noQuery(r); err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	if s.live == nil {
		writeError(w, r, s.logger, ims.Errorf(ims.EUNAVAILABLE, "the console's figures are not available on this server"))
		return
	}
	ch, ok := s.live.subscribe()
	if !ok {
		writeError(w, r, s.logger, ims.Errorf(ims.EUNAVAILABLE, "too many console streams are open (or the server is stopping); poll GET /api/console instead"))
		return
	}
	defer s.live.unsubscribe(ch)
	rc := http.NewResponseController(w)
	// Nothing more is read from a stream: no read deadline either. (The
	// write deadline is stretched per event, see writeEvent.)
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // proxies: do not hold events back
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	// A first comment so that the client sees the stream open before the
	// first snapshot.
	if err := writeEvent(w, rc, "", []byte("connected")); err != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.live.ended:
			return
		case b := <-ch:
			if err := writeEvent(w, rc, "snapshot", b); err != nil {
				return // the viewer is gone or stopped reading
			}
		}
	}
}

// writeEvent writes one Server-Sent Event (a comment when event is "") and
// flushes it. data must be one line, as compact JSON is.
func writeEvent(w http.ResponseWriter, rc *http.ResponseController, event string, data []byte) error {
	_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)) // unsupported writers keep the server's
	var err error
	if event == "" {
		_, err = w.Write(append(append([]byte(": "), data...), "\n\n"...))
	} else {
		buf := make([]byte, 0, len(data)+len(event)+16)
		buf = append(buf, "event: "...)
		buf = append(buf, event...)
		buf = append(buf, "\ndata: "...)
		buf = append(buf, data...)
		buf = append(buf, "\n\n"...)
		_, err = w.Write(buf)
	}
	if err != nil {
		return err
	}
	return rc.Flush()
}
