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

// JWT in front of an endpoint: no upgrade without a token, and the session
// ends when the token does.
func ExampleJWT() {
	secret := []byte("at least 32 random bytes, really!")
	reg := wsmw.NewRegistry()
	r := chi.NewRouter()
	r.Use(wsmw.JWT(auth.HMAC(secret), auth.WithLogger(slog.New(slog.DiscardHandler))))
	r.Get("/ws", wsmw.Handler(reg, func(c *wsmw.Conn, _ *http.Request) {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}).ServeHTTP)
	srv := httptest.NewServer(r)
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"

	_, resp, _ := websocket.DefaultDialer.Dial(url, nil)
	fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))

	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject:   "alice",
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Second)),
	}).SignedString(secret)
	ws, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()
	_, _, err = ws.ReadMessage()
	fmt.Println(err)
	// Output:
	// 401 Bearer
	// websocket: close 1008 (policy violation): token expired
}
