package auth_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
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
		a, err := auth.New(auth.HMAC(secret), middleware.WithLogger(discardLogger()),
			auth.WithLeeway(30*time.Second),
			auth.WithExpiryWarning(time.Minute, func(c *lifecycle.Conn, exp time.Time) {
				warned <- time.Since(start)
			}))
		if err != nil {
			t.Fatal(err)
		}
		reg := lifecycle.NewRegistry()
		h := a.Middleware(middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
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
		a, err := auth.New(auth.HMAC(secret), middleware.WithLogger(discardLogger()),
			auth.WithExpiryWarning(2*time.Minute, func(*lifecycle.Conn, time.Time) {
				warnings = append(warnings, time.Since(start))
				warned <- struct{}{}
			}))
		if err != nil {
			t.Fatal(err)
		}
		reg := lifecycle.NewRegistry()
		h := a.Middleware(middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
			for {
				_, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				refreshed <- auth.Refresh(c, string(msg))
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

// TestSynctestExpiryClose: middleware.WithClose sets the code and reason of
// the close at exp + leeway (1008 "token expired" by default). The cause is
// ErrTokenExpired in every case.
func TestSynctestExpiryClose(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   []middleware.Option
		code   int
		reason string
	}{
		{"default", nil, 1008, "token expired"},
		{"graphql", []middleware.Option{middleware.WithClose(4401, "Unauthorized")}, 4401, "Unauthorized"},
		{"no reason", []middleware.Option{middleware.WithClose(4403, "")}, 4403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				a, err := auth.New(auth.HMAC(secret), append(tc.opts, middleware.WithLogger(discardLogger()))...)
				if err != nil {
					t.Fatal(err)
				}
				causes := make(chan error, 1)
				reg := lifecycle.NewRegistry()
				onClose := middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { causes <- info.Cause })
				h := onClose(a.Middleware(middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
					for {
						if _, _, err := c.ReadMessage(); err != nil {
							return
						}
					}
				})))
				ws := pipeDial(t, h, bearer(hs(t, "alice", 5*time.Minute)))
				defer ws.Close()
				code, reason, at := readClose(ws)
				if code != tc.code || reason != tc.reason {
					t.Fatalf("close %d %q, want %d %q", code, reason, tc.code, tc.reason)
				}
				if got := at.Sub(start); got != 5*time.Minute {
					t.Fatalf("closed after %v, want 5m", got)
				}
				ws.Close()
				if cause := <-causes; !errors.Is(cause, auth.ErrTokenExpired) {
					t.Fatalf("cause %v, want ErrTokenExpired", cause)
				}
				reg.Shutdown(context.Background())
			})
		})
	}
}

// Codes that cannot go on the wire panic where they are given.
func TestCloseCodeConfig(t *testing.T) {
	t.Parallel()
	for _, code := range []lifecycle.StatusCode{0, 1005, 1006, 999, 1014, 5000} {
		for name, opt := range map[string]func(){
			"WithClose":             func() { middleware.WithClose(code, "x") },
			"WithCloseAfterUpgrade": func() { auth.WithCloseAfterUpgrade(code, "x") },
		} {
			func() {
				defer func() {
					if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "may not be sent") {
						t.Errorf("%s(%d): recovered %v, want a panic that says why", name, code, p)
					}
				}()
				opt()
			}()
		}
	}
}
