package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// A policy attaches to upgrade requests only; here, one that closes every
// connection after its first message, and an OnClose hook that reports why.
func ExampleHandler() {
	reg := lifecycle.NewRegistry()
	closed := make(chan lifecycle.CloseInfo, 1)

	oneShot := middleware.Policy(func(c *lifecycle.Conn) error {
		c.AddReadCheck(func(lifecycle.MessageType, []byte) error {
			return &lifecycle.CloseError{Code: 4000, Reason: "one message only"}
		})
		return nil
	})
	report := middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { closed <- info })
	echo := middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(mt, msg)
		}
	})
	srv := httptest.NewServer(report(oneShot(echo)))
	defer srv.Close()

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()
	ws.WriteMessage(websocket.TextMessage, []byte("hello"))
	_, _, err = ws.ReadMessage()
	fmt.Println("client:", err)
	info := <-closed
	fmt.Println("server:", info.Code, info.Reason, info.Initiator, info.HandshakeComplete)
	// Output:
	// client: websocket: close 4000: one message only
	// server: 4000 one message only local true
}

// Origin patterns match the Origin's host. A foreign origin gets 403 before
// any upgrade; an allowed one goes on to the handshake, which this sketch
// leaves incomplete (no Sec-WebSocket-Key), hence gorilla's 400.
func ExampleWithOrigins() {
	h := middleware.Handler(lifecycle.NewRegistry(), func(*lifecycle.Conn, *http.Request) {}, middleware.WithOrigins("*.example.com"))
	for _, origin := range []string{"https://app.example.com", "https://evil.test"} {
		req := httptest.NewRequest(http.MethodGet, "http://api.example.net/ws", nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Origin", origin)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(origin, rec.Code)
	}
	// Output:
	// https://app.example.com 400
	// https://evil.test 403
}

type tenantKey struct{}

// A middleware leaves a value of the upgrade request for the connection,
// whose context keeps none of the request's own: here the tenant named in
// the URL, which the handler reads from the connection's context.
func ExampleWithValue() {
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(context.Background())
	tenant := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, middleware.WithValue(r, tenantKey{}, r.URL.Query().Get("tenant")))
		})
	}
	seen := make(chan string, 1)
	h := middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		seen <- fmt.Sprintf("tenant %v", c.Context().Value(tenantKey{}))
	})
	srv := httptest.NewServer(tenant(h))
	defer srv.Close()

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"?tenant=acme", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()
	fmt.Println(<-seen)
	// Output: tenant acme
}
