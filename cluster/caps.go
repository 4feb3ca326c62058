package cluster

import (
	"net/http"

	"github.com/wsmw/wsmw/ratelimit"
)

// MaxConnsPerSubject allows at most max open connections per authenticated
// subject across every server that shares store (a ratelimit.RedisStore);
// a refused upgrade gets 429. It is ratelimit.MaxConns keyed by
// ratelimit.KeyBySubject, so it must come after the auth policy that sets
// the subject (a request without one is keyed by client IP). opts are
// ratelimit's (FailOpen or FailClosed for Redis outages, WithLogger,
// OnReject, …).
func MaxConnsPerSubject(store ratelimit.Store, max int, opts ...ratelimit.Option) func(http.Handler) http.Handler {
	all := append([]ratelimit.Option{ratelimit.WithKey(ratelimit.KeyBySubject), ratelimit.WithStore(store)}, opts...)
	return ratelimit.MaxConns(max, all...)
}
