package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsmw/wsmw/cluster"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/ratelimit"
)

// Every server makes a Node on the shared Redis; Revoke on any of them
// closes the subject's connections everywhere. Here Redis is down: the
// revocation is applied locally and queued for the others.
func Example() {
	reg := lifecycle.NewRegistry()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer client.Close()
	node := cluster.New(client, reg,
		cluster.WithTimeout(100*time.Millisecond),
		cluster.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer node.Close()

	n, err := node.Revoke(context.Background(), "alice")
	fmt.Println("closed here:", n)
	fmt.Println("pending:", errors.Is(err, cluster.ErrPending), node.Pending())
	// Output:
	// closed here: 0
	// pending: true 1
}

// A Store shares the rate limits of every server on one Redis: one
// connect rate and one connection cap per client, and a cap per subject
// (after the auth policy that sets the subject). While Redis is
// unreachable the policies fail open (logged), or, with WithFailClosed,
// answer 503 — as here, where no Redis listens. The leases of a server that
// dies expire within the TTL.
func ExampleNewStore() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer client.Close()
	store := cluster.NewStore(client, cluster.WithLeaseTTL(30*time.Second))
	defer store.Close()
	quiet := middleware.WithLogger(slog.New(slog.DiscardHandler))
	reg := lifecycle.NewRegistry()

	var ws http.Handler = middleware.Handler(reg, func(*lifecycle.Conn, *http.Request) { /* … */ })
	ws = ratelimit.MaxConns(2, ratelimit.WithKey(ratelimit.KeyBySubject), ratelimit.WithStore(store), quiet)(ws)
	// ws = auth.JWT(key)(ws): the per-subject cap goes after the auth policy
	ws = ratelimit.MaxConns(100, ratelimit.WithStore(store), ratelimit.WithFailClosed(), quiet)(ws)
	ws = ratelimit.ConnectRate(60, time.Minute, ratelimit.WithStore(store), ratelimit.WithFailClosed(), quiet)(ws)

	r := httptest.NewRequest(http.MethodGet, "/ws", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	w := httptest.NewRecorder()
	ws.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("Retry-After"))
	// Output: 503 5
}

// One option type serves New and NewStore; an option meant for the other
// one makes the constructor panic at start-up instead of being ignored.
func ExampleOption() {
	defer func() { fmt.Println(recover()) }()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	cluster.NewStore(client, cluster.WithPrefix("chat:limits:"), cluster.WithRetention(100))
	// Output: cluster: WithRetention does not apply to NewStore
}
