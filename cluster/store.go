package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/wsmw/wsmw/internal/failurelog"
	"github.com/wsmw/wsmw/ratelimit"
)

// Defaults of a Store.
const (
	DefaultStorePrefix = "wsmw:ratelimit:"
	DefaultLeaseTTL    = 30 * time.Second
)

// ErrStoreClosed is returned by a Store's Acquire after Close.
var ErrStoreClosed = errors.New("cluster: store closed")

// Store is a ratelimit.Store shared by every server that uses the same
// Redis: give it to ConnectRate, MaxConns and MaxTotalConns with
// [ratelimit.WithStore]. Make one with [NewStore] and Close it on shutdown.
//
// Take is go-redis/redis_rate's GCRA limiter; Acquire takes a lease in a
// sorted set per key, extended by this Store while the connection lives
// (see the package documentation). Redis errors are returned to the
// policies, which fail open or closed as they are configured, and log it.
type Store struct {
	client  redis.UniversalClient
	honours bool // client ends calls at the context's deadline
	reload  reloader
	limiter *redis_rate.Limiter
	prefix  string
	ttl     time.Duration
	timeout time.Duration
	log     *slog.Logger
	node    string // this Store's random identity, the prefix of its lease IDs
	seq     atomic.Uint64
	fails   failurelog.Log

	mu         sync.Mutex
	leases     map[string]map[string]struct{} // full key → lease IDs held here
	n          int                            // leases held here
	stop       chan struct{}                  // closes to stop the running refresher; nil when none
	kick       chan struct{}                  // makes the refresher refresh now
	refreshing bool                           // a refresh is in flight
	released   []lease                        // released during the refresh in flight
	closed     bool
	workers    sync.WaitGroup
}

var _ ratelimit.Store = (*Store)(nil)

// NewStore returns a Store on client (a *redis.Client, a
// *redis.ClusterClient or a failover client). opts are those that apply to
// [NewStore] ([WithPrefix], [WithTimeout], [WithLogger], [WithLeaseTTL]); any other
// makes [NewStore] panic. Closing client stays the caller's job, after
// Close.
func NewStore(client redis.UniversalClient, opts ...Option) *Store {
	if client == nil {
		panic("cluster: NewStore needs a Redis client")
	}
	var id [8]byte
	rand.Read(id[:])
	s := &Store{
		client:  client,
		honours: honoursContext(client),
		limiter: redis_rate.NewLimiter(client),
		prefix:  DefaultStorePrefix,
		ttl:     DefaultLeaseTTL,
		timeout: DefaultTimeout,
		log:     slog.Default(),
		node:    hex.EncodeToString(id[:]),
		leases:  make(map[string]map[string]struct{}),
		kick:    make(chan struct{}, 1),
	}
	applyStore(s, opts)
	s.reload = newReloader(client, s.log)
	return s
}

// Take implements ratelimit.Store: one token from key's bucket of limit
// tokens, full at first and refilled at limit tokens per window, by Redis's
// clock. It is one call to redis_rate's AllowN with rate and burst limit
// per window; the bucket's Redis key is redis_rate's "rate:" followed by
// the Store's prefix and key. It returns within the Store's timeout (or
// ctx's deadline, if sooner).
func (s *Store) Take(ctx context.Context, key string, limit int, window time.Duration) (ratelimit.TakeResult, error) {
	if limit <= 0 || window <= 0 {
		return ratelimit.TakeResult{}, nil
	}
	res, err := bounded(ctx, s.honours, s.timeout, func(ctx context.Context) (*redis_rate.Result, error) {
		return s.limiter.Allow(ctx, s.prefix+key, redis_rate.Limit{Rate: limit, Burst: limit, Period: window})
	}, nil)
	if err != nil {
		s.reload.failed(err)
		return ratelimit.TakeResult{}, err
	}
	if res.Allowed == 0 {
		return ratelimit.TakeResult{RetryAfter: max(res.RetryAfter, 0), Reset: max(res.ResetAfter, 0)}, nil
	}
	return ratelimit.TakeResult{
		Allowed:   true,
		Remaining: remaining(limit, window, res.ResetAfter),
		Reset:     max(res.ResetAfter, 0),
	}, nil
}

