package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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

// A per-subject cap shared by every server goes after the auth policy.
func ExampleMaxConnsPerSubject() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	store := ratelimit.NewRedisStore(client)
	defer store.Close()
	reg := lifecycle.NewRegistry()
	var authenticate func(http.Handler) http.Handler // auth.JWT(...) in a real server

	mux := http.NewServeMux()
	mux.Handle("/ws", authenticate(
		cluster.MaxConnsPerSubject(store, 2, ratelimit.FailOpen())(
			middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) { /* … */ }))))
}
