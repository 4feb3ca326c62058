package timeout_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/queue"
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
	}))
	srv := httptest.NewServer(r)
	defer srv.Close()

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Listener.Addr().String()+"/ws", nil)
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

// Heartbeat times every round trip: Conn.RTT gives the latest, Conn.OnRTT
// hears each one (to feed a histogram, say). The handler keeps reading, so
// that the pongs are processed.
func ExampleHeartbeat() {
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(context.Background())
	conns := make(chan *lifecycle.Conn, 1)
	measured := make(chan time.Duration, 1)

	r := chi.NewRouter()
	r.Use(timeout.Heartbeat(50*time.Millisecond, 5*time.Second))
	r.Get("/ws", middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		c.OnRTT(func(rtt time.Duration) {
			select {
			case measured <- rtt:
			default:
			}
		})
		conns <- c
		queue.DiscardMessages(c) // reads, and so processes the pongs
	}))
	srv := httptest.NewServer(r)
	defer srv.Close()

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Listener.Addr().String()+"/ws", nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	go func() { // gorilla's client answers pings while it reads
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	c := <-conns
	rtt := <-measured
	fmt.Println("OnRTT heard a round trip:", rtt > 0)
	fmt.Println("c.RTT() holds the latest:", c.RTT() > 0)
	// Output:
	// OnRTT heard a round trip: true
	// c.RTT() holds the latest: true
}

// middleware.WithClose changes the code and reason a policy closes with,
// here SessionExpiry's, to an application code that tells the client to
// reconnect at once.
func ExampleSessionExpiry() {
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(context.Background())

	r := chi.NewRouter()
	r.Use(timeout.SessionExpiry(100*time.Millisecond, middleware.WithClose(4000, "please reconnect")))
	r.Get("/ws", middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		queue.DiscardMessages(c)
	}))
	srv := httptest.NewServer(r)
	defer srv.Close()

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Listener.Addr().String()+"/ws", nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	_, _, err = ws.ReadMessage()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		fmt.Println(ce.Code, ce.Text)
	}
	// Output:
	// 4000 please reconnect
}
