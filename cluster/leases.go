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

// refreshScript: extend the leases ARGV[2..] of KEYS[1] that still exist to
// now+ARGV[1]. A lease that has been removed (released, or expired and
// swept) is not brought back.
var refreshScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[i])
end
if redis.call('ZCARD', KEYS[1]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 0
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

// release forgets a lease and deletes it from Redis. If Redis cannot be
// reached the lease expires within the TTL, as nobody extends it.
func (s *Store) release(full, id string) {
	s.untrack(full, id)
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if err := s.client.ZRem(ctx, full, id).Err(); err != nil {
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

// untrack forgets a lease and stops the refresher when none is left.
func (s *Store) untrack(full, id string) {
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
			if err := s.refresh(); err != nil {
				s.logFailure("lease refresh", err)
			}
		}
	}
}

// refreshBatch is the most lease IDs sent in one script call.
const refreshBatch = 512

// refresh extends every lease held here, in one pipeline.
func (s *Store) refresh() error {
	type call struct {
		key  string
		args []any
	}
	var calls []call
	ttl := millis(s.ttl)
	s.mu.Lock()
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
