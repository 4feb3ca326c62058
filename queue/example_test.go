package queue_test

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
	"github.com/wsmw/wsmw/queue"
)

// wsURL turns an httptest server's URL into a WebSocket one.
func wsURL(srv *httptest.Server, path string) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + path
}

// Send queues a message and returns at once: the connection's writer
// delivers it, and a peer that stops reading overflows its own queue
// instead of blocking the sender.
func ExampleSend() {
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(context.Background())
	r := chi.NewRouter()
	r.Get("/ws", middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if queue.Send(c, mt, msg) != nil {
				return // closing, or too slow
			}
		}
	}))
	srv := httptest.NewServer(r)
	defer srv.Close()

	ws, _, err := websocket.DefaultDialer.Dial(wsURL(srv, "/ws"), nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	ws.WriteMessage(websocket.TextMessage, []byte("hello"))
	_, msg, _ := ws.ReadMessage()
	fmt.Printf("echo: %s\n", msg)
	// Output:
	// echo: hello
}

// Broadcast pushes one message to every live connection through each
// one's bounded queue: it never waits on a slow peer. A push-only handler
// just keeps reading (DiscardMessages), so that pongs and the peer's Close
// are processed.
func ExampleBroadcast() {
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(context.Background())
	opened := make(chan struct{})
	r := chi.NewRouter()
	r.Use(queue.SlowConsumer(queue.WithMaxMessages(64), queue.WithMaxBytes(256<<10)))
	r.Get("/ws", middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		close(opened)
		queue.DiscardMessages(c)
	}))
	srv := httptest.NewServer(r)
	defer srv.Close()

	ws, _, err := websocket.DefaultDialer.Dial(wsURL(srv, "/ws"), nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	<-opened
	n := queue.Broadcast(reg, lifecycle.TextMessage, []byte("news"))
	_, msg, _ := ws.ReadMessage()
	fmt.Println(n, string(msg))
	// Output:
	// 1 news
}

// SlowConsumer sets the bounds of every connection's queue and what
// overflow does; middleware.WithClose chooses the close. Here the second
// message is larger than the queue's byte bound, so it can never fit: Send
// refuses it with ErrSlowConsumer and the connection is closed.
func ExampleSlowConsumer() {
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(context.Background())
	refused := make(chan error, 1)
	r := chi.NewRouter()
	r.Use(queue.SlowConsumer(
		queue.WithMaxMessages(64),
		queue.WithMaxBytes(1<<10),
		middleware.WithClose(lifecycle.StatusTryAgainLater, "falling behind"),
	))
	r.Get("/ws", middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		c.ReadMessage()
		queue.Send(c, lifecycle.TextMessage, []byte("small"))
		c.ReadMessage()
		refused <- queue.Send(c, lifecycle.BinaryMessage, make([]byte, 2<<10))
		queue.DiscardMessages(c)
	}))
	srv := httptest.NewServer(r)
	defer srv.Close()

	ws, _, err := websocket.DefaultDialer.Dial(wsURL(srv, "/ws"), nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	ws.WriteMessage(websocket.TextMessage, []byte("one"))
	_, msg, _ := ws.ReadMessage()
	fmt.Printf("client read %q\n", msg)
	ws.WriteMessage(websocket.TextMessage, []byte("two"))
	_, _, err = ws.ReadMessage()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		fmt.Println("client closed with", ce.Code, ce.Text)
	}
	fmt.Println("Send refused the large one:", errors.Is(<-refused, queue.ErrSlowConsumer))
	// Output:
	// client read "small"
	// client closed with 1013 falling behind
	// Send refused the large one: true
}

// A handler that writes on its own schedule keeps a reader going with
// DiscardMessages in a goroutine, so that the peer's Close (and
// Heartbeat's pongs) are processed: here the client leaves after three
// ticks and the server sees its Close.
func ExampleDiscardMessages() {
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(context.Background())
	ended := make(chan lifecycle.CloseInfo, 1)
	r := chi.NewRouter()
	r.Use(middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { ended <- info }))
	r.Get("/ws", middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		go queue.DiscardMessages(c) // ends with the connection
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 1; ; i++ {
			select {
			case <-tick.C:
				if c.WriteMessage(lifecycle.TextMessage, fmt.Appendf(nil, "tick %d", i)) != nil {
					return
				}
			case <-c.Context().Done():
				return
			}
		}
	}))
	srv := httptest.NewServer(r)
	defer srv.Close()

	ws, _, err := websocket.DefaultDialer.Dial(wsURL(srv, "/ws"), nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	for range 3 {
		_, msg, _ := ws.ReadMessage()
		fmt.Println(string(msg))
	}
	ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
	info := <-ended
	fmt.Println("server:", info.Initiator, int(info.Code), info.Reason)
	// Output:
	// tick 1
	// tick 2
	// tick 3
	// server: peer 1000 bye
}
