package gqlws_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/timeout"

	"github.com/wsmw/wsmw/gqlgen/gqlws"
)

// TestTicksAndClientClose: graphql-transport-ws end to end; the client
// completes its subscription and closes: one OnClose, a peer close, and
// nothing reported to gqlgen's ErrorFunc.
func TestTicksAndClientClose(t *testing.T) {
	t.Parallel()
	s := newGQLServer(t, serverConfig{})
	c := s.dial(gqlws.SubprotocolTransportWS, nil)
	c.send(initMsg(token(t, "alice", time.Hour)))
	if m := c.read(); m.Type != "connection_ack" {
		t.Fatalf("first message %q, want connection_ack", m.Type)
	}
	c.send(subscribeMsg("1", "subscribe", 20))
	for want := 1; want <= 3; want++ {
		m := c.readUntil("next")
		var p struct{ Data struct{ Ticks int } }
		json.Unmarshal(m.Payload, &p)
		if m.ID != "1" || p.Data.Ticks != want {
			t.Fatalf("next %s %s, want tick %d", m.ID, m.Payload, want)
		}
	}
	c.send(message{ID: "1", Type: "complete"})
	c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"))
	if code, _ := c.closed(); code != 1000 {
		t.Fatalf("echo %d, want 1000", code)
	}
	e := s.next()
	if e.info.Code != 1000 || e.info.Initiator != lifecycle.InitiatorPeer || !errors.Is(e.info.Cause, lifecycle.ErrPeerClosed) || !e.info.HandshakeComplete {
		t.Fatalf("CloseInfo %+v, want a peer 1000", e.info)
	}
	if e.conn.Subject() != "alice" {
		t.Fatalf("subject %q, want alice (in band)", e.conn.Subject())
	}
	s.settle()
	if errs := s.reportedErrors(); len(errs) != 0 {
		t.Fatalf("ErrorFunc got %v for a normal close", errs)
	}
	// gqlgen calls CloseFunc from a goroutine of its own, possibly after
	// its handler returned, and with its own code, not the true one.
	select {
	case <-s.closeFunc:
	case <-time.After(10 * time.Second):
		t.Fatal("CloseFunc not called")
	}
}

// TestLegacyProtocol: the legacy graphql-ws subprotocol, and a client that
// offers none (which gets it too), end to end up to connection_terminate.
func TestLegacyProtocol(t *testing.T) {
	t.Parallel()
	for _, proto := range []string{gqlws.SubprotocolLegacy, ""} {
		s := newGQLServer(t, serverConfig{ws: transport.Websocket{KeepAlivePingInterval: time.Second}})
		c := s.dial(proto, nil)
		if got := c.ws.Subprotocol(); got != proto {
			t.Fatalf("subprotocol %q, want %q", got, proto)
		}
		c.send(initMsg(token(t, "bob", time.Hour)))
		c.readUntil("connection_ack")
		c.send(subscribeMsg("7", "start", 20))
		for range 2 {
			if m := c.readUntil("data"); m.ID != "7" {
				t.Fatalf("data for %q", m.ID)
			}
		}
		c.send(message{ID: "7", Type: "stop"})
		c.send(message{Type: "connection_terminate"})
		if code, reason := c.closed(); code != 1000 || reason != "terminated" {
			t.Fatalf("close %d %q, want 1000 terminated", code, reason)
		}
		e := s.next()
		if e.info.Code != 1000 || !errors.Is(e.info.Cause, gqlws.ErrTerminated) {
			t.Fatalf("CloseInfo %+v, want 1000 ErrTerminated", e.info)
		}
		s.settle()
	}
}

