package timeout_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// tcpServer runs fn behind policies on a real 127.0.0.1 server. It
// reports each connection on conns and each end on ends.
type tcpServer struct {
	url   string
	reg   *lifecycle.Registry
	conns chan *lifecycle.Conn
	ends  chan lifecycle.CloseInfo
}

// newEchoServer starts a real TCP server whose handler echoes in a read
// mode.
func newEchoServer(t *testing.T, mode conntest.Mode, policies ...func(http.Handler) http.Handler) *tcpServer {
	t.Helper()
	return startTCPServer(t, lifecycle.NewRegistry(), func(s *tcpServer, policies ...func(http.Handler) http.Handler) http.Handler {
		return serveEcho(s.reg, mode, s.conns, policies...)
	}, policies...)
}

func startTCPServer(t *testing.T, reg *lifecycle.Registry, handler func(*tcpServer, ...func(http.Handler) http.Handler) http.Handler, policies ...func(http.Handler) http.Handler) *tcpServer {
	s := &tcpServer{reg: reg, conns: make(chan *lifecycle.Conn, 1000), ends: make(chan lifecycle.CloseInfo, 1000)}
	policies = append([]func(http.Handler) http.Handler{
		middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { s.ends <- info }),
	}, policies...)
	s.url = wstest.Server(t, handler(s, policies...)) + "/ws"
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
