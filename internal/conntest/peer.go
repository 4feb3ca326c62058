package conntest

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// Peer is one in-memory connection, for synctest bubbles: gorilla's client
// end and the server's Conn.
type Peer struct {
	T    *testing.T
	WS   *websocket.Conn
	C    *lifecycle.Conn
	Msgs chan []byte    // messages the client read, once Read has started
	End  chan ClientEnd // how the client's reads ended
}

// ClientEnd is the error that ended the client's reads.
type ClientEnd struct {
	Code int // the server's close code, 0 when there was no Close frame
	Text string
	Err  error
}

// CloseSoon is the short close timeout of the servers these helpers run:
// peers that never answer a Close (the stuck ones) end sooner; the real
// clients answer within milliseconds.
var CloseSoon = middleware.WithCloseTimeout(2 * time.Second)

// ServeFunc returns a handler running fn behind policies, reporting each
// connection on conns. A nil reg means a Registry of its own.
func ServeFunc(reg *lifecycle.Registry, fn func(*lifecycle.Conn), conns chan<- *lifecycle.Conn, policies ...func(http.Handler) http.Handler) http.Handler {
	if reg == nil {
		reg = lifecycle.NewRegistry()
	}
	return Behind(middleware.Handler(reg, Serve(fn), CloseSoon), conns, policies...)
}

// ServeEcho is [ServeFunc] with an echo in a read mode.
func ServeEcho(reg *lifecycle.Registry, mode Mode, conns chan<- *lifecycle.Conn, policies ...func(http.Handler) http.Handler) http.Handler {
	return Behind(mode.Handler(reg, EchoMessage, CloseSoon), conns, policies...)
}

// Behind puts policies in front of h (the first outermost), reporting each
// connection on conns.
func Behind(h http.Handler, conns chan<- *lifecycle.Conn, policies ...func(http.Handler) http.Handler) http.Handler {
	h = middleware.OnOpen(func(c *lifecycle.Conn) { conns <- c })(h)
	for i := len(policies) - 1; i >= 0; i-- {
		h = policies[i](h)
	}
	return h
}

// DialPipe opens one in-memory connection to fn behind policies; a nil
// reg means a Registry of its own.
func DialPipe(t *testing.T, reg *lifecycle.Registry, fn func(*lifecycle.Conn), policies ...func(http.Handler) http.Handler) *Peer {
	t.Helper()
	conns := make(chan *lifecycle.Conn, 1)
	ws, _, err := wstest.PipeDial(ServeFunc(reg, fn, conns, policies...), "/ws", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	// Inside a bubble cleanups run before the bubble ends: closing the
	// client lets every goroutine of a failed test exit.
	t.Cleanup(func() { ws.NetConn().Close() })
	return &Peer{T: t, WS: ws, C: <-conns, Msgs: make(chan []byte, 1024), End: make(chan ClientEnd, 1)}
}

// Read starts the client's reader: it answers pings (unless told otherwise
// with SetPingHandler before), collects messages and records the end.
func (p *Peer) Read() {
	go func() {
		for {
			_, msg, err := p.WS.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				e := ClientEnd{Err: err}
				if errors.As(err, &ce) {
					e.Code, e.Text = ce.Code, ce.Text
				}
				p.End <- e
				close(p.Msgs)
				return
			}
			p.Msgs <- msg
		}
	}()
}

// Finish closes the client's socket and waits for the server's end.
func (p *Peer) Finish() lifecycle.CloseInfo {
	p.WS.NetConn().Close()
	return p.C.Wait()
}

