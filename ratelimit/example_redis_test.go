//go:build ignore

// Excluded while the Redis store moves to the cluster module (issue 15):
// ExampleNewRedisStore, moved here unchanged from example_test.go, is on the
// old API and is being moved with the store.

package ratelimit_test

import (
	"log/slog"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"github.com/wsmw/wsmw/ratelimit"
)

// Servers that share a Redis share one connect rate and one connection cap
// per client IP. The leases of a server that dies expire within the TTL.
// While Redis is unreachable the policies fail open (logged); FailClosed
// answers 503 instead.
func ExampleNewRedisStore() {
	client := redis.NewClient(&redis.Options{
		Addr:          "127.0.0.1:6379",
		DialTimeout:   time.Second,
		ReadTimeout:   time.Second,
		MaxRetries:    1,
		DialerRetries: 1,
	})
	store := ratelimit.NewRedisStore(client, ratelimit.LeaseTTL(30*time.Second))
	defer store.Close()

	opts := []ratelimit.Option{ratelimit.WithStore(store), ratelimit.WithLogger(slog.Default())}
	r := chi.NewRouter()
	r.Use(
		ratelimit.ConnectRate(60, time.Minute, opts...),
		ratelimit.MaxConns(100, opts...),
		ratelimit.MaxTotalConns(50_000, append(opts, ratelimit.FailClosed())...),
	)
	_ = r
}
