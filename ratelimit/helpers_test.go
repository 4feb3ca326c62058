package ratelimit

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// testServer is a chi router with policies in front of /ws, on real TCP.
type testServer struct {
	t      testing.TB
	url    string
	reg    *lifecycle.Registry
	closed chan lifecycle.CloseInfo
	conns  chan *lifecycle.Conn
}

func newTestServer(t testing.TB, handler func(*lifecycle.Conn), policies ...func(http.Handler) http.Handler) *testServer {
	t.Helper()
	if handler == nil {
		handler = conntest.Echo
	}
	return startTestServer(t, middleware.Handler, conntest.Serve(handler), policies...)
}

// newModeTestServer is newTestServer for an echo in a read mode.
func newModeTestServer(t testing.TB, mode conntest.Mode, policies ...func(http.Handler) http.Handler) *testServer {
	t.Helper()
	return startTestServer(t, mode.Handler, conntest.EchoMessage, policies...)
}

// startTestServer serves /ws with endpoint(reg, fn) behind policies.
func startTestServer[F any](t testing.TB, endpoint func(*lifecycle.Registry, F, ...middleware.Option) http.HandlerFunc, fn F, policies ...func(http.Handler) http.Handler) *testServer {
	t.Helper()
	s := &testServer{
		t:      t,
		reg:    lifecycle.NewRegistry(),
		closed: make(chan lifecycle.CloseInfo, 4096),
		conns:  make(chan *lifecycle.Conn, 4096),
	}
	r := chi.NewRouter()
	all := append([]func(http.Handler) http.Handler{
		middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { s.closed <- info }),
		middleware.OnOpen(func(c *lifecycle.Conn) { s.conns <- c }),
	}, policies...)
	r.With(all...).Get("/ws", endpoint(s.reg, fn))
	s.url = wstest.Server(t, r) + "/ws"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.reg.Shutdown(ctx)
	})
	return s
}

// dial opens a raw client from local (nil for any) with header.
func (s *testServer) dial(local net.Addr, header http.Header) (*wstest.RawClient, error) {
	c, err := wstest.DialRawFrom(local, s.url, header)
	if c != nil && err == nil {
		s.t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func (s *testServer) mustDial(local net.Addr, header http.Header) *wstest.RawClient {
	s.t.Helper()
	c, err := s.dial(local, header)
	if err != nil {
		s.t.Fatalf("dial: %v", err)
	}
	return c
}

// conn returns the server side of the next connection.
func (s *testServer) conn() *lifecycle.Conn {
	s.t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(10 * time.Second):
		s.t.Fatal("no connection within 10s")
	}
	return nil
}

// nextClose waits for a connection's OnClose.
func (s *testServer) nextClose() lifecycle.CloseInfo {
	s.t.Helper()
	select {
	case info := <-s.closed:
		return info
	case <-time.After(10 * time.Second):
		s.t.Fatal("no OnClose within 10s")
	}
	return lifecycle.CloseInfo{}
}

func from(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip)} }

func statusOf(c *wstest.RawClient) int {
	if c == nil || c.Response == nil {
		return 0
	}
	return c.Response.StatusCode
}
