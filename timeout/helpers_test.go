package timeout_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/queue"
)

// peer is one in-memory connection: gorilla's client end and the server's
// Conn, for synctest bubbles.
type peer struct {
	t    *testing.T
	ws   *websocket.Conn
	c    *lifecycle.Conn
	msgs chan []byte    // messages the client read, when reading
	end  chan clientEnd // how the client's reads ended
}

// clientEnd is the error that ended the client's reads.
type clientEnd struct {
	code int // the server's close code, 0 when there was no Close frame
	text string
	err  error
}

// serve returns a handler running fn behind policies, reporting each
// connection on conns. A nil reg means a Registry of its own.
func serve(reg *lifecycle.Registry, fn func(*lifecycle.Conn), conns chan<- *lifecycle.Conn, policies ...func(http.Handler) http.Handler) http.Handler {
	if reg == nil {
		reg = lifecycle.NewRegistry()
	}
	return behind(middleware.Handler(reg, conntest.Serve(fn), closeSoon), conns, policies...)
}

// serveEcho is serve with an echo in a read mode.
func serveEcho(reg *lifecycle.Registry, mode conntest.Mode, conns chan<- *lifecycle.Conn, policies ...func(http.Handler) http.Handler) http.Handler {
	return behind(mode.Handler(reg, conntest.EchoMessage, closeSoon), conns, policies...)
}

// closeSoon is a short close timeout: peers that never answer a Close
// (the stuck ones) end sooner; the real clients answer within
// milliseconds.
var closeSoon = middleware.WithCloseTimeout(2 * time.Second)

// behind puts policies in front of h, reporting each connection on conns.
func behind(h http.Handler, conns chan<- *lifecycle.Conn, policies ...func(http.Handler) http.Handler) http.Handler {
	h = middleware.OnOpen(func(c *lifecycle.Conn) { conns <- c })(h)
	for i := len(policies) - 1; i >= 0; i-- {
		h = policies[i](h)
	}
	return h
}

// dialPipe opens one in-memory connection to fn behind policies; a nil
// reg means a Registry of its own.
func dialPipe(t *testing.T, reg *lifecycle.Registry, fn func(*lifecycle.Conn), policies ...func(http.Handler) http.Handler) *peer {
	t.Helper()
	conns := make(chan *lifecycle.Conn, 1)
	ws, _, err := wstest.PipeDial(serve(reg, fn, conns, policies...), "/ws", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	// Inside a bubble cleanups run before the bubble ends: closing the
	// client lets every goroutine of a failed test exit.
	t.Cleanup(func() { ws.NetConn().Close() })
	return &peer{t: t, ws: ws, c: <-conns, msgs: make(chan []byte, 1024), end: make(chan clientEnd, 1)}
}

// read starts the client's reader: it answers pings (unless told
// otherwise with SetPingHandler before), collects messages and records the
// end.
func (p *peer) read() {
	go func() {
		for {
			_, msg, err := p.ws.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				e := clientEnd{err: err}
				if errors.As(err, &ce) {
					e.code, e.text = ce.Code, ce.Text
				}
				p.end <- e
				close(p.msgs)
				return
			}
			p.msgs <- msg
		}
	}()
}

// finish closes the client's socket and waits for the server's end.
func (p *peer) finish() lifecycle.CloseInfo {
	p.ws.NetConn().Close()
	return p.c.Wait()
}

func discard(c *lifecycle.Conn) { queue.DiscardMessages(c) }

// policyFunc is a policy that runs fn on each connection.
func policyFunc(fn func(*lifecycle.Conn)) func(http.Handler) http.Handler {
	return middleware.Policy(func(c *lifecycle.Conn) error { fn(c); return nil })
}
