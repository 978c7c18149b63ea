package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reconnect backoff of the LISTEN loop: quick at first (a database restart
// is usually short), capped so an outage costs few connection attempts.
const (
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 5 * time.Second
)

// Wakeups returns a channel that receives after messages become due in this
// store's schema, whichever process made them due. Bursts coalesce into one
// signal; the receiver should claim until nothing is due.
func (s *Store) Wakeups() <-chan struct{} { return s.wake }

// statePayload marks a notification on the store's channel as a change of
// the scheduler state or an instance's confirmation of it, not new work.
const statePayload = "state"

// StateChanged is closed at the next state change or confirmation by any
// instance on this schema (see statePayload).
func (s *Store) StateChanged() <-chan struct{} { return s.states.Wait() }

// signal wakes the consumer without ever blocking the listener.
func (s *Store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// listen relays notifications from conn, which already LISTENs, and
// reconnects with backoff whenever the connection fails, until ctx ends.
func (s *Store) listen(ctx context.Context, cfg *pgx.ConnConfig, conn *pgx.Conn) {
	defer close(s.done)
	for {
		err := s.relay(ctx, conn)
		closeConn(conn)
		if ctx.Err() != nil {
			return
		}
		s.logger().Warn("postgres listener disconnected, reconnecting", "channel", s.channel, "error", err)
		if conn = s.reconnect(ctx, cfg); conn == nil {
			return
		}
		// Work may have become due, or the state changed, while nobody
		// was listening.
		s.signal()
		s.states.Broadcast()
	}
}

// reconnect retries connectListener with capped exponential backoff. It
// returns nil only when ctx ends.
func (s *Store) reconnect(ctx context.Context, cfg *pgx.ConnConfig) *pgx.Conn {
	backoff := listenMinBackoff
	for {
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		conn, err := s.connectListener(ctx, cfg)
		if err == nil {
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		s.logger().Warn("postgres listener reconnect failed", "channel", s.channel, "error", err, "backoff", backoff)
		backoff = min(2*backoff, listenMaxBackoff)
	}
}

// connectListener opens a dedicated connection (LISTEN is per session, so a
// pooled connection will not do) and subscribes it to the store's channel.
func (s *Store) connectListener(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect listener: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("listen %s: %w", s.channel, err)
	}
	return conn, nil
}

// relay turns notifications into wakeups until the connection fails or ctx
// ends.
func (s *Store) relay(ctx context.Context, conn *pgx.Conn) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		if n.Payload == statePayload {
			s.states.Broadcast()
			continue
		}
		s.signal()
	}
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
