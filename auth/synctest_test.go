package auth_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// hijacker is an http.ResponseWriter over one end of a net.Pipe, enough
// for gorilla's Upgrade, so the whole policy chain runs inside a synctest
// bubble with fake time.
type hijacker struct {
	conn   net.Conn
	br     *bufio.Reader
	header http.Header
	status int
}

func (h *hijacker) Header() http.Header { return h.header }
func (h *hijacker) WriteHeader(status int) {
	h.status = status
	h.conn.Close()
}
func (h *hijacker) Write(p []byte) (int, error) { return len(p), nil }
func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(h.br, bufio.NewWriter(h.conn)), nil
}

// pipeDial serves one upgrade of handler over a net.Pipe and returns the
// client side. It must run inside a synctest bubble.
func pipeDial(t *testing.T, handler http.Handler, header http.Header) *websocket.Conn {
	t.Helper()
	client, srv := net.Pipe()
	go func() {
		br := bufio.NewReader(srv)
		req, err := http.ReadRequest(br)
		if err != nil {
			srv.Close()
			return
		}
		req.RemoteAddr = "pipe"
		handler.ServeHTTP(&hijacker{conn: srv, br: br, header: http.Header{}}, req)
	}()
	d := websocket.Dialer{NetDialContext: func(context.Context, string, string) (net.Conn, error) { return client, nil }}
	ws, _, err := d.Dial("ws://pipe/ws", header)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return ws
}

// readClose reads until the Close frame and returns its code, reason and
// the (fake) time it arrived.
func readClose(ws *websocket.Conn) (int, string, time.Time) {
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			at := time.Now()
			if ce, ok := err.(*websocket.CloseError); ok {
				return ce.Code, ce.Text, at
			}
			return -1, err.Error(), at
		}
	}
}

func TestSynctestExpiryWarningAndLeeway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		warned := make(chan time.Duration, 4)
		start := time.Now()
		a, err := auth.New(auth.HMAC(secret), auth.WithLogger(discardLogger()),
			auth.WithLeeway(30*time.Second),
			auth.WithExpiryWarning(time.Minute, func(c *lifecycle.Conn, exp time.Time) {
				warned <- time.Since(start)
			}))
		if err != nil {
			t.Fatal(err)
		}
		reg := lifecycle.NewRegistry()
		h := a.Middleware(middleware.Handler(reg, func(c *lifecycle.Conn) {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}))
		ws := pipeDial(t, h, bearer(hs(t, "alice", 10*time.Minute)))
		defer ws.Close()
		code, reason, at := readClose(ws)
		if code != 1008 || reason != "token expired" {
			t.Fatalf("close %d %q", code, reason)
		}
		// exp + leeway, to the second.
		if got := at.Sub(start); got != 10*time.Minute+30*time.Second {
			t.Fatalf("closed after %v, want 10m30s", got)
		}
		if got := <-warned; got != 9*time.Minute {
			t.Fatalf("warned after %v, want 9m", got)
		}
		reg.Shutdown(context.Background())
	})
}

func TestSynctestRefreshMovesExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		refreshed := make(chan error, 1)
		var warnings []time.Duration
		warned := make(chan struct{}, 4)
		a, err := auth.New(auth.HMAC(secret), auth.WithLogger(discardLogger()),
			auth.WithExpiryWarning(2*time.Minute, func(*lifecycle.Conn, time.Time) {
				warnings = append(warnings, time.Since(start))
				warned <- struct{}{}
			}))
		if err != nil {
			t.Fatal(err)
		}
		reg := lifecycle.NewRegistry()
		h := a.Middleware(middleware.Handler(reg, func(c *lifecycle.Conn) {
			for {
				_, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				refreshed <- a.Refresh(c, string(msg))
			}
		}))
		ws := pipeDial(t, h, bearer(hs(t, "alice", 10*time.Minute)))
		defer ws.Close()

		time.Sleep(9 * time.Minute) // fake time: the warning at 8m has fired
		synctest.Wait()
		<-warned
		if err := ws.WriteMessage(websocket.TextMessage, []byte(hs(t, "alice", 20*time.Minute))); err != nil {
			t.Fatal(err)
		}
		if err := <-refreshed; err != nil {
			t.Fatalf("refresh: %v", err)
		}
		code, reason, at := readClose(ws)
		if code != 1008 || reason != "token expired" {
			t.Fatalf("close %d %q", code, reason)
		}
		if got := at.Sub(start); got != 29*time.Minute {
			t.Fatalf("closed after %v, want 29m (9m + the new 20m token)", got)
		}
		<-warned
		if len(warnings) != 2 || warnings[0] != 8*time.Minute || warnings[1] != 27*time.Minute {
			t.Fatalf("warnings at %v, want [8m 27m]", warnings)
		}
		reg.Shutdown(context.Background())
	})
}
