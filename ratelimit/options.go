package ratelimit

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/wsmw/wsmw/lifecycle"
)

// Option configures a policy. Each policy documents the options it reads
// and ignores the others.
type Option func(*config)

type config struct {
	key        KeyFunc
	store      Store
	prefix     string
	failClosed bool
	retryAfter time.Duration
	log        *slog.Logger
	onReject   func(r *http.Request, status int, cause error)

	// MessageRate
	closeErr   *lifecycle.CloseError
	drop       bool
	onExceeded func(c *lifecycle.Conn, mt lifecycle.MessageType, data []byte) error
	perSubject bool
}

func newConfig(opts []Option) *config {
	cfg := &config{key: KeyByIP, retryAfter: 5 * time.Second}
	for _, o := range opts {
		o(cfg)
	}
	if cfg.store == nil {
		cfg.store = NewMemoryStore()
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	return cfg
}

// WithKey sets the key function of ConnectRate and MaxConns. The default,
// KeyByIP, counts an IPv4 client by its address and an IPv6 client by its
// /64 network.
func WithKey(key KeyFunc) Option {
	return func(c *config) {
		if key != nil {
			c.key = key
		}
	}
}

// WithStore sets the Store of ConnectRate, MaxConns and MaxTotalConns: a
// RedisStore to share the limits between servers. By default each policy
// has its own MemoryStore.
func WithStore(s Store) Option { return func(c *config) { c.store = s } }

// WithPrefix puts prefix in front of every key the policy uses in its
// Store, to keep two policies with the same kind of limit apart in one
// shared Store (for example two endpoints with their own MaxConns).
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// FailClosed makes ConnectRate, MaxConns and MaxTotalConns refuse upgrades
// with 503 and Retry-After while their Store fails (Redis unreachable). The
// default is to fail open: let the upgrade through without counting it.
// Either way the failure is logged (at most once every 10 seconds per
// policy, with the number of failures in between).
func FailClosed() Option { return func(c *config) { c.failClosed = true } }

// FailOpen restores the default: while the Store fails, upgrades go
// through uncounted, and the failure is logged.
func FailOpen() Option { return func(c *config) { c.failClosed = false } }

// WithRetryAfter sets the Retry-After of the refusals that do not know when
// capacity frees up: MaxConns, MaxTotalConns and a failing Store (5 s by
// default). ConnectRate computes its own from the token bucket.
func WithRetryAfter(d time.Duration) Option { return func(c *config) { c.retryAfter = d } }

// WithLogger sets the logger of Store failures (slog.Default by default).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// OnReject adds a hook called for every upgrade a policy refuses, with the
// HTTP status and the cause (ErrConnectRateLimited, ErrTooManyConnections,
// ErrServerFull, or ErrStoreUnavailable wrapping the Store's error), for
// metrics and audit logs. It runs before the response is written.
func OnReject(fn func(r *http.Request, status int, cause error)) Option {
	return func(c *config) { c.onReject = fn }
}

// WithCloseCode sets the close code and reason of MessageRate (1008 "rate
// limit exceeded" by default), for example 1013 "try again later".
func WithCloseCode(code lifecycle.StatusCode, reason string) Option {
	return func(c *config) {
		c.closeErr = &lifecycle.CloseError{Code: code, Reason: reason, Cause: ErrRateLimited}
	}
}

// Drop makes MessageRate drop the messages over the limit (the handler
// never sees them) instead of closing the connection.
func Drop() Option { return func(c *config) { c.drop = true } }

// OnExceeded sets what MessageRate does with a message over the limit:
// fn's result is the read check's (lifecycle.ReadCheck): nil lets the
// message through, lifecycle.ErrDropMessage drops it, a
// *lifecycle.CloseError closes with its code, any other error closes with
// 1008. It runs on the reading goroutine and should be cheap.
func OnExceeded(fn func(c *lifecycle.Conn, mt lifecycle.MessageType, data []byte) error) Option {
	return func(c *config) { c.onExceeded = fn }
}

// PerSubject makes MessageRate share one token bucket between all the
// connections of a subject on this server, so that opening more
// connections does not buy more messages. Connections without a subject
// keep their own bucket.
func PerSubject() Option { return func(c *config) { c.perSubject = true } }
