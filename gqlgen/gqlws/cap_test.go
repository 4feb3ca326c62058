package gqlws_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/ratelimit"

	"github.com/wsmw/wsmw/gqlgen/gqlws"
)

// TestSubjectCapInBand: a per-subject cap of 2 (ratelimit.MaxConns keyed
// by subject, after the JWT policy) counts GraphQL connections whose token
// comes in connection_init; the third of one subject is closed with 1013
// "too many connections" (cause ErrInitRefused and
// ratelimit.ErrTooManyConnections, one OnClose), on both subprotocols; a
// token at the upgrade still gets 429; a slot that frees up lets the next
// one in, and every slot comes back once the connections end.
func TestSubjectCapInBand(t *testing.T) {
	t.Parallel()
	st := ratelimit.NewMemoryStore()
	s := newGQLServer(t, serverConfig{policies: []func(http.Handler) http.Handler{
		ratelimit.MaxConns(2, ratelimit.WithKey(ratelimit.KeyBySubject), ratelimit.WithStore(st)),
	}})
	const key = "conns:sub:alice"
	acked := func(proto string) *client {
		t.Helper()
		c := s.dial(proto, nil)
		c.send(initMsg(token(t, "alice", time.Hour)))
		c.readUntil("connection_ack")
		return c
	}

	first := acked(gqlws.SubprotocolTransportWS)
	second := acked(gqlws.SubprotocolLegacy)
	if st.Held(key) != 2 {
		t.Fatalf("held %d, want 2", st.Held(key))
	}
	for _, proto := range []string{gqlws.SubprotocolTransportWS, gqlws.SubprotocolLegacy} {
		c := s.dial(proto, nil)
		c.send(initMsg(token(t, "alice", time.Hour)))
		if code, reason := c.closed(); code != 1013 || reason != "too many connections" {
			t.Fatalf("%s, third connection: close %d %q, want 1013 too many connections", proto, code, reason)
		}
		e := s.next()
		if e.info.Code != gqlws.StatusTryAgainLater || e.info.Initiator != lifecycle.InitiatorLocal ||
			!errors.Is(e.info.Cause, gqlws.ErrInitRefused) || !errors.Is(e.info.Cause, ratelimit.ErrTooManyConnections) {
			t.Fatalf("%s: CloseInfo %+v, want a local 1013 with the cap's cause", proto, e.info)
		}
		if e.conn.Subject() != "" {
			t.Fatalf("the refused connection has subject %q", e.conn.Subject())
		}
	}
	if st.Held(key) != 2 {
		t.Fatalf("held %d after the refusals, want 2", st.Held(key))
	}

	// A token at the upgrade: refused before it, as ever.
	d := websocket.Dialer{Subprotocols: []string{gqlws.SubprotocolTransportWS}, HandshakeTimeout: 5 * time.Second}
	if _, resp, err := d.Dial(s.url, http.Header{"Authorization": {"Bearer " + token(t, "alice", time.Hour)}}); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("token at the upgrade: %v, want 429", err)
	}

	// One ends; the next gets in.
	first.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	first.closed()
	s.next()
	wstest.WaitFor(t, "alice's slot to come back", 10*time.Second, func() bool { return st.Held(key) == 1 })
	third := acked(gqlws.SubprotocolTransportWS)

	for _, c := range []*client{second, third} {
		c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
		c.closed()
		s.next()
	}
	s.settle()
	if st.Held(key) != 0 {
		t.Fatalf("held %d after shutdown, want 0", st.Held(key))
	}
}

// downStore is a ratelimit.Store that is down.
type downStore struct{}

var errDown = errors.New("store down")

func (downStore) Take(context.Context, string, int, time.Duration) (ratelimit.TakeResult, error) {
	return ratelimit.TakeResult{}, errDown
}

func (downStore) Acquire(context.Context, string, int) (func(), int, error) { return nil, 0, errDown }

// TestSubjectCapStoreDown: a per-subject cap whose Store fails and that
// fails closed refuses connection_init with 1013 too (a retry may find the
// Store back), with ErrStoreUnavailable as the cause.
func TestSubjectCapStoreDown(t *testing.T) {
	t.Parallel()
	s := newGQLServer(t, serverConfig{policies: []func(http.Handler) http.Handler{
		ratelimit.MaxConns(2, ratelimit.WithKey(ratelimit.KeyBySubject), ratelimit.WithStore(downStore{}),
			ratelimit.WithFailClosed(), middleware.WithLogger(quietLogger())),
	}})
	c := s.dial(gqlws.SubprotocolTransportWS, nil)
	c.send(initMsg(token(t, "alice", time.Hour)))
	if code, reason := c.closed(); code != 1013 || reason != "connection limit unavailable" {
		t.Fatalf("close %d %q, want 1013 connection limit unavailable", code, reason)
	}
	if e := s.next(); !errors.Is(e.info.Cause, ratelimit.ErrStoreUnavailable) || !errors.Is(e.info.Cause, errDown) {
		t.Fatalf("cause %v", e.info.Cause)
	}
	s.settle()
}
