package wsmw

import (
	"net/http"
	"time"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/ratelimit"
)

// KeyFunc names what [ConnectRate] and [MaxConns] count per: [KeyByIP]
// (the default), [KeyBySubject], or your own (see [ratelimit.KeyFunc]).
type KeyFunc = ratelimit.KeyFunc

// Store holds the counters and connection slots of the rate limits: in
// memory by default, shared through Redis with the cluster module (see
// [ratelimit.Store]).
type Store = ratelimit.Store

// FrameLimits are the per-connection budgets of control frames and
// fragments (see [LimitFrames]).
type FrameLimits = lifecycle.FrameLimits

// ConnectRate limits upgrades to limit per window per client (an IPv4
// address or an IPv6 /64): 429 with Retry-After and X-RateLimit-* (cause
// [ratelimit.ErrConnectRateLimited]). Options: [WithKey], [WithStore],
// [WithFailClosed].
func ConnectRate(limit int, window time.Duration, opts ...Option) func(http.Handler) http.Handler {
	return ratelimit.ConnectRate(limit, window, opts...)
}

// MaxConns allows n open connections per client ([WithKey]([KeyBySubject]):
// per user, after [JWT]); 429 beyond (cause
// [ratelimit.ErrTooManyConnections]). Each slot is released exactly once,
// however the connection ends.
func MaxConns(n int, opts ...Option) func(http.Handler) http.Handler {
	return ratelimit.MaxConns(n, opts...)
}

// MaxTotalConns allows n open connections in all: 503 beyond (cause
// [ratelimit.ErrServerFull]).
func MaxTotalConns(n int, opts ...Option) func(http.Handler) http.Handler {
	return ratelimit.MaxTotalConns(n, opts...)
}

// MessageRate limits each connection to perSecond messages a second with
// bursts of burst: 1008 "rate limit exceeded" beyond (cause
// [ratelimit.ErrRateLimited]).
func MessageRate(perSecond float64, burst int, opts ...Option) func(http.Handler) http.Handler {
	return ratelimit.MessageRate(perSecond, burst, opts...)
}

// MaxMessageSize limits messages to n bytes (1 MiB without it): 1009
// "message too big" beyond (cause [lifecycle.ErrMessageTooBig]).
func MaxMessageSize(n int64) func(http.Handler) http.Handler { return ratelimit.MaxMessageSize(n) }

// ValidUTF8 closes a connection that sends invalid UTF-8 text with 1007
// "invalid utf-8" (cause [ratelimit.ErrInvalidUTF8]).
func ValidUTF8(opts ...Option) func(http.Handler) http.Handler { return ratelimit.ValidUTF8(opts...) }

// LimitFrames sets the budgets of pings, unsolicited pongs and fragments
// each connection may send; they are on by default (1008 "too many control
// frames" / "too many fragments" beyond).
func LimitFrames(l FrameLimits) func(http.Handler) http.Handler { return ratelimit.LimitFrames(l) }

// KeyByIP keys by the client: its IPv4 address, or its IPv6 /64.
func KeyByIP(r *http.Request) (string, error) { return ratelimit.KeyByIP(r) }

// KeyBySubject keys by the authenticated subject; a request without one is
// refused with 403 (cause [ratelimit.ErrNoSubject]): put the policy after
// [JWT].
func KeyBySubject(r *http.Request) (string, error) { return ratelimit.KeyBySubject(r) }

// WithKey sets what [ConnectRate] and [MaxConns] count per.
func WithKey(key KeyFunc) Option { return ratelimit.WithKey(key) }

// WithStore shares the limits of [ConnectRate], [MaxConns] and
// [MaxTotalConns] through store (the cluster module's Redis store).
func WithStore(store Store) Option { return ratelimit.WithStore(store) }

// WithFailClosed refuses upgrades with 503 while the store fails, instead
// of letting them through uncounted.
func WithFailClosed() Option { return ratelimit.WithFailClosed() }
