package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of a RedisStore.
const (
	DefaultLeaseTTL     = 30 * time.Second
	DefaultRedisPrefix  = "wsmw:ratelimit:"
	DefaultRedisTimeout = time.Second
)

// RedisStore is a Store shared by every server that uses the same Redis,
// through go-redis/v9. Take and Acquire are single Lua scripts, so
// concurrent servers never overshoot a limit. A connection slot is a lease
// with a TTL (LeaseTTL, 30 s by default) in a sorted set per key; one
// goroutine per store, running only while it holds leases, extends them
// every TTL/3. The slots of a server that dies without releasing them
// expire within the TTL. After an outage longer than the TTL, connections
// that survived it are no longer counted.
//
// Errors (Redis unreachable) are returned to the policies, which fail open
// or closed as configured and log it.
type RedisStore struct {
	client  redis.UniversalClient
	prefix  string
	ttl     time.Duration
	timeout time.Duration
	log     *slog.Logger
	node    string
	seq     atomic.Uint64
	fails   failureLog

	mu      sync.Mutex
	leases  map[string]map[string]struct{} // full key → lease IDs held here
	n       int
	stop    chan struct{} // closes to stop the running refresher; nil when none
	closed  bool
	workers sync.WaitGroup
}

// RedisOption configures a RedisStore.
type RedisOption func(*RedisStore)

// LeaseTTL sets how long a connection slot outlives the server that holds
// it (DefaultLeaseTTL). The store extends its leases every TTL/3.
func LeaseTTL(d time.Duration) RedisOption {
	return func(s *RedisStore) {
		if d >= 3*time.Millisecond {
			s.ttl = d
		}
	}
}

// RedisPrefix sets the prefix of every Redis key the store uses
// (DefaultRedisPrefix).
func RedisPrefix(p string) RedisOption { return func(s *RedisStore) { s.prefix = p } }

