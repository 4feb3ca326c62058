package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	chimw "github.com/go-chi/chi/v5/middleware"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/ratelimit"
)

func echo(c *lifecycle.Conn, _ *http.Request) {
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		c.WriteMessage(mt, msg)
	}
}

// wsURL turns an httptest server's URL into a WebSocket one.
func wsURL(srv *httptest.Server, path string) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + path
}

// Typical use with chi: connect rate and connection cap per client IP
// before any work, then the per-connection limits.
func Example() {
	reg := lifecycle.NewRegistry()
	r := chi.NewRouter()
	r.Use(
		ratelimit.ConnectRate(60, time.Minute), // 60 upgrades a minute per IP
		ratelimit.MaxConns(100),                // 100 open connections per IP
		ratelimit.MaxTotalConns(10_000),        // 10,000 in all (503 beyond)
		ratelimit.MaxMessageSize(64<<10),       // 1009 beyond 64 KiB
		ratelimit.ValidUTF8(),                  // 1007 on invalid text
		ratelimit.MessageRate(20, 40),          // 20 messages/s, bursts of 40
	)
	closed := make(chan lifecycle.CloseInfo, 1)
	r.Use(middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { closed <- info }))
	r.Get("/ws", middleware.Handler(reg, echo))
	srv := httptest.NewServer(r)
	defer srv.Close()
	defer reg.Shutdown(context.Background())

	ws, _, err := websocket.DefaultDialer.Dial(wsURL(srv, "/ws"), nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	for range 100 { // a flood
		ws.WriteMessage(websocket.TextMessage, []byte("hi"))
	}
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				fmt.Println("client saw:", ce.Code, ce.Text)
			}
			break
		}
	}
	info := <-closed
	fmt.Println("server logged:", int(info.Code), info.Reason, errors.Is(info.Cause, ratelimit.ErrRateLimited))
	// Output:
	// client saw: 1008 rate limit exceeded
	// server logged: 1008 rate limit exceeded true
}

// A client over its connect rate gets 429 with Retry-After and the
// X-RateLimit-* fields.
func ExampleConnectRate() {
	reg := lifecycle.NewRegistry()
	r := chi.NewRouter()
	r.With(ratelimit.ConnectRate(2, time.Minute)).Get("/ws", middleware.Handler(reg, echo))
	srv := httptest.NewServer(r)
	defer srv.Close()
	defer reg.Shutdown(context.Background())

	for range 3 {
		ws, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, "/ws"), nil)
		if err == nil {
			ws.Close()
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			fmt.Println(resp.StatusCode, "Retry-After:", resp.Header.Get("Retry-After"),
				"X-RateLimit-Remaining:", resp.Header.Get("X-RateLimit-Remaining"))
			continue
		}
		fmt.Println(resp.StatusCode)
	}
	// Output:
	// 101
	// 101
	// 429 Retry-After: 30 X-RateLimit-Remaining: 0
}

// Behind a reverse proxy, chi's own ClientIPFromXFF, trusting only the
// proxy's addresses, tells the policies the client IP. Without it, no
// forwarding header is believed.
func ExampleKeyByIP() {
	show := func(w http.ResponseWriter, r *http.Request) {
		key, _ := ratelimit.KeyByIP(r) // KeyByIP never fails
		fmt.Println(key)
	}
	behindProxy := chi.NewRouter()
	behindProxy.Use(chimw.ClientIPFromXFF("10.0.0.0/8")) // the proxies' addresses
	behindProxy.Use(ratelimit.ConnectRate(60, time.Minute))
	behindProxy.Get("/", show)
	direct := chi.NewRouter()
	direct.Use(ratelimit.ConnectRate(60, time.Minute))
	direct.Get("/", show)

	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "10.1.2.3:4567"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	behindProxy.ServeHTTP(httptest.NewRecorder(), req)
	direct.ServeHTTP(httptest.NewRecorder(), req) // the header alone is not believed
	// Output:
	// 203.0.113.9
	// 10.1.2.3
}

// A per-user connection cap: MaxConns keyed by the subject that the auth
// policy in front of it found in the token. Put it after the auth policy:
// before it there is no subject, and every upgrade would be refused with
// 403.
func ExampleKeyBySubject() {
	secret := []byte("an example secret of at least 32 bytes")
	reg := lifecycle.NewRegistry()
	r := chi.NewRouter()
	r.Use(
		auth.JWT(auth.HMAC(secret)),
		ratelimit.MaxConns(1, ratelimit.WithKey(ratelimit.KeyBySubject)),
	)
	r.Get("/ws", middleware.Handler(reg, echo))
	srv := httptest.NewServer(r)
	defer srv.Close()
	defer reg.Shutdown(context.Background())

	for _, user := range []string{"alice", "alice", "bob"} { // all from one address
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": user, "exp": time.Now().Add(time.Hour).Unix(),
		}).SignedString(secret)
		ws, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, "/ws"), http.Header{"Authorization": {"Bearer " + tok}})
		if err == nil {
			defer ws.Close() // open until the example ends
		}
		fmt.Println(user, resp.StatusCode)
	}
	// Output:
	// alice 101
	// alice 429
	// bob 101
}