// TestTransportCloses: every close that gqlgen's transport, the protocol
// check or the in-band authentication makes: its code on the wire, and
// exactly one OnClose with the true cause.
func TestTransportCloses(t *testing.T) {
	t.Parallel()
	type tc struct {
		name   string
		cfg    serverConfig
		proto  string
		header http.Header
		steps  func(t *testing.T, c *client)
		code   int
		reason string
		causes []error
	}
	ack := func(c *client, tok string) {
		c.send(initMsg(tok))
		c.readUntil("connection_ack")
	}
	refuse := func(ctx context.Context, _ transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		return ctx, nil, errors.New("no entry")
	}
	refuseWith := func(ctx context.Context, _ transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		return transport.WithWebsocketCloseCode(ctx, 4500), nil, errors.New("broken")
	}
	errRefused := errors.New("no entry")
	tests := []tc{
		{name: "bad token", steps: func(t *testing.T, c *client) { c.send(initMsg("garbage")) },
			code: 4403, reason: "Forbidden: malformed token", causes: []error{gqlws.ErrInitRefused, auth.ErrTokenInvalid}},
		{name: "expired token", steps: func(t *testing.T, c *client) { c.send(initMsg(token(t, "x", -time.Minute))) },
			code: 4403, reason: "Forbidden: token expired", causes: []error{gqlws.ErrInitRefused, auth.ErrTokenInvalid}},
		{name: "no token", steps: func(t *testing.T, c *client) { c.send(initMsg("")) },
			code: 4403, reason: "Forbidden: no token", causes: []error{gqlws.ErrInitRefused, auth.ErrTokenMissing}},
		{name: "another subject than the upgrade's", header: http.Header{"Authorization": {"Bearer " + token(t, "alice", time.Hour)}},
			steps: func(t *testing.T, c *client) { c.send(initMsg(token(t, "mallory", time.Hour))) },
			code:  4403, reason: "Forbidden: another subject", causes: []error{gqlws.ErrInitRefused, auth.ErrSubjectMismatch}},
		{name: "InitFunc error", cfg: serverConfig{ws: transport.Websocket{InitFunc: refuse}},
			steps: func(t *testing.T, c *client) { c.send(initMsg(token(t, "x", time.Hour))) },
			code:  4403, reason: "Forbidden", causes: []error{gqlws.ErrInitRefused}},
		{name: "InitFunc error with its code", cfg: serverConfig{ws: transport.Websocket{InitFunc: refuseWith}},
			steps: func(t *testing.T, c *client) { c.send(initMsg(token(t, "x", time.Hour))) },
			code:  4500, reason: "terminated", causes: []error{gqlws.ErrInitRefused}},
		{name: "not JSON", steps: func(t *testing.T, c *client) { c.send("{nope") },
			code: 4400, reason: "Invalid message", causes: []error{gqlws.ErrInvalidMessage}},
		{name: "unknown type", steps: func(t *testing.T, c *client) {
			ack(c, token(t, "x", time.Hour))
			c.send(`{"type":"bogus"}`)
		}, code: 4400, reason: "Invalid message type", causes: []error{gqlws.ErrInvalidMessage}},
		{name: "init payload not an object", steps: func(t *testing.T, c *client) { c.send(`{"type":"connection_init","payload":"tok"}`) },
			code: 4400, reason: "Invalid connection_init payload", causes: []error{gqlws.ErrInvalidMessage}},
		{name: "subscribe before init", steps: func(t *testing.T, c *client) { c.send(subscribeMsg("1", "subscribe", 50)) },
			code: 4401, reason: "Unauthorized", causes: []error{gqlws.ErrNotInitialised}},
		{name: "second init", steps: func(t *testing.T, c *client) {
			ack(c, token(t, "x", time.Hour))
			c.send(initMsg(token(t, "x", time.Hour)))
		}, code: 4429, reason: "Too many initialisation requests", causes: []error{gqlws.ErrTooManyInits}},
		{name: "gqlgen's protocol error", steps: func(t *testing.T, c *client) { c.send(`{"type":"ping"}`) },
			code: 4400, reason: "unexpected message", causes: []error{gqlws.ErrInvalidMessage}},
		{name: "legacy protocol error", proto: gqlws.SubprotocolLegacy, steps: func(t *testing.T, c *client) {
			ack(c, token(t, "x", time.Hour))
			c.send(`{"type":"ka"}`)
		}, code: 4400, reason: "Invalid message type", causes: []error{gqlws.ErrInvalidMessage}},
		{name: "init timeout", cfg: serverConfig{adapter: []gqlws.Option{gqlws.WithInitTimeout(300 * time.Millisecond)}},
			steps: func(t *testing.T, c *client) {},
			code:  4408, reason: "connection initialisation timeout", causes: []error{timeout.ErrInitTimeout}},
		{name: "init timeout while unauthenticated", cfg: serverConfig{adapter: []gqlws.Option{gqlws.WithInitTimeout(300 * time.Millisecond)}},
			steps: func(t *testing.T, c *client) { c.send(`{"type":"pong"}`) },
			code:  4400, reason: "unexpected message", causes: []error{gqlws.ErrInvalidMessage}},
		{name: "payload larger than gqlgen's limit", cfg: serverConfig{ws: transport.Websocket{PayloadReadLimit: ptr(int64(64))}},
			steps: func(t *testing.T, c *client) { c.send(initMsg(token(t, "x", time.Hour))) },
			code:  1009, reason: "message too big", causes: []error{lifecycle.ErrMessageTooBig}},
		{name: "no InitFunc wrapper", cfg: serverConfig{byHand: true},
			steps: func(t *testing.T, c *client) { c.send(initMsg(token(t, "x", time.Hour))) },
			code:  4403, reason: "Forbidden", causes: []error{gqlws.ErrInitRefused, auth.ErrTokenMissing}},
		{name: "no Websocket transport", cfg: serverConfig{noWS: true},
			steps: func(t *testing.T, c *client) {},
			code:  1011, reason: "internal error", causes: []error{gqlws.ErrTransportReturned}},
	}
	_ = errRefused
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newGQLServer(t, tt.cfg)
			proto := tt.proto
			if proto == "" {
				proto = gqlws.SubprotocolTransportWS
			}
			c := s.dial(proto, tt.header)
			tt.steps(t, c)
			code, reason := c.closed()
			if code != tt.code || reason != tt.reason {
				t.Fatalf("close %d %q, want %d %q", code, reason, tt.code, tt.reason)
			}
			e := s.next()
			if int(e.info.Code) != tt.code || e.info.Initiator != lifecycle.InitiatorLocal || !e.info.HandshakeComplete {
				t.Fatalf("CloseInfo %+v, want a local %d with a complete handshake", e.info, tt.code)
			}
			for _, want := range tt.causes {
				if !errors.Is(e.info.Cause, want) {
					t.Fatalf("cause %v, want it to match %v", e.info.Cause, want)
				}
			}
			s.settle()
			if errs := s.reportedErrors(); len(errs) != 0 {
				t.Fatalf("ErrorFunc got %v", errs)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestBearerOnlySubprotocol: a client that offers only "bearer" and its
// token gets "bearer" selected (never the token) and then 4406.
func TestBearerOnlySubprotocol(t *testing.T) {
	t.Parallel()
	s := newGQLServer(t, serverConfig{})
	d := websocket.Dialer{Subprotocols: []string{"bearer", token(t, "alice", time.Hour)}}
	ws, _, err := d.Dial(s.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if ws.Subprotocol() != "bearer" {
		t.Fatalf("subprotocol %q", ws.Subprotocol())
	}
	c := &client{t: t, ws: ws}
	if code, _ := c.closed(); code != 4406 {
		t.Fatalf("close %d, want 4406", code)
	}
	if e := s.next(); !errors.Is(e.info.Cause, gqlws.ErrSubprotocol) || e.conn.Subject() != "alice" {
		t.Fatalf("CloseInfo %+v subject %q", e.info, e.conn.Subject())
	}
	s.settle()
}

// TestUpgradeAuthenticated: a token at the upgrade needs none in
// connection_init; the operation's context carries the connection and the
// claims.
func TestUpgradeAuthenticated(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	around := func(srv *handler.Server) {
		srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
			sub := ""
			if cl := auth.ClaimsFromContext(ctx); cl != nil {
				sub, _ = cl.GetSubject()
			}
			mu.Lock()
			seen = append(seen, fmt.Sprintf("%s/%v", sub, gqlws.ConnFromContext(ctx) != nil))
			mu.Unlock()
			return next(ctx)
		})
	}
	s := newGQLServer(t, serverConfig{around: around})
	c := s.dial(gqlws.SubprotocolTransportWS, http.Header{"Authorization": {"Bearer " + token(t, "carol", time.Hour)}})
	c.send(initMsg(""))
	c.readUntil("connection_ack")
	c.send(subscribeMsg("1", "subscribe", 20))
	c.readUntil("next")
	c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	c.closed()
	if e := s.next(); e.conn.Subject() != "carol" {
		t.Fatalf("subject %q", e.conn.Subject())
	}
	s.settle()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != "carol/true" {
		t.Fatalf("operation saw %v, want carol's claims and the connection", seen)
	}
}

// TestServerSideEnds: token expiry, revocation and shutdown end
// subscriptions with their code; the subscription's context is cancelled
// with the close as its cause.
func TestServerSideEnds(t *testing.T) {
	t.Parallel()
	causes := make(chan error, 8)
	around := func(srv *handler.Server) {
		srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
			if gqlws.ConnFromContext(ctx) != nil {
				go func() {
					<-ctx.Done()
					causes <- context.Cause(ctx)
				}()
			}
			return next(ctx)
		})
	}
	s := newGQLServer(t, serverConfig{around: around})
	start := time.Now()
	subscribe := func(sub string, ttl time.Duration) *client {
		c := s.dial(gqlws.SubprotocolTransportWS, nil)
		c.send(initMsg(token(t, sub, ttl)))
		c.readUntil("connection_ack")
		c.send(subscribeMsg("1", "subscribe", 50))
		c.readUntil("next")
		return c
	}
	expiring := subscribe("dora", 2*time.Second)
	revoked := subscribe("erik", time.Hour)
	shut := subscribe("finn", time.Hour)

	if code, reason := expiring.closed(); code != 1008 || reason != "token expired" {
		t.Fatalf("expiry: close %d %q", code, reason)
	}
	if d := time.Since(start); d < time.Second || d > 4*time.Second {
		t.Fatalf("expired after %v, want about 2s", d)
	}
	if e := s.next(); !errors.Is(e.info.Cause, auth.ErrTokenExpired) {
		t.Fatalf("expiry cause %v", e.info.Cause)
	}
	if n := s.reg.Revoke("erik"); n != 1 {
		t.Fatalf("Revoke: %d", n)
	}
	if code, reason := revoked.closed(); code != 1008 || reason != "session revoked" {
		t.Fatalf("revoke: close %d %q", code, reason)
	}
	if e := s.next(); !errors.Is(e.info.Cause, lifecycle.ErrSessionRevoked) {
		t.Fatalf("revoke cause %v", e.info.Cause)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.reg.Shutdown(ctx)
	}()
	if code, reason := shut.closed(); code != 1001 || reason != "server shutting down" {
		t.Fatalf("shutdown: close %d %q", code, reason)
	}
	if e := s.next(); !errors.Is(e.info.Cause, lifecycle.ErrServerShutdown) {
		t.Fatalf("shutdown cause %v", e.info.Cause)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	s.settle()
	got := []error{<-causes, <-causes, <-causes} // in any order
	for _, w := range []error{auth.ErrTokenExpired, lifecycle.ErrSessionRevoked, lifecycle.ErrServerShutdown} {
		found := false
		for _, err := range got {
			var ce *lifecycle.CloseError
			found = found || errors.As(err, &ce) && errors.Is(err, w)
		}
		if !found {
			t.Fatalf("subscription context causes %v: none is the *CloseError of %v", got, w)
		}
	}
}

