package ratelimit

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// defaultMaxKeys bounds the token buckets of a [MemoryStore].
const defaultMaxKeys = 100_000

// sweepEvery is how often Take looks for idle buckets to evict.
const sweepEvery = time.Minute

// MemoryStore is the in-process Store: a golang.org/x/time/rate token
// bucket per key and a counter of slots per key. Its memory is bounded: a
// bucket that has refilled completely is the same as a new one, so it is
// evicted (looked for at most once a minute, on Take); a slot counter is
// deleted when it reaches zero; and beyond 100,000 buckets, arbitrary ones
// are evicted, which can only make the limit more lenient for them.
type MemoryStore struct {
	maxKeys int

	mu        sync.Mutex
	buckets   map[string]*bucket
	slots     map[string]int
	lastSweep time.Time
}

type bucket struct {
	lim      *rate.Limiter
	limit    int
	window   time.Duration
	lastUsed time.Time
}

// NewMemoryStore returns an empty [MemoryStore].
func NewMemoryStore() *MemoryStore { return newMemoryStore(defaultMaxKeys) }

// newMemoryStore returns an empty [MemoryStore] of at most maxKeys buckets.
func newMemoryStore(maxKeys int) *MemoryStore {
	return &MemoryStore{
		maxKeys: maxKeys,
		buckets: make(map[string]*bucket),
		slots:   make(map[string]int),
	}
}

// Take implements Store.
func (s *MemoryStore) Take(_ context.Context, key string, limit int, window time.Duration) (TakeResult, error) {
	if limit <= 0 || window <= 0 {
		return TakeResult{}, nil
	}
	now := time.Now()
	every := rate.Every(window / time.Duration(limit))
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.lastSweep) >= sweepEvery {
		s.sweep(now)
	}
	b := s.buckets[key]
	if b == nil || b.limit != limit || b.window != window {
		if b == nil && len(s.buckets) >= s.maxKeys {
			s.sweep(now)
			s.evictArbitrary(len(s.buckets) - s.maxKeys + 1)
		}
		b = &bucket{lim: rate.NewLimiter(every, limit), limit: limit, window: window}
		s.buckets[key] = b
	}
	b.lastUsed = now
	res := TakeResult{Allowed: b.lim.AllowN(now, 1)}
	tokens := b.lim.TokensAt(now)
	res.Remaining = int(math.Max(0, math.Floor(tokens)))
	perToken := float64(window) / float64(limit)
	if !res.Allowed {
		res.RetryAfter = time.Duration(math.Ceil((1 - tokens) * perToken))
	}
	res.Reset = time.Duration(math.Ceil((float64(limit) - tokens) * perToken))
	return res, nil
}

// sweep evicts the buckets that have refilled completely.
func (s *MemoryStore) sweep(now time.Time) {
	s.lastSweep = now
	for k, b := range s.buckets {
		if now.Sub(b.lastUsed) >= b.window {
			delete(s.buckets, k)
		}
	}
}

func (s *MemoryStore) evictArbitrary(n int) {
	for k := range s.buckets {
		if n <= 0 {
			return
		}
		delete(s.buckets, k)
		n--
	}
}

// Acquire implements Store.
func (s *MemoryStore) Acquire(_ context.Context, key string, max int) (func(), int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held := s.slots[key]
	if held >= max {
		return nil, held, nil
	}
	held++
	s.slots[key] = held
	var released atomic.Bool
	return func() {
		if !released.CompareAndSwap(false, true) {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if n := s.slots[key] - 1; n > 0 {
			s.slots[key] = n
		} else {
			delete(s.slots, key)
		}
	}, held, nil
}

// Held returns the number of slots of key that are held.
func (s *MemoryStore) Held(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.slots[key]
}

// len returns the number of keys the store holds: token buckets and slot
// counters.
func (s *MemoryStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buckets) + len(s.slots)
}
