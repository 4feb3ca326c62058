package timeout_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/timeout"
)

// Typical use with chi: every policy is one middleware in front of the
// WebSocket route. Here the idle timeout is short so that the example can
// show a real client being closed by it.
func Example() {
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(context.Background())
	ended := make(chan lifecycle.CloseInfo, 1)

	r := chi.NewRouter()
	r.Use(
		timeout.WriteTimeout(10*time.Second),
		timeout.SessionExpiry(30*time.Minute),
		timeout.Heartbeat(20*time.Second, 20*time.Second),
		timeout.IdleTimeout(200*time.Millisecond),
		middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { ended <- info }),
	)
	r.Get("/ws", middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		for {
			mt, msg, err := c.ReadMessage() // also processes pongs
			if err != nil {
				return // the arbiter already knows why
			}
			c.WriteMessage(mt, msg)
		}
	}).ServeHTTP)
	srv := httptest.NewServer(r)
	defer srv.Close()

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	ws.WriteMessage(websocket.TextMessage, []byte("hello"))
	_, msg, _ := ws.ReadMessage()
	fmt.Printf("echo: %s\n", msg)
	_, _, err = ws.ReadMessage() // then nothing is sent for 200ms
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		fmt.Printf("client: %d %s\n", ce.Code, ce.Text)
	}
	info := <-ended
	fmt.Println("server:", info.Code, info.Initiator, errors.Is(info.Cause, timeout.ErrIdleTimeout))
	// Output:
	// echo: hello
	// client: 1001 idle timeout
	// server: 1001 going away local true
}

// Recommended bundles the policies with documented defaults; change a
// field to tune one, or set it to zero to turn that policy off.
func ExampleRecommended() {
	cfg := timeout.Recommended()
	cfg.IdleTimeout = 0 // a push-only endpoint: clients never send
	fmt.Println("session", cfg.SessionExpiry, "ping", cfg.PingInterval, "pong", cfg.PongTimeout, "write", cfg.WriteTimeout)

	r := chi.NewRouter()
	r.Use(cfg.Middleware())
	r.Get("/ws", middleware.Handler(lifecycle.NewRegistry(), func(c *lifecycle.Conn, _ *http.Request) {
		timeout.DiscardMessages(c)
	}).ServeHTTP)
	// Output:
	// session 30m0s ping 20s pong 20s write 10s
}

// Broadcast pushes one message to every live connection through each
// one's bounded SendQueue: it never waits on a slow peer. A push-only
// handler just keeps reading (DiscardMessages), so pongs and the peer's
// Close are processed.
func ExampleBroadcast() {
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(context.Background())
	opened := make(chan struct{})
	h := timeout.SlowConsumer(timeout.MaxMessages(64), timeout.MaxBytes(256<<10))(
		middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
			close(opened)
			timeout.DiscardMessages(c)
		}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	<-opened
	n := timeout.Broadcast(reg, lifecycle.TextMessage, []byte("news"))
	_, msg, _ := ws.ReadMessage()
	fmt.Println(n, string(msg))
	// Output:
	// 1 news
}

// Heartbeat's round-trip times feed metrics: OnRTT for every connection of
// a route, NotifyRTT for one connection, RTT for the latest.
func ExampleHeartbeat() {
	rtts := make(chan time.Duration, 100)
	policy := timeout.Heartbeat(20*time.Second, 20*time.Second,
		timeout.OnRTT(func(c *lifecycle.Conn, rtt time.Duration) {
			select {
			case rtts <- rtt:
			default:
			}
		}))
	handler := policy(middleware.Handler(lifecycle.NewRegistry(), func(c *lifecycle.Conn, _ *http.Request) {
		timeout.DiscardMessages(c)
		fmt.Println("last RTT:", timeout.RTT(c))
	}))
	_ = http.Handler(handler)
}

// SessionExpiry's code and reason can be changed with options.
func ExampleSessionExpiry() {
	_ = timeout.SessionExpiry(time.Hour, timeout.WithCode(4000), timeout.WithReason("please reconnect"))
}

// WriteOnly keeps a reader going for a handler that only writes, so that
// Heartbeat sees the pongs.
func ExampleWriteOnly() {
	_ = middleware.Handler(lifecycle.NewRegistry(), timeout.WriteOnly(func(c *lifecycle.Conn) {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case now := <-tick.C:
				if c.WriteText(now.Format(time.RFC3339)) != nil {
					return
				}
			case <-c.Context().Done():
				return
			}
		}
	}))
}
