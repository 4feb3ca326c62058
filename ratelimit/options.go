package ratelimit

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// The options of this package's policies. Each policy's doc lists the ones
// it takes; another panics at construction.
//
//	option               ConnectRate  MaxConns  MaxTotalConns  MessageRate  ValidUTF8
//	WithKey                   x          x
//	WithStore, WithPrefix     x          x           x
//	WithFailClosed            x          x           x
//	WithRetryAfter                       x           x
//	WithOnReject              x          x           x
//	middleware.WithLogger     x          x           x
//	middleware.WithClose                                        x            x
//	WithOnExceeded                                              x
//	WithPerSubject                                              x

// option is one of this package's options; uses names the policies that
// take it.
type option struct {
	name  string
	uses  policySet
	apply func(*config)
}

func (o option) OptionName() string { return o.name }

type policySet uint8

const (
	forConnect policySet = 1 << iota
	forConns
	forTotal
	forMessages
	forUTF8
)

// policy names, for the panics of misplaced options.
var policyNames = map[policySet]string{
	forConnect: "ConnectRate", forConns: "MaxConns", forTotal: "MaxTotalConns",
	forMessages: "MessageRate", forUTF8: "ValidUTF8",
}

type config struct {
	key        KeyFunc
	store      Store
	prefix     string
	failClosed bool
	retryAfter time.Duration
	log        *slog.Logger
	onReject   func(r *http.Request, status int, cause error)
	warnOnce   sync.Once // a key function that failed

	// MessageRate and ValidUTF8
	closeErr   *lifecycle.CloseError
	onExceeded func(c *lifecycle.Conn, mt lifecycle.MessageType, data []byte) error
	perSubject bool
}

// newConfig reads the options of policy p, which closes with def (nil for
// the policies that refuse upgrades instead).
func newConfig(p policySet, def *lifecycle.CloseError, opts []middleware.Option) *config {
	cfg := &config{key: KeyByIP, retryAfter: 5 * time.Second, log: slog.Default(), closeErr: def}
	policy.ApplyOptions(policyNames[p], opts, func(o middleware.Option) bool {
		switch o := o.(type) {
		case option:
			if o.uses&p == 0 {
				return false
			}
			o.apply(cfg)
		case policy.LoggerOption:
			if p&(forConnect|forConns|forTotal) == 0 {
				return false
			}
			cfg.log = o.Logger
		case policy.CloseOption:
			if def == nil {
				return false
			}
			cfg.closeErr = &lifecycle.CloseError{Code: o.Code, Reason: o.Reason, Cause: def.Cause}
		default:
			return false
		}
		return true
	})
	if cfg.store == nil && p&(forConnect|forConns|forTotal) != 0 {
		cfg.store = NewMemoryStore()
	}
	return cfg
}

// WithKey sets what [ConnectRate] and [MaxConns] count per: [KeyByIP] by
// default (an IPv4 address or an IPv6 /64), [KeyByIPPrefix] for other
// networks, [KeyBySubject] per user.
func WithKey(key KeyFunc) middleware.Option {
	if key == nil {
		panic("wsmw: WithKey(nil)")
	}
	return option{"WithKey", forConnect | forConns, func(c *config) { c.key = key }}
}

// WithStore sets the Store of [ConnectRate], [MaxConns] and [MaxTotalConns]: by
// default each policy has its own [MemoryStore]; the cluster module's Redis
// store shares the limits between servers.
func WithStore(s Store) middleware.Option {
	if s == nil {
		panic("wsmw: WithStore(nil)")
	}
	return option{"WithStore", forConnect | forConns | forTotal, func(c *config) { c.store = s }}
}

// WithPrefix puts prefix in front of every key the policy uses in its
// Store, to keep two policies with the same kind of limit apart in one
// shared Store (for example two endpoints with their own [MaxConns]).
func WithPrefix(prefix string) middleware.Option {
	return option{"WithPrefix", forConnect | forConns | forTotal, func(c *config) { c.prefix = prefix }}
}

// WithFailClosed makes [ConnectRate], [MaxConns] and [MaxTotalConns] refuse
// upgrades with 503 and Retry-After while their Store fails (Redis
// unreachable). By default they fail open: the upgrade goes through
// uncounted. Either way the failure is logged (at most once every 10
// seconds per policy, with the number of failures in between).
func WithFailClosed() middleware.Option {
	return option{"WithFailClosed", forConnect | forConns | forTotal, func(c *config) { c.failClosed = true }}
}

// WithRetryAfter sets the Retry-After of the refusals that do not know
// when capacity frees up: [MaxConns], [MaxTotalConns] and a failing Store (5 s
// by default). [ConnectRate] computes its own from the token bucket. d must
// be positive.
func WithRetryAfter(d time.Duration) middleware.Option {
	if d <= 0 {
		panic(fmt.Sprintf("wsmw: WithRetryAfter(%v): must be positive", d))
	}
	return option{"WithRetryAfter", forConns | forTotal, func(c *config) { c.retryAfter = d }}
}

// WithOnReject adds a hook called for every upgrade a policy refuses, with
// the HTTP status and the cause ([ErrConnectRateLimited],
// [ErrTooManyConnections], [ErrServerFull], [ErrNoSubject], or
// [ErrStoreUnavailable] wrapping the Store's error), for metrics and audit
// logs. It runs before the response is written. A [MaxConns] refusal of a
// subject set in band, after the upgrade, is no HTTP refusal and does not
// reach it (see [MaxConns]).
func WithOnReject(fn func(r *http.Request, status int, cause error)) middleware.Option {
	if fn == nil {
		panic("wsmw: WithOnReject(nil)")
	}
	return option{"WithOnReject", forConnect | forConns | forTotal, func(c *config) { c.onReject = fn }}
}

// WithOnExceeded sets what [MessageRate] does with a message over the limit
// instead of closing: fn's result is the read check's
// ([lifecycle.ReadCheck]): nil lets the message through,
// [lifecycle.ErrDropMessage] drops it silently, a [*lifecycle.CloseError]
// closes with its code, any other error closes with 1008. It runs on the
// reading goroutine and should be cheap.
func WithOnExceeded(fn func(c *lifecycle.Conn, mt lifecycle.MessageType, data []byte) error) middleware.Option {
	if fn == nil {
		panic("wsmw: WithOnExceeded(nil)")
	}
	return option{"WithOnExceeded", forMessages, func(c *config) { c.onExceeded = fn }}
}

// WithPerSubject makes [MessageRate] share one token bucket between all the
// connections of a subject on this server, so that opening more
// connections does not buy more messages. Connections without a subject
// keep their own bucket.
func WithPerSubject() middleware.Option {
	return option{"WithPerSubject", forMessages, func(c *config) { c.perSubject = true }}
}
