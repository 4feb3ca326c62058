package ratelimit

import (
	"context"
	"net/http"
	"time"

	"github.com/wsmw/wsmw/middleware"
)

// storeTimeout bounds a Store call made for one upgrade request.
const storeTimeout = 2 * time.Second

// ConnectRate limits WebSocket upgrades to limit per window per key (the
// client IP unless WithKey says otherwise): a token bucket per key that
// holds limit tokens and refills at limit per window, so a client may
// connect limit times at once and then at the steady rate. A refused
// upgrade gets 429 with Retry-After (until the next token) and
// X-RateLimit-Limit, -Remaining and -Reset, as go-chi/httprate writes them.
// Requests that are not upgrades pass untouched.
//
// Options: WithKey, WithStore, WithPrefix, FailClosed/FailOpen, WithLogger,
// OnReject. A limit or window that is not positive disables the policy.
func ConnectRate(limit int, window time.Duration, opts ...Option) func(http.Handler) http.Handler {
	cfg := newConfig(opts)
	fl := new(failureLog)
	return func(next http.Handler) http.Handler {
		if limit <= 0 || window <= 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !middleware.IsUpgrade(r) {
				next.ServeHTTP(w, r)
				return
			}
			key := cfg.key(r)
			if key == "" {
				next.ServeHTTP(w, r)
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
			res, err := cfg.store.Take(ctx, cfg.prefix+"connect:"+key, limit, window)
			cancel()
			if err != nil {
				if !cfg.storeFailure(w, r, "ConnectRate", fl, err) {
					next.ServeHTTP(w, r)
				}
				return
			}
			setLimitHeaders(w, limit, res.Remaining, res.Reset)
			if !res.Allowed {
				cfg.refuse(w, r, http.StatusTooManyRequests, ErrConnectRateLimited, res.RetryAfter)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
