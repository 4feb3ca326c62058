package evpoll

// Option configures a Poller.
type Option func(*options)

type options struct {
	pool    *Pool
	poolCfg PoolConfig
	batch   int
	edge    bool
}

// WithPool makes the Poller queue its wake-ups on pool, which the caller
// owns and closes after the Poller. Without it the Poller makes a pool of
// its own, closed by [Poller.Close].
func WithPool(pool *Pool) Option { return func(o *options) { o.pool = pool } }

// WithPoolConfig sizes the pool the Poller makes for itself.
func WithPoolConfig(cfg PoolConfig) Option { return func(o *options) { o.poolCfg = cfg } }

// WithEdgeTriggered registers connections edge-triggered and without
// EPOLLONESHOT: a connection stays armed, there is no Rearm, and a wake-up
// comes when new bytes arrive (or the peer hangs up), also while an earlier
// wake-up of the same connection is being handled, on another worker. The
// handler must then read until the socket is drained (a read shorter than
// asked for, or EAGAIN) and coalesce the wake-ups of one connection itself,
// or bytes are left unread with no wake-up to come. It saves the epoll_ctl
// of each Rearm.
func WithEdgeTriggered() Option { return func(o *options) { o.edge = true } }

// WithBatch sets how many events one epoll_wait may return (default 256).
func WithBatch(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.batch = n
		}
	}
}

func buildOptions(opts []Option) options {
	o := options{batch: 256}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// PollerStats is a snapshot of a Poller's counters.
type PollerStats struct {
	Registered int    // connections added and not removed
	Wakes      uint64 // times the epoll descriptor woke its waiter
	Events     uint64 // events queued to the pool
	Dropped    uint64 // events dropped because the pool was closed
}
