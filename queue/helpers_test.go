package queue_test

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

// The helpers of the timeout package's tests, for the queue's: in-memory
// peers for synctest bubbles and a real TCP server.

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
	// A short close timeout: peers that never answer a Close (the stuck
	// ones) end sooner; the real clients answer within milliseconds.
	var h http.Handler = middleware.Handler(reg, conntest.Serve(fn), middleware.WithCloseTimeout(2*time.Second))
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

// wantClose checks a local close seen by both sides.
func wantClose(t *testing.T, p *peer, code lifecycle.StatusCode, reason string, cause error) lifecycle.CloseInfo {
	t.Helper()
	info := p.c.Wait()
	if info.Code != code || info.Reason != reason || info.Initiator != lifecycle.InitiatorLocal || !errors.Is(info.Cause, cause) {
		t.Fatalf("server info = %+v, want %d %q local %v", info, code, reason, cause)
	}
	if info.Received == nil {
		t.Fatalf("the peer's Close never arrived: %+v", info)
	}
	checkSent(t, info, code, reason)
	if e := <-p.end; e.code != int(code) || e.text != reason {
		t.Fatalf("client saw %+v, want %d %q", e, code, reason)
	}
	return info
}

// checkSent checks the Close frame the server recorded as sent.
func checkSent(t *testing.T, info lifecycle.CloseInfo, code lifecycle.StatusCode, reason string) {
	t.Helper()
	if info.Sent == nil || info.Sent.Code != code || info.Sent.Reason != reason {
		t.Fatalf("sent %+v, want %d %q", info.Sent, code, reason)
	}
}

// tcpServer runs fn behind policies on a real 127.0.0.1 server. It
// reports each connection on conns and each end on ends.
type tcpServer struct {
	url   string
	reg   *lifecycle.Registry
	conns chan *lifecycle.Conn
	ends  chan lifecycle.CloseInfo
}

func newTCPServer(t *testing.T, fn func(*lifecycle.Conn), policies ...func(http.Handler) http.Handler) *tcpServer {
	t.Helper()
	return newTCPServerIn(t, lifecycle.NewRegistry(), fn, policies...)
}

// newTCPServerIn is newTCPServer with connections joining reg.
func newTCPServerIn(t *testing.T, reg *lifecycle.Registry, fn func(*lifecycle.Conn), policies ...func(http.Handler) http.Handler) *tcpServer {
	t.Helper()
	s := &tcpServer{reg: reg, conns: make(chan *lifecycle.Conn, 1000), ends: make(chan lifecycle.CloseInfo, 1000)}
	policies = append([]func(http.Handler) http.Handler{
		middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { s.ends <- info }),
	}, policies...)
	s.url = wstest.Server(t, serve(s.reg, fn, s.conns, policies...)) + "/ws"
	t.Cleanup(func() { s.reg.Shutdown(t.Context()) })
	return s
}

func (s *tcpServer) conn(t *testing.T) *lifecycle.Conn {
	t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection within 10s")
	}
	return nil
}

func (s *tcpServer) end(t *testing.T) lifecycle.CloseInfo {
	t.Helper()
	select {
	case info := <-s.ends:
		return info
	case <-time.After(10 * time.Second):
		t.Fatal("no end within 10s")
	}
	return lifecycle.CloseInfo{}
}

func (s *tcpServer) dialRaw(t *testing.T) *wstest.RawClient {
	t.Helper()
	c, err := wstest.DialRaw(s.url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