// WantClose checks a local close seen by both sides: the server's
// CloseInfo, the Close frame it sent, and what the client read.
func WantClose(t *testing.T, p *Peer, code lifecycle.StatusCode, reason string, cause error) lifecycle.CloseInfo {
	t.Helper()
	info := p.C.Wait()
	if info.Code != code || info.Reason != reason || info.Initiator != lifecycle.InitiatorLocal || !errors.Is(info.Cause, cause) {
		t.Fatalf("server info = %+v, want %d %q local %v", info, code, reason, cause)
	}
	if info.Received == nil {
		t.Fatalf("the peer's Close never arrived: %+v", info)
	}
	CheckSent(t, info, code, reason)
	if e := <-p.End; e.Code != int(code) || e.Text != reason {
		t.Fatalf("client saw %+v, want %d %q", e, code, reason)
	}
	return info
}

// CheckSent checks the Close frame the server recorded as sent.
func CheckSent(t *testing.T, info lifecycle.CloseInfo, code lifecycle.StatusCode, reason string) {
	t.Helper()
	if info.Sent == nil || info.Sent.Code != code || info.Sent.Reason != reason {
		t.Fatalf("sent %+v, want %d %q", info.Sent, code, reason)
	}
}

// TCPServer runs a handler behind policies on a real 127.0.0.1 server. It
// reports each connection on Conns and each end on Ends.
type TCPServer struct {
	URL   string // ws://…/ws
	Reg   *lifecycle.Registry
	Conns chan *lifecycle.Conn
	Ends  chan lifecycle.CloseInfo
}

// NewTCPServer serves fn behind policies; a nil reg means a Registry of
// its own.
func NewTCPServer(t *testing.T, reg *lifecycle.Registry, fn func(*lifecycle.Conn), policies ...func(http.Handler) http.Handler) *TCPServer {
	t.Helper()
	return StartTCPServer(t, reg, func(s *TCPServer, policies ...func(http.Handler) http.Handler) http.Handler {
		return ServeFunc(s.Reg, fn, s.Conns, policies...)
	}, policies...)
}

// NewEchoServer serves an echo in a read mode behind policies.
func NewEchoServer(t *testing.T, mode Mode, policies ...func(http.Handler) http.Handler) *TCPServer {
	t.Helper()
	return StartTCPServer(t, nil, func(s *TCPServer, policies ...func(http.Handler) http.Handler) http.Handler {
		return ServeEcho(s.Reg, mode, s.Conns, policies...)
	}, policies...)
}

// StartTCPServer serves the handler that handler builds for the server
// (policies in front, OnClose reporting to Ends outermost); a nil reg means
// a Registry of its own, shut down when the test ends.
func StartTCPServer(t *testing.T, reg *lifecycle.Registry, handler func(*TCPServer, ...func(http.Handler) http.Handler) http.Handler, policies ...func(http.Handler) http.Handler) *TCPServer {
	t.Helper()
	if reg == nil {
		reg = lifecycle.NewRegistry()
	}
	s := &TCPServer{Reg: reg, Conns: make(chan *lifecycle.Conn, 1000), Ends: make(chan lifecycle.CloseInfo, 1000)}
	policies = append([]func(http.Handler) http.Handler{
		middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { s.Ends <- info }),
	}, policies...)
	s.URL = wstest.Server(t, handler(s, policies...)) + "/ws"
	t.Cleanup(func() { s.Reg.Shutdown(t.Context()) })
	return s
}

// Conn returns the next connection, failing t after 10 s.
func (s *TCPServer) Conn(t *testing.T) *lifecycle.Conn {
	t.Helper()
	select {
	case c := <-s.Conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection within 10s")
	}
	return nil
}

// End returns the next connection's end, failing t after 10 s.
func (s *TCPServer) End(t *testing.T) lifecycle.CloseInfo {
	t.Helper()
	select {
	case info := <-s.Ends:
		return info
	case <-time.After(10 * time.Second):
		t.Fatal("no end within 10s")
	}
	return lifecycle.CloseInfo{}
}

// DialRaw dials a raw client, closed when the test ends.
func (s *TCPServer) DialRaw(t *testing.T) *wstest.RawClient {
	t.Helper()
	c, err := wstest.DialRaw(s.URL, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
