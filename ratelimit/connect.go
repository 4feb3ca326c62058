package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/middleware"
)

// storeTimeout bounds a Store call made for one upgrade request.
const storeTimeout = 2 * time.Second

// storeContext returns the context of a Store call for r, bounded by
// storeTimeout; the in-memory store, which never waits, gets r's own (no
// runtime timer and no context per call).
func (cfg *config) storeContext(r *http.Request) (context.Context, context.CancelFunc) {
	if _, local := cfg.store.(*MemoryStore); local {
		return r.Context(), noCancel
	}
	return context.WithTimeout(r.Context(), storeTimeout)
}

func noCancel() {}

// ConnectRate limits WebSocket upgrades to limit per window per key (the
// client IP unless [WithKey] says otherwise): a token bucket per key that
// holds limit tokens and refills at limit per window, so a client may
// connect limit times at once and then at the steady rate. A refused
// upgrade gets 429 with Retry-After (until the next token) and
// X-RateLimit-Limit, -Remaining and -Reset, as go-chi/httprate writes them.
// Requests that are not upgrades pass untouched.
//
// Options: [WithKey], [WithStore], [WithPrefix], [WithFailClosed], [WithOnReject],
// [middleware.WithLogger]. A limit of zero turns the policy off; a negative
// limit, or a window that is not positive with a limit, panics. 60 a minute
// per client is a good default for browsers, which reconnect with backoff.
func ConnectRate(limit int, window time.Duration, opts ...middleware.Option) func(http.Handler) http.Handler {
	if limit < 0 || limit > 0 && window <= 0 {
		panic(fmt.Sprintf("wsmw: ConnectRate(%d, %v): a limit of zero turns it off; otherwise both must be positive", limit, window))
	}
	cfg := newConfig(forConnect, nil, opts)
	fl := new(failureLog)
	return func(next http.Handler) http.Handler {
		if limit == 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !policy.IsUpgrade(r) {
				next.ServeHTTP(w, r)
				return
			}
			key, ok := cfg.keyOf(w, r, "ConnectRate")
			if !ok {
				return
			}
			if key == "" {
				next.ServeHTTP(w, r)
				return
			}
			ctx, cancel := cfg.storeContext(r)
			res, err := cfg.store.Take(ctx, cfg.prefix+"connect:"+key, limit, window)
			cancel()
			if err != nil {
				if !cfg.storeFailure(w, r, "ConnectRate", fl, err) {
					next.ServeHTTP(w, r)
				}
				return
			}
			if !res.Allowed {
				setLimitHeaders(w, limit, res.Remaining, res.Reset)
				cfg.refuse(w, r, http.StatusTooManyRequests, ErrConnectRateLimited, res.RetryAfter)
				return
			}
			next.ServeHTTP(withLimitHeaders(w, limit, res.Remaining, res.Reset), r)
		})
	}
}
