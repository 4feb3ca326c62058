package wsmw_test

import (
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
	"github.com/wsmw/wsmw/auth"
)

// The full stack from the README, outermost first. A client that floods
// messages is closed with 1008 "rate limit exceeded", and the OnClose hook
// learns the cause.
func Example_fullStack() {
	secret := []byte("at least 32 random bytes, really!")
	reg := wsmw.NewRegistry()
	closed := make(chan wsmw.CloseInfo, 1)

	r := chi.NewRouter()
	r.Use(wsmw.OnClose(func(_ *wsmw.Conn, info wsmw.CloseInfo) { closed <- info }))
	r.Use(wsmw.ConnectRate(60, time.Minute))
	r.Use(wsmw.MaxConns(100))
	r.Use(wsmw.JWT(auth.HMAC(secret), auth.WithLogger(slog.New(slog.DiscardHandler))))
	r.Use(wsmw.SessionExpiry(30 * time.Minute))
	r.Use(wsmw.IdleTimeout(5 * time.Minute))
	r.Use(wsmw.Heartbeat(20*time.Second, 20*time.Second))
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
	}).ServeHTTP)
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
	fmt.Println("server:", info.Code, info.Reason, info.Initiator, info.Cause == wsmw.ErrRateLimited)
	// Output:
	// client: websocket: close 1008 (policy violation): rate limit exceeded
	// server: 1008 policy violation rate limit exceeded local true
}