// RedisTimeout bounds the calls that no request bounds: releasing a slot
// and refreshing leases (DefaultRedisTimeout).
func RedisTimeout(d time.Duration) RedisOption {
	return func(s *RedisStore) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// RedisLogger sets the logger of lease refresh failures (slog.Default).
func RedisLogger(l *slog.Logger) RedisOption { return func(s *RedisStore) { s.log = l } }

// NewRedisStore returns a Store on client (a *redis.Client, a
// *redis.ClusterClient or a failover client). Close it to release its
// leases and stop refreshing them; closing client stays the caller's job.
func NewRedisStore(client redis.UniversalClient, opts ...RedisOption) *RedisStore {
	var id [8]byte
	rand.Read(id[:])
	s := &RedisStore{
		client:  client,
		prefix:  DefaultRedisPrefix,
		ttl:     DefaultLeaseTTL,
		timeout: DefaultRedisTimeout,
		log:     slog.Default(),
		node:    hex.EncodeToString(id[:]),
		leases:  make(map[string]map[string]struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ErrStoreClosed is returned by a RedisStore's Acquire after Close.
var ErrStoreClosed = errors.New("ratelimit: store closed")

func millis(d time.Duration) int64 { return max(int64((d+time.Millisecond-1)/time.Millisecond), 1) }

// Take implements Store.
func (s *RedisStore) Take(ctx context.Context, key string, limit int, window time.Duration) (TakeResult, error) {
	if limit <= 0 || window <= 0 {
		return TakeResult{}, nil
	}
	v, err := takeScript.Run(ctx, s.client, []string{s.prefix + key}, limit, millis(window)).Int64Slice()
	if err != nil {
		return TakeResult{}, err
	}
	if len(v) != 4 {
		return TakeResult{}, fmt.Errorf("ratelimit: unexpected reply from Redis: %v", v)
	}
	return TakeResult{
		Allowed:    v[0] == 1,
		Remaining:  int(v[1]),
		RetryAfter: time.Duration(v[2]) * time.Millisecond,
		Reset:      time.Duration(v[3]) * time.Millisecond,
	}, nil
}

// Acquire implements Store.
func (s *RedisStore) Acquire(ctx context.Context, key string, max int) (func(), int, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, 0, ErrStoreClosed
	}
	full := s.prefix + key
	id := s.node + ":" + strconv.FormatUint(s.seq.Add(1), 36)
	v, err := acquireScript.Run(ctx, s.client, []string{full}, max, millis(s.ttl), id).Int64Slice()
	if err != nil {
		return nil, 0, err
	}
	if len(v) != 2 {
		return nil, 0, fmt.Errorf("ratelimit: unexpected reply from Redis: %v", v)
	}
	if v[0] != 1 {
		return nil, int(v[1]), nil
	}
	s.track(full, id)
	var released atomic.Bool
	return func() {
		if released.CompareAndSwap(false, true) {
			s.release(full, id)
		}
	}, int(v[1]), nil
}

// Held returns the number of unexpired slots of key (as given to Acquire,
// without the store's prefix), on all servers.
func (s *RedisStore) Held(ctx context.Context, key string) (int, error) {
	n, err := heldScript.Run(ctx, s.client, []string{s.prefix + key}).Int()
	return n, err
}

// release forgets a lease and deletes it from Redis. If Redis cannot be
// reached the lease expires within the TTL, as nobody refreshes it.
func (s *RedisStore) release(full, id string) {
	s.untrack(full, id)
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if err := s.client.ZRem(ctx, full, id).Err(); err != nil {
		s.logFailure("release", err)
	}
}

// track records a lease and starts the refresher if it is not running.
func (s *RedisStore) track(full, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := s.leases[full]
	if ids == nil {
		ids = make(map[string]struct{}, 1)
		s.leases[full] = ids
	}
	ids[id] = struct{}{}
	s.n++
	if s.stop == nil && !s.closed {
		s.stop = make(chan struct{})
		s.workers.Add(1)
		go s.refresher(s.stop)
	}
}

// untrack forgets a lease and stops the refresher when none is left.
func (s *RedisStore) untrack(full, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := s.leases[full]
	if _, ok := ids[id]; !ok {
		return
	}
	delete(ids, id)
	if len(ids) == 0 {
		delete(s.leases, full)
	}
	if s.n--; s.n == 0 && s.stop != nil {
		close(s.stop)
		s.stop = nil
	}
}

// refresher extends the store's leases every TTL/3 until stop closes.
func (s *RedisStore) refresher(stop <-chan struct{}) {
	defer s.workers.Done()
	t := time.NewTicker(s.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := s.refresh(); err != nil {
				s.logFailure("lease refresh", err)
			}
		}
	}
}

// refreshBatch is the most lease IDs sent in one script call.
const refreshBatch = 512

// refresh extends every lease held here, in one pipeline.
func (s *RedisStore) refresh() error {
	s.mu.Lock()
	type call struct {
		key  string
		args []any
	}
	var calls []call
	ttl := millis(s.ttl)
	for key, ids := range s.leases {
		args := make([]any, 0, min(len(ids), refreshBatch)+1)
		args = append(args, ttl)
		for id := range ids {
			if len(args) > refreshBatch {
				calls = append(calls, call{key, args})
				args = []any{ttl}
			}
			args = append(args, id)
		}
		calls = append(calls, call{key, args})
	}
	s.mu.Unlock()
	if len(calls) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	run := func() ([]redis.Cmder, error) {
		pipe := s.client.Pipeline()
		for _, c := range calls {
			refreshScript.EvalSha(ctx, pipe, []string{c.key}, c.args...)
		}
		return pipe.Exec(ctx)
	}
	_, err := run()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		if err := refreshScript.Load(ctx, s.client).Err(); err != nil {
			return err
		}
		_, err = run()
	}
	return err
}

func (s *RedisStore) logFailure(op string, err error) {
	if n, ok := s.fails.due(); ok {
		s.log.Error("wsmw: rate limit store: Redis call failed", "op", op, "err", err, "failures", n)
	}
}

// Close stops refreshing the store's leases and releases them. Acquire
// fails afterwards; Take still works.
func (s *RedisStore) Close() error {
	s.mu.Lock()
	s.closed = true
	leases := s.leases
	s.leases = make(map[string]map[string]struct{})
	s.n = 0
	if s.stop != nil {
		close(s.stop)
		s.stop = nil
	}
	s.mu.Unlock()
	s.workers.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	pipe := s.client.Pipeline()
	for key, ids := range leases {
		members := make([]any, 0, len(ids))
		for id := range ids {
			members = append(members, id)
		}
		pipe.ZRem(ctx, key, members...)
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	return err
}
