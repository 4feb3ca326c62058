package timeout

import (
	"net/http"
	"time"
)

// Config is a bundle of this package's policies; a zero field turns its
// policy off. Start from Recommended and change what your application
// needs.
type Config struct {
	// SessionExpiry is the absolute maximum lifetime (SessionExpiry).
	SessionExpiry time.Duration
	// IdleTimeout closes connections with no inbound data message for this
	// long (IdleTimeout).
	IdleTimeout time.Duration
	// PingInterval and PongTimeout drive Heartbeat; both must be set.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// InitTimeout requires the first message within this long
	// (InitTimeout).
	InitTimeout time.Duration
	// WriteTimeout bounds every data write (WriteTimeout).
	WriteTimeout time.Duration
	// QueueMessages and QueueBytes bound each connection's SendQueue
	// (SlowConsumer); zero means the package defaults. The queue is
	// always attached.
	QueueMessages int
	QueueBytes    int
}

// Recommended returns the defaults wsmw suggests for a browser-facing
// endpoint, each chosen for a reason:
//
//   - SessionExpiry 30m: a connection never outlives its credentials, a
//     revocation list or a deployment by more than half an hour, and clients
//     learn to reconnect, which they must do anyway.
//   - IdleTimeout 5m: an application that sends nothing for five minutes
//     is usually a forgotten tab; set 0 for push-only endpoints whose
//     clients never send.
//   - PingInterval 20s, PongTimeout 20s: a frame every 20 s keeps the
//     common 60 s idle cut-offs of NATs, load balancers and proxies (AWS
//     ALB, nginx proxy_read_timeout) from dropping quiet connections, and a
//     dead peer is found within 40 s at the cost of one 2-byte-header ping
//     per interval.
//   - InitTimeout 0 (off): only protocols with an init message (graphql-ws)
//     want it; 10s is a good value there.
//   - WriteTimeout 10s: a peer that has not accepted a frame in ten seconds
//     is not coming back, and the writer must not hang on it.
//   - Queue 256 messages and 1 MiB (DefaultQueueMessages,
//     DefaultQueueBytes): enough slack for bursts, small enough that ten
//     thousand stuck peers cannot exhaust memory.
func Recommended() Config {
	return Config{
		SessionExpiry: 30 * time.Minute,
		IdleTimeout:   5 * time.Minute,
		PingInterval:  20 * time.Second,
		PongTimeout:   20 * time.Second,
		WriteTimeout:  10 * time.Second,
		QueueMessages: DefaultQueueMessages,
		QueueBytes:    DefaultQueueBytes,
	}
}

// Policies returns the middleware of the enabled policies, in the order
// they should run: write timeout and queue first (they configure the
// write path), then the timers.
func (cfg Config) Policies() []func(http.Handler) http.Handler {
	return []func(http.Handler) http.Handler{
		WriteTimeout(cfg.WriteTimeout),
		SlowConsumer(MaxMessages(cfg.QueueMessages), MaxBytes(cfg.QueueBytes)),
		SessionExpiry(cfg.SessionExpiry),
		InitTimeout(cfg.InitTimeout),
		IdleTimeout(cfg.IdleTimeout),
		Heartbeat(cfg.PingInterval, cfg.PongTimeout),
	}
}

// Middleware returns the enabled policies as one middleware, for r.Use.
func (cfg Config) Middleware() func(http.Handler) http.Handler {
	policies := cfg.Policies()
	return func(next http.Handler) http.Handler {
		for i := len(policies) - 1; i >= 0; i-- {
			next = policies[i](next)
		}
		return next
	}
}
