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
	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/ratelimit"
)

func echo(c *lifecycle.Conn) {
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		c.WriteMessage(mt, msg)
	}
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
	r.Get("/ws", middleware.Handler(reg, echo).ServeHTTP)
	srv := httptest.NewServer(r)
	defer srv.Close()
	defer reg.Shutdown(context.Background())

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	for i := 0; i < 100; i++ { // a flood
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
	r.With(ratelimit.ConnectRate(2, time.Minute)).Get("/ws", middleware.Handler(reg, echo).ServeHTTP)
	srv := httptest.NewServer(r)
	defer srv.Close()
	defer reg.Shutdown(context.Background())

	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	for i := 0; i < 3; i++ {
		ws, resp, err := websocket.DefaultDialer.Dial(url, nil)
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
	show := func(w http.ResponseWriter, r *http.Request) { fmt.Println(ratelimit.KeyByIP(r)) }
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

// MessageRate can drop the messages over the limit instead of closing, or
// close with another code.
func ExampleMessageRate() {
	_ = ratelimit.MessageRate(20, 40, ratelimit.Drop())
	_ = ratelimit.MessageRate(20, 40, ratelimit.WithCloseCode(lifecycle.StatusTryAgainLater, "try again later"))
	// One bucket for all of a subject's connections (the subject comes from
	// an auth policy in front):
	_ = ratelimit.MessageRate(20, 40, ratelimit.PerSubject())
}
