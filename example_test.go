package wsmw_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw"
	"github.com/wsmw/wsmw/ratelimit"
)

// The package doc's server: a chi route behind the common policies,
// written with this package alone. A client with a token chats; the
// server's shutdown sends it 1001 and every OnClose hook has run when
// ShutdownServer returns.
func Example() {
	secret := []byte("at least 32 random bytes, really!")
	reg := wsmw.NewRegistry()

	r := chi.NewRouter()
	r.Use(wsmw.OnClose(func(c *wsmw.Conn, info wsmw.CloseInfo) {
		slog.Info("ws closed", "code", int(info.Code), "initiator", info.Initiator.String(), "subject", c.Subject())
		fmt.Println("server: closed", info.Code, info.Initiator, info.Cause)
	}))
	r.Use(wsmw.JWT(wsmw.HMAC(secret))) // 401 without a valid token, or with a revoked one
	r.Use(wsmw.SessionExpiry(30 * time.Minute))
	r.Use(wsmw.Heartbeat(20*time.Second, 20*time.Second))
	r.Use(wsmw.MessageRate(20, 40))
	r.Get("/rooms/{room}", wsmw.Handler(reg, func(c *wsmw.Conn, r *http.Request) {
		room := chi.URLParam(r, "room")
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return // the arbiter already knows why
			}
			c.WriteMessage(mt, append([]byte(room+": "), msg...))
		}
	}))
	srv := httptest.NewServer(r)

	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject: "alice", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}).SignedString(secret)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/rooms/42"
	ws, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()
	ws.WriteMessage(websocket.TextMessage, []byte("hello"))
	_, msg, _ := ws.ReadMessage()
	fmt.Println("client:", string(msg))

	clientDone := make(chan error)
	go func() {
		_, _, err := ws.ReadMessage() // gorilla's client answers the Close
		clientDone <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reg.ShutdownServer(ctx, srv.Config) // http.Server.Shutdown alone leaves every WebSocket open
	srv.Close()
	fmt.Println("client:", <-clientDone)
	// Output:
	// client: 42: hello
	// server: closed 1001 going away local server shutting down
	// client: websocket: close 1001 (going away): server shutting down
}

// The full stack from the README, outermost first. A client that floods
// messages is closed with 1008 "rate limit exceeded", and the OnClose hook
// learns the cause.
func Example_fullStack() {
	secret := []byte("at least 32 random bytes, really!")
	reg := wsmw.NewRegistry()
	defer reg.Shutdown(context.Background())
	closed := make(chan wsmw.CloseInfo, 1)

	r := chi.NewRouter()
	r.Use(wsmw.OnClose(func(_ *wsmw.Conn, info wsmw.CloseInfo) { closed <- info }))
	r.Use(wsmw.ConnectRate(60, time.Minute))
	r.Use(wsmw.MaxConns(100))
	r.Use(wsmw.JWT(wsmw.HMAC(secret), wsmw.WithLogger(slog.New(slog.DiscardHandler))))
	r.Use(wsmw.MaxConns(3, wsmw.WithKey(wsmw.KeyBySubject))) // per user, after JWT
	r.Use(wsmw.SessionExpiry(30 * time.Minute))
	r.Use(wsmw.IdleTimeout(5 * time.Minute))
	r.Use(wsmw.Heartbeat(20*time.Second, 20*time.Second))
	r.Use(wsmw.WriteTimeout(10 * time.Second))
	r.Use(wsmw.MessageRate(20, 5))
	r.Use(wsmw.MaxMessageSize(64 << 10))
	r.Use(wsmw.ValidUTF8())
	r.Get("/ws", wsmw.Handler(reg, func(c *wsmw.Conn, _ *http.Request) {
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(mt, msg)
		}
	}))
	srv := httptest.NewServer(r)
	defer srv.Close()

	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject:   "alice",
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}).SignedString(secret)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	ws, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()
	for range 10 { // burst 5: the sixth message in a row is over the limit
		ws.WriteMessage(websocket.TextMessage, []byte("spam"))
	}
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			fmt.Println("client:", err)
			break
		}
	}
	info := <-closed
	fmt.Println("server:", info.Code, info.Reason, info.Initiator, errors.Is(info.Cause, ratelimit.ErrRateLimited))
	// Output:
	// client: websocket: close 1008 (policy violation): rate limit exceeded
	// server: 1008 policy violation rate limit exceeded local true
}

// JWT in front of an endpoint: no upgrade without a token.
func ExampleJWT() {
	reg := wsmw.NewRegistry()
	h := wsmw.JWT(wsmw.HMAC([]byte("at least 32 random bytes, really!")))(
		wsmw.Handler(reg, func(*wsmw.Conn, *http.Request) {}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	_, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	fmt.Println(err, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	// Output: websocket: bad handshake 401 Bearer
}

// WithClose is the one way to choose the close of any policy.
func ExampleWithClose() {
	reg := wsmw.NewRegistry()
	defer reg.Shutdown(context.Background())
	h := wsmw.SessionExpiry(10*time.Millisecond, wsmw.WithClose(4000, "please reconnect"))(
		wsmw.Handler(reg, func(c *wsmw.Conn, _ *http.Request) { wsmw.DiscardMessages(c) }))
	srv := httptest.NewServer(h)
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()
	_, _, err = ws.ReadMessage()
	fmt.Println(err)
	// Output: websocket: close 4000: please reconnect
}

// Broadcast pushes one message to every live connection through each
// one's bounded send queue: it never waits on a slow peer. A push-only
// handler just keeps reading, so pongs and the peer's Close are processed.
func ExampleBroadcast() {
	reg := wsmw.NewRegistry()
	defer reg.Shutdown(context.Background())
	opened := make(chan struct{})
	h := wsmw.OnOpen(func(*wsmw.Conn) { close(opened) })(
		wsmw.Handler(reg, func(c *wsmw.Conn, _ *http.Request) { wsmw.DiscardMessages(c) }))
	srv := httptest.NewServer(h)
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()
	<-opened
	n := wsmw.Broadcast(reg, wsmw.TextMessage, []byte("news"))
	_, msg, _ := ws.ReadMessage()
	fmt.Println(n, string(msg))
	// Output: 1 news
}

// Event mode for many mostly idle connections (notifications, dashboards,
// presence): no goroutine and no read buffer per idle connection, the same
// policies in front. The message function runs on a shared worker; it
// replies directly here, and would use Send for pushes to peers that may
// not read.
func ExampleEventHandler() {
	reg := wsmw.NewRegistry()
	r := chi.NewRouter()
	r.Use(wsmw.OnClose(func(c *wsmw.Conn, info wsmw.CloseInfo) {
		fmt.Println("server: closed", info.Code, info.Initiator, info.Cause)
	}))
	r.Use(wsmw.IdleTimeout(5 * time.Minute))
	r.Get("/presence", wsmw.EventHandler(reg, func(c *wsmw.Conn, mt wsmw.MessageType, msg []byte) {
		c.WriteMessage(mt, append([]byte("seen: "), msg...))
	}))
	srv := httptest.NewServer(r)
	defer srv.Close()

	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/presence"
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()
	ws.WriteMessage(websocket.TextMessage, []byte("alice"))
	_, msg, _ := ws.ReadMessage()
	fmt.Println("client:", string(msg))

	clientDone := make(chan error)
	go func() {
		_, _, err := ws.ReadMessage()
		clientDone <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reg.Shutdown(ctx)
	fmt.Println("client:", <-clientDone)
	// Output:
	// client: seen: alice
	// server: closed 1001 going away local server shutting down
	// client: websocket: close 1001 (going away): server shutting down
}