// remaining returns the whole tokens left after an allowed take, from the
// time until the bucket is full again (reset). redis_rate's own Remaining
// is a float of seconds since 2017 divided by the refill interval and
// truncated by Redis, so for many limits it reads one short on a full
// bucket (7 per minute: 5 left after the first take). Its rounding error is
// under 0.1 µs of refill; a microsecond of slack absorbs it.
func remaining(limit int, window, reset time.Duration) int {
	left := float64(limit) * float64(window-reset+time.Microsecond) / float64(window)
	return max(min(int(left), limit-1), 0)
}

// Acquire implements ratelimit.Store: a lease on one of max connection
// slots of key, shared by every server on the Redis. The returned release
// deletes the lease, once however often it is called; until then the
// Store extends it every TTL/3, and creates it again if Redis lost it. A
// lease whose server died expires within the TTL. Acquire returns within
// the Store's timeout (or ctx's deadline, if sooner); a lease Redis grants
// after that is deleted.
func (s *Store) Acquire(ctx context.Context, key string, max int) (func(), int, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, 0, ErrStoreClosed
	}
	full := s.prefix + key
	id := s.leaseID()
	type granted struct {
		ok   bool
		held int
	}
	g, err := bounded(ctx, s.honours, s.timeout, func(ctx context.Context) (granted, error) {
		ok, held, err := acquireLease(ctx, s.client, full, id, max, s.ttl)
		return granted{ok, held}, err
	}, func(g granted, err error) {
		if err == nil && g.ok {
			s.drop(full, id) // granted after Acquire gave up
		}
	})
	if err != nil {
		s.reload.failed(err)
		return nil, 0, err
	}
	if !g.ok {
		return nil, g.held, nil
	}
	held := g.held
	if s.lostLeases(full, held) {
		s.refreshNow() // count the open connections again before the next tick
	}
	s.track(full, id)
	var released atomic.Bool
	return func() {
		if released.CompareAndSwap(false, true) {
			s.release(full, id)
		}
	}, held, nil
}

// Held returns the number of unexpired slots of key (as given to Acquire,
// without the Store's prefix), on all servers. It returns within the
// Store's timeout (or ctx's deadline, if sooner).
func (s *Store) Held(ctx context.Context, key string) (int, error) {
	n, err := bounded(ctx, s.honours, s.timeout, func(ctx context.Context) (int, error) {
		return heldLeases(ctx, s.client, s.prefix+key)
	}, nil)
	s.reload.failed(err)
	return n, err
}

// Close stops extending the Store's leases and deletes them from Redis (so
// their slots are free at once, not within the TTL). Acquire fails with
// [ErrStoreClosed] afterwards; Take still works. It does not close the
// Redis client.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	leases := s.leases
	if s.refreshing { // it may create them again: it deletes them when it ends
		for key, ids := range leases {
			for id := range ids {
				s.released = append(s.released, lease{key, id})
			}
		}
	}
	s.leases = make(map[string]map[string]struct{})
	s.n = 0
	if s.stop != nil {
		close(s.stop)
		s.stop = nil
	}
	s.mu.Unlock()
	s.workers.Wait()
	_, err := bounded(context.Background(), s.honours, s.timeout, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, dropLeases(ctx, s.client, leases)
	}, nil)
	return err
}

// logFailure logs a failed Redis call that no request waits for, at most
// once every [failurelog.Every].
func (s *Store) logFailure(op string, err error) {
	if n, ok := s.fails.Due(); ok {
		s.log.Error("cluster: rate limit store: Redis call failed", "op", op, "err", err, "failures", n)
	}
}