// A per-user cap counts the connections authenticated in band too (the
// token in the first message, as browsers and GraphQL clients send it):
// auth.WithTokenOptional lets the upgrade through with its subject to
// come, and Authenticate takes the slot when it sets the subject, or
// reports the full cap, leaving the close to the handler.
func ExampleMaxConns_inBand() {
	secret := []byte("an example secret of at least 32 bytes")
	authn, _ := auth.New(auth.HMAC(secret), auth.WithTokenOptional())
	reg := lifecycle.NewRegistry()
	r := chi.NewRouter()
	r.Use(authn.Middleware, ratelimit.MaxConns(1, ratelimit.WithKey(ratelimit.KeyBySubject)))
	r.Get("/ws", middleware.Handler(reg, func(c *lifecycle.Conn, r *http.Request) {
		_, tok, err := c.ReadMessage()
		if err != nil {
			return
		}
		switch err := authn.Authenticate(c, string(tok)); {
		case errors.Is(err, ratelimit.ErrTooManyConnections):
			c.CloseWith(err, lifecycle.StatusTryAgainLater, "too many connections")
			return
		case err != nil:
			c.CloseWith(err, lifecycle.StatusPolicyViolation, "invalid token")
			return
		}
		c.WriteMessage(lifecycle.TextMessage, []byte("welcome "+c.Subject()))
		echo(c, r)
	}))
	srv := httptest.NewServer(r)
	defer srv.Close()
	defer reg.Shutdown(context.Background())

	for _, user := range []string{"alice", "alice", "bob"} {
		ws, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, "/ws"), nil) // no token: 101
		if err != nil {
			fmt.Println(err)
			return
		}
		defer ws.Close() // open until the example ends
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": user, "exp": time.Now().Add(time.Hour).Unix(),
		}).SignedString(secret)
		ws.WriteMessage(websocket.TextMessage, []byte(tok))
		_, msg, err := ws.ReadMessage()
		if err != nil {
			msg = []byte(err.Error())
		}
		fmt.Println(user, resp.StatusCode, string(msg))
	}
	// Output:
	// alice 101 welcome alice
	// alice 101 websocket: close 1013: too many connections
	// bob 101 welcome bob
}

// MessageRate closes a connection that sends faster than it allows; with
// middleware.WithClose it closes with another code, here 1013 "try again
// later". Three messages at once fit the burst; at one message a minute,
// the fourth does not.
func ExampleMessageRate() {
	reg := lifecycle.NewRegistry()
	r := chi.NewRouter()
	r.Use(ratelimit.MessageRate(1.0/60, 3, middleware.WithClose(lifecycle.StatusTryAgainLater, "slow down")))
	r.Get("/ws", middleware.Handler(reg, echo))
	srv := httptest.NewServer(r)
	defer srv.Close()
	defer reg.Shutdown(context.Background())

	ws, _, err := websocket.DefaultDialer.Dial(wsURL(srv, "/ws"), nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	for i := 1; i <= 5; i++ {
		ws.WriteMessage(websocket.TextMessage, fmt.Append(nil, i))
	}
	for {
		_, msg, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			fmt.Println("closed:", ce.Code, ce.Text)
			break
		} else if err != nil {
			break
		}
		fmt.Println("echo", string(msg))
	}
	// Output:
	// echo 1
	// echo 2
	// echo 3
	// closed: 1013 slow down
}

// WithOnExceeded decides what happens to each message over the limit:
// returning lifecycle.ErrDropMessage drops it and keeps the connection.
// Here messages over the limit are dropped, the connection stays open, and
// the client's own Close ends it.
func ExampleWithOnExceeded() {
	reg := lifecycle.NewRegistry()
	r := chi.NewRouter()
	r.Use(ratelimit.MessageRate(1.0/60, 3, ratelimit.WithOnExceeded(
		func(c *lifecycle.Conn, mt lifecycle.MessageType, data []byte) error {
			return lifecycle.ErrDropMessage
		})))
	r.Get("/ws", middleware.Handler(reg, echo))
	srv := httptest.NewServer(r)
	defer srv.Close()
	defer reg.Shutdown(context.Background())

	ws, _, err := websocket.DefaultDialer.Dial(wsURL(srv, "/ws"), nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	for i := 1; i <= 5; i++ {
		ws.WriteMessage(websocket.TextMessage, fmt.Append(nil, i))
	}
	ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"))
	for {
		_, msg, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			fmt.Println("closed:", ce.Code)
			break
		} else if err != nil {
			break
		}
		fmt.Println("echo", string(msg))
	}
	// Output:
	// echo 1
	// echo 2
	// echo 3
	// closed: 1000
}
