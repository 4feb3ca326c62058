package ratelimit

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// totalKey is the Store key of MaxTotalConns.
const totalKey = "conns:*"

// MaxConns allows at most n open WebSocket connections per key (the client
// IP unless WithKey says otherwise). A slot is taken before the upgrade and
// released exactly once: when the connection ends, however it ends (peer
// close, reset, server close, shutdown), or at once when the request is not
// upgraded after all (a later policy refused it, the handshake failed). A
// refused upgrade gets 429 with Retry-After (WithRetryAfter, 5 s by
// default) and X-RateLimit-Limit, -Remaining and -Reset.
//
// Options: WithKey, WithStore, WithPrefix, FailClosed/FailOpen,
// WithRetryAfter, WithLogger, OnReject. n ≤ 0 disables the policy.
func MaxConns(n int, opts ...Option) func(http.Handler) http.Handler {
	cfg := newConfig(opts)
	return slotPolicy(cfg, n, "MaxConns", func(r *http.Request) string {
		if key := cfg.key(r); key != "" {
			return "conns:" + key
		}
		return ""
	}, http.StatusTooManyRequests, ErrTooManyConnections)
}

// MaxTotalConns allows at most n open WebSocket connections through it in
// all (with a RedisStore: on all the servers that share it). Slots are
// taken and released as by MaxConns; a refused upgrade gets 503 with
// Retry-After.
//
// Options: WithStore, WithPrefix, FailClosed/FailOpen, WithRetryAfter,
// WithLogger, OnReject. n ≤ 0 disables the policy.
func MaxTotalConns(n int, opts ...Option) func(http.Handler) http.Handler {
	cfg := newConfig(opts)
	return slotPolicy(cfg, n, "MaxTotalConns", func(*http.Request) string { return totalKey },
		http.StatusServiceUnavailable, ErrServerFull)
}

func slotPolicy(cfg *config, n int, name string, key func(*http.Request) string, status int, cause error) func(http.Handler) http.Handler {
	fl := new(failureLog)
	return func(next http.Handler) http.Handler {
		if n <= 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !middleware.IsUpgrade(r) {
				next.ServeHTTP(w, r)
				return
			}
			k := key(r)
			if k == "" {
				next.ServeHTTP(w, r)
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
			release, held, err := cfg.store.Acquire(ctx, cfg.prefix+k, n)
			cancel()
			if err != nil {
				if !cfg.storeFailure(w, r, name, fl, err) {
					next.ServeHTTP(w, r)
				}
				return
			}
			if release == nil {
				setLimitHeaders(w, n, 0, cfg.retryAfter)
				cfg.refuse(w, r, status, cause, cfg.retryAfter)
				return
			}
			setLimitHeaders(w, n, n-held, 0)
			serveHoldingSlot(w, r, next, release)
		})
	}
}

// serveHoldingSlot runs next with a slot held and makes sure release runs
// exactly once: from an OnClose hook of the connection when the upgrade
// happened (the hook is added to the Conn when it is made, so it runs
// however the connection ends), at once when it did not (or when next
// panicked before it).
func serveHoldingSlot(w http.ResponseWriter, r *http.Request, next http.Handler, release func()) {
	var done atomic.Bool
	once := func() {
		if done.CompareAndSwap(false, true) {
			release()
		}
	}
	r = middleware.AddCloseHook(r, func(*lifecycle.Conn, lifecycle.CloseInfo) { once() })
	defer func() {
		if !middleware.Upgraded(r) {
			once()
		}
	}()
	next.ServeHTTP(w, r)
}
