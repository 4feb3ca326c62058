package wsmw

import (
	"net/http"
	"time"

	"github.com/wsmw/wsmw/ratelimit"
)

// RateLimitOption configures a rate limit policy: ratelimit.WithKey,
// ratelimit.WithStore, ratelimit.FailClosed, ratelimit.OnReject,
// ratelimit.WithCloseCode, ratelimit.Drop, ratelimit.PerSubject and the
// others of package ratelimit.
type RateLimitOption = ratelimit.Option

// RateLimitStore holds the counters and connection slots of the rate
// limits: ratelimit.NewMemoryStore (the default) or ratelimit.NewRedisStore.
type RateLimitStore = ratelimit.Store

// Causes reported by the rate limit policies (see also ErrMessageTooBig).
var (
	ErrRateLimited        = ratelimit.ErrRateLimited
	ErrInvalidUTF8        = ratelimit.ErrInvalidUTF8
	ErrConnectRateLimited = ratelimit.ErrConnectRateLimited
	ErrTooManyConnections = ratelimit.ErrTooManyConnections
	ErrServerFull         = ratelimit.ErrServerFull
	ErrStoreUnavailable   = ratelimit.ErrStoreUnavailable
)

// ConnectRate limits upgrades to limit per window per client IP (a token
// bucket whose burst is limit): 429 with Retry-After and X-RateLimit-*.
func ConnectRate(limit int, window time.Duration, opts ...RateLimitOption) func(http.Handler) http.Handler {
	return ratelimit.ConnectRate(limit, window, opts...)
}

// MaxConns allows n open connections per client IP: 429 with Retry-After
// beyond. Each slot is released exactly once, however the connection ends.
func MaxConns(n int, opts ...RateLimitOption) func(http.Handler) http.Handler {
	return ratelimit.MaxConns(n, opts...)
}

// MaxTotalConns allows n open connections in all: 503 with Retry-After
// beyond.
func MaxTotalConns(n int, opts ...RateLimitOption) func(http.Handler) http.Handler {
	return ratelimit.MaxTotalConns(n, opts...)
}

// MessageRate limits each connection to perSecond messages per second with
// bursts of burst; beyond, 1008 "rate limit exceeded" (cause
// ErrRateLimited).
func MessageRate(perSecond float64, burst int, opts ...RateLimitOption) func(http.Handler) http.Handler {
	return ratelimit.MessageRate(perSecond, burst, opts...)
}

// MaxMessageSize limits messages to n bytes; a larger one closes with 1009
// "message too big" (cause ErrMessageTooBig).
func MaxMessageSize(n int64) func(http.Handler) http.Handler { return ratelimit.MaxMessageSize(n) }

// ValidUTF8 closes a connection that sends invalid UTF-8 text with 1007
// "invalid utf-8" (cause ErrInvalidUTF8).
func ValidUTF8() func(http.Handler) http.Handler { return ratelimit.ValidUTF8() }
