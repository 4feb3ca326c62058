package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/timeout"
)

// In event mode the connections' timers share the event loop's one
// runtime timer: many heartbeats ping on time, a peer that never answers
// is found dead, and the others stay up.
func TestEventModeHeartbeats(t *testing.T) {
	const n = 40
	reg := lifecycle.NewRegistry()
	hooks := newHookLog()
	h := middleware.OnClose(hooks.hook)(timeout.Heartbeat(50*time.Millisecond, 300*time.Millisecond)(
		middleware.EventHandler(reg, echoEvents, middleware.WithCloseTimeout(300*time.Millisecond))))
	url := wstest.Server(t, h)
	clients := make([]*wstest.RawClient, n)
	for i := range clients {
		c, err := wstest.DialRaw(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	// Every peer but the last answers three pings in a row.
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, c := range clients[:n-1] {
		wg.Go(func() {
			for range 3 {
				f, err := c.ReadFrame(5 * time.Second)
				if err != nil || f.Op != wstest.OpPing {
					errs <- errors.Join(err, errors.New("no ping"))
					return
				}
				c.WriteFrame(wstest.OpPong, true, f.Payload)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The silent one is found dead within interval + pong timeout.
	info := hooks.next(t)
	if !errors.Is(info.Cause, timeout.ErrPongTimeout) || info.Initiator != lifecycle.InitiatorAbnormal {
		t.Fatalf("the silent peer ended with %+v", info)
	}
	if got := reg.Len(); got != n-1 {
		t.Fatalf("%d connections left, want %d", got, n-1)
	}
	reg.Shutdown(t.Context())
	hooks.exactlyOnce(t, n)
}

// A peer that never answers our Close: in event mode no read deadline ends
// the handshake, the shared timer does, after the close timeout.
func TestEventModeCloseHandshakeIsBounded(t *testing.T) {
	reg := lifecycle.NewRegistry()
	hooks := newHookLog()
	h := middleware.OnClose(hooks.hook)(timeout.SessionExpiry(20 * time.Millisecond)(
		middleware.EventHandler(reg, echoEvents, middleware.WithCloseTimeout(200*time.Millisecond))))
	c, err := wstest.DialRaw(wstest.Server(t, h), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	f, _, err := c.ReadUntilClose(5 * time.Second)
	if err != nil || f.CloseReason() != "session expired" {
		t.Fatalf("close %q %v", f.CloseReason(), err)
	}
	// We never answer: the server gives up after its close timeout.
	if _, err := c.WaitEOF(5 * time.Second); err != nil {
		t.Fatalf("TCP not closed: %v", err)
	}
	info := hooks.next(t)
	if info.HandshakeComplete || !errors.Is(info.Cause, timeout.ErrSessionExpired) || info.Code != 1008 {
		t.Fatalf("info %+v", info)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("the handshake was cut after %v, before the close timeout", d)
	}
	reg.Shutdown(t.Context())
}

// An event-mode Conn installs gorilla's handlers with its first gorilla
// read: a ping inside the very first (fragmented) message, and a Close as
// the very first frame, are answered as in goroutine mode.
func TestEventModeFirstReadHasTheHandlers(t *testing.T) {
	url, hooks := eventEchoServer(t)
	c := dialEvents(t, url)
	var b []byte
	b = wstest.AppendFrame(b, wstest.OpText, false, []byte("a"))
	b = wstest.AppendFrame(b, wstest.OpPing, true, []byte("in"))
	b = wstest.AppendFrame(b, wstest.OpContinuation, true, []byte("b"))
	c.Conn.Write(b) // one write: the whole message is buffered at once
	if f, err := c.ReadFrame(5 * time.Second); err != nil || f.Op != wstest.OpPong || string(f.Payload) != "in" {
		t.Fatalf("pong: %+v %v", f, err)
	}
	if f, err := c.ReadFrame(5 * time.Second); err != nil || string(f.Payload) != "ab" {
		t.Fatalf("echo: %+v %v", f, err)
	}

	c2 := dialEvents(t, url)
	c2.WriteClose(4001, "first")
	if f, _, err := c2.ReadUntilClose(5 * time.Second); err != nil || f.CloseCode() != 4001 {
		t.Fatalf("echoed close: %d %v", f.CloseCode(), err)
	}
	if info := hooks.next(t); info.Initiator != lifecycle.InitiatorPeer || info.Code != 4001 || !info.HandshakeComplete {
		t.Fatalf("info %+v", info)
	}
}

// Control frames consumed by the loop and messages read by gorilla, in one
// segment: pongs before a ping, a message or a Close are all handled, in
// order, and a lone pong leads to nothing on the wire.
func TestEventModePongsThenTheRest(t *testing.T) {
	url, hooks := eventEchoServer(t)
	c := dialEvents(t, url)
	segment := func(frames ...[]byte) {
		t.Helper()
		var b []byte
		for _, f := range frames {
			b = append(b, f...)
		}
		if _, err := c.Conn.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	frame := func(op byte, payload string) []byte { return wstest.AppendFrame(nil, op, true, []byte(payload)) }

	segment(frame(wstest.OpPong, "a"), frame(wstest.OpPong, "b"), frame(wstest.OpPing, "p"), frame(wstest.OpText, "m"))
	if f, err := c.ReadFrame(5 * time.Second); err != nil || f.Op != wstest.OpPong || string(f.Payload) != "p" {
		t.Fatalf("pong for the ping: %+v %v", f, err)
	}
	if f, err := c.ReadFrame(5 * time.Second); err != nil || string(f.Payload) != "m" {
		t.Fatalf("echo: %+v %v", f, err)
	}
	segment(frame(wstest.OpPong, "lone"))
	segment(frame(wstest.OpPong, "c"), frame(wstest.OpText, "after pongs"))
	if f, err := c.ReadFrame(5 * time.Second); err != nil || string(f.Payload) != "after pongs" {
		t.Fatalf("echo after pongs: %+v %v", f, err)
	}
	segment(frame(wstest.OpPong, "d"), wstest.AppendFrame(nil, wstest.OpClose, true, []byte{0x0f, 0xa0}))
	if f, _, err := c.ReadUntilClose(5 * time.Second); err != nil || f.CloseCode() != 4000 {
		t.Fatalf("echoed close: %d %v", f.CloseCode(), err)
	}
	if info := hooks.next(t); info.Initiator != lifecycle.InitiatorPeer || info.Code != 4000 || !info.HandshakeComplete {
		t.Fatalf("info %+v", info)
	}
}

// eventEchoServer serves an echo in event mode, its ends logged to hooks.
func eventEchoServer(t *testing.T) (string, *hookLog) {
	reg := lifecycle.NewRegistry()
	t.Cleanup(func() { reg.Shutdown(context.Background()) })
	hooks := newHookLog()
	return wstest.Server(t, middleware.OnClose(hooks.hook)(middleware.EventHandler(reg, echoEvents))), hooks
}

// dialEvents dials url, closing the client at the end of the test.
func dialEvents(t *testing.T, url string) *wstest.RawClient {
	t.Helper()
	c, err := wstest.DialRaw(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Over TLS (crypto/tls keeps its own buffers, out of the loop's reach) an
// event-mode endpoint reads each connection in a goroutine of its own,
// calling the same message function, with the same policies.
func TestEventHandlerFallsBackForTLS(t *testing.T) {
	reg := lifecycle.NewRegistry()
	hooks := newHookLog()
	srv := httptest.NewTLSServer(middleware.OnClose(hooks.hook)(timeout.SessionExpiry(time.Minute)(middleware.EventHandler(reg, echoEvents))))
	defer srv.Close()
	d := websocket.Dialer{TLSClientConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig, HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial("wss"+strings.TrimPrefix(srv.URL, "https"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.WriteMessage(websocket.TextMessage, []byte("over tls"))
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != "over tls" {
		t.Fatalf("echo: %q %v", msg, err)
	}
	if n := wstest.CountGoroutines("lifecycle.(*Conn).serveEvents.func")[0]; n != 1 {
		t.Fatalf("%d fallback read loops for one TLS connection, want 1", n)
	}
	go ws.ReadMessage() // answers the shutdown's Close
	if err := reg.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if info := hooks.next(t); info.Code != lifecycle.StatusGoingAway || !info.HandshakeComplete {
		t.Fatalf("info %+v", info)
	}
}
