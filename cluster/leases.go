package cluster

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// A connection slot is a lease: a member of the sorted set of its key,
// scored by its expiry in Redis's clock (ms). The scripts below are the
// only code that touches the sets; each runs atomically and reads TIME, so
// servers whose clocks disagree still share one count.

// acquireScript: a lease ARGV[3] in the set KEYS[1], if fewer than ARGV[1]
// unexpired leases are held; ARGV[2] is the lease TTL. Every lease expires
// by now+TTL, so the set may too. Returns {1 if acquired, leases held}.
var acquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[1]) then
  return {0, n}
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return {1, n + 1}
`)

// refreshScript: extend the leases ARGV[2..] of KEYS[1] to now+ARGV[1],
// creating again those that Redis lost (a restart without persistence, a
// failover to a replica that had not received them, an outage longer than
// the TTL): the connections they stand for are still open. Returns how many
// it created again.
var refreshScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
local added = 0
for i = 2, #ARGV do
  added = added + redis.call('ZADD', KEYS[1], now + ttl, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ttl)
return added
`)

// heldScript: the number of unexpired leases of KEYS[1].
var heldScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
`)

func millis(d time.Duration) int64 { return max(int64((d+time.Millisecond-1)/time.Millisecond), 1) }

// leaseID returns a new lease ID, unique across Stores.
func (s *Store) leaseID() string { return s.node + ":" + strconv.FormatUint(s.seq.Add(1), 36) }

// acquireLease runs acquireScript.
func acquireLease(ctx context.Context, c redis.Scripter, key, id string, max int, ttl time.Duration) (ok bool, held int, err error) {
	v, err := acquireScript.Run(ctx, c, []string{key}, max, millis(ttl), id).Int64Slice()
	if err != nil {
		return false, 0, err
	}
	if len(v) != 2 {
		return false, 0, fmt.Errorf("cluster: unexpected reply from Redis: %v", v)
	}
	return v[0] == 1, int(v[1]), nil
}

// heldLeases runs heldScript.
func heldLeases(ctx context.Context, c redis.Scripter, key string) (int, error) {
	return heldScript.Run(ctx, c, []string{key}).Int()
}

// dropLeases deletes leases (full key → lease IDs) in one pipeline.
func dropLeases(ctx context.Context, c redis.UniversalClient, leases map[string]map[string]struct{}) error {
	pipe := c.Pipeline()
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

// lease is one lease: its full key and its ID.
type lease struct{ key, id string }

// release forgets a lease and deletes it from Redis. If Redis cannot be
// reached the lease expires within the TTL, as nobody extends it.
func (s *Store) release(full, id string) {
	s.untrack(full, id)
	s.drop(full, id)
}

// drop deletes a lease from Redis.
func (s *Store) drop(full, id string) {
	_, err := bounded(context.Background(), s.honours, s.timeout, func(ctx context.Context) (int64, error) {
		return s.client.ZRem(ctx, full, id).Result()
	}, nil)
	if err != nil {
		s.reload.failed(err)
		s.logFailure("release", err)
	}
}

// track records a lease and starts the refresher if it is not running.
func (s *Store) track(full, id string) {
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

// untrack forgets a lease and stops the refresher when none is left. A
// refresh in flight may create the lease again after release deletes it:
// the refresh deletes it once more when it ends.
func (s *Store) untrack(full, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := s.leases[full]
	if _, ok := ids[id]; !ok {
		return
	}
	if s.refreshing {
		s.released = append(s.released, lease{full, id})
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

// lostLeases reports whether Redis counted fewer leases of full, held in
// all after granting one more, than this Store holds there: it lost some.
func (s *Store) lostLeases(full string, held int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return held-1 < len(s.leases[full])
}

// refreshNow makes the refresher refresh at once.
func (s *Store) refreshNow() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// refresher extends the Store's leases every TTL/3 until stop closes. It
// runs only while the Store holds leases.
func (s *Store) refresher(stop <-chan struct{}) {
	defer s.workers.Done()
	t := time.NewTicker(s.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		case <-s.kick:
		}
		if err := s.refresh(); err != nil {
			s.reload.failed(err)
			s.logFailure("lease refresh", err)
		}
	}
}

// refreshBatch is the most lease IDs sent in one script call.
const refreshBatch = 512

// refresh extends every lease held here, in one pipeline, within the
// Store's timeout; a refresh that Redis has not answered by then ends in
// the background, and the next tick is skipped until it has.
func (s *Store) refresh() error {
	type call struct {
		key  string
		args []any
	}
	var calls []call
	ttl := millis(s.ttl)
	s.mu.Lock()
	if s.refreshing {
		s.mu.Unlock()
		return nil
	}
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
	s.refreshing = len(calls) > 0
	s.mu.Unlock()
	if len(calls) == 0 {
		return nil
	}
	created, err := bounded(context.Background(), s.honours, s.timeout, func(ctx context.Context) (int64, error) {
		defer s.refreshed()
		run := func() (int64, error) {
			pipe := s.client.Pipeline()
			cmds := make([]*redis.Cmd, len(calls))
			for i, c := range calls {
				cmds[i] = refreshScript.EvalSha(ctx, pipe, []string{c.key}, c.args...)
			}
			_, err := pipe.Exec(ctx)
			var created int64
			for _, c := range cmds {
				n, _ := c.Int64()
				created += n
			}
			return created, err
		}
		created, err := run()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			if err := refreshScript.Load(ctx, s.client).Err(); err != nil {
				return created, err
			}
			var again int64
			again, err = run()
			created += again
		}
		return created, err
	}, nil)
	if created > 0 {
		s.log.Warn("cluster: rate limit store: Redis had lost leases of open connections; created them again", "leases", created)
	}
	return err
}

// refreshed ends a refresh: the leases released while it was in flight,
// which it may have created again, are deleted once more.
func (s *Store) refreshed() {
	s.mu.Lock()
	again := make(map[string]map[string]struct{}, len(s.released))
	for _, l := range s.released {
		if again[l.key] == nil {
			again[l.key] = make(map[string]struct{})
		}
		again[l.key][l.id] = struct{}{}
	}
	s.released, s.refreshing = nil, false
	s.mu.Unlock()
	if len(again) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if err := dropLeases(ctx, s.client, again); err != nil {
		s.logFailure("release", err)
	}
}