// TestPongDeadline: gqlgen's PingPongInterval, unanswered, ends the
// connection as a dead peer.
func TestPongDeadline(t *testing.T) {
	t.Parallel()
	s := newGQLServer(t, serverConfig{ws: transport.Websocket{PingPongInterval: 100 * time.Millisecond}})
	c := s.dial(gqlws.SubprotocolTransportWS, nil)
	c.send(initMsg(token(t, "gus", time.Hour)))
	c.readUntil("connection_ack")
	c.readUntil("ping") // and never answer
	c.closed()
	e := s.next()
	if e.info.Code != lifecycle.StatusAbnormalClosure || e.info.Initiator != lifecycle.InitiatorAbnormal ||
		!errors.Is(e.info.Cause, gqlws.ErrPongTimeout) || !errors.Is(e.info.Cause, timeout.ErrPongTimeout) {
		t.Fatalf("CloseInfo %+v, want 1006 abnormal ErrPongTimeout", e.info)
	}
	if e.info.Sent == nil || e.info.Sent.Code != lifecycle.StatusGoingAway {
		t.Fatalf("best-effort frame %+v, want 1001", e.info.Sent)
	}
	s.settle()
}

// TestAnsweredPongsKeepConnection: answered pings clear the deadline.
func TestAnsweredPongsKeepConnection(t *testing.T) {
	t.Parallel()
	s := newGQLServer(t, serverConfig{ws: transport.Websocket{PingPongInterval: 50 * time.Millisecond}})
	c := s.dial(gqlws.SubprotocolTransportWS, nil)
	c.send(initMsg(token(t, "hal", time.Hour)))
	c.readUntil("connection_ack")
	for range 8 { // 400 ms, twice the deadline
		c.readUntil("ping")
		c.send(message{Type: "pong"})
	}
	c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	c.closed()
	if e := s.next(); e.info.Initiator != lifecycle.InitiatorPeer {
		t.Fatalf("CloseInfo %+v, want the peer's close", e.info)
	}
	s.settle()
}

// TestHTTPPassesThrough: queries over HTTP reach gqlgen untouched.
func TestHTTPPassesThrough(t *testing.T) {
	t.Parallel()
	s := newGQLServer(t, serverConfig{})
	u := "http" + strings.TrimPrefix(s.url, "ws")
	resp, err := http.Post(u, "application/json", strings.NewReader(`{"query":"{ hello }"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Data struct{ Hello string } }
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 200 || body.Data.Hello != "hello" {
		t.Fatalf("POST /query: %d %+v", resp.StatusCode, body)
	}
}

// TestNotWrapped: the adapter as Implementation without Handler refuses,
// and gqlgen answers 400.
func TestNotWrapped(t *testing.T) {
	t.Parallel()
	s := newGQLServer(t, serverConfig{noWrap: true})
	_, resp, err := websocket.DefaultDialer.Dial(s.url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("dial: %v %v, want 400", err, resp)
	}
}
