package resilience_test

import (
	"context"
	"sync"
	"time"

	"github.com/wsmw/wsmw/ratelimit"
)

// keyedStore is a MemoryStore that remembers every key it was asked about,
// so that a test can look at all of them afterwards: how many keys a flood
// used, and whether any of them still holds a slot.
type keyedStore struct {
	*ratelimit.MemoryStore
	mu   sync.Mutex
	seen map[string]bool
}

func newKeyedStore() *keyedStore {
	return &keyedStore{MemoryStore: ratelimit.NewMemoryStore(), seen: map[string]bool{}}
}

func (s *keyedStore) note(key string) {
	s.mu.Lock()
	s.seen[key] = true
	s.mu.Unlock()
}

func (s *keyedStore) Take(ctx context.Context, key string, limit int, window time.Duration) (ratelimit.TakeResult, error) {
	s.note(key)
	return s.MemoryStore.Take(ctx, key, limit, window)
}

func (s *keyedStore) Acquire(ctx context.Context, key string, max int) (func(), int, error) {
	s.note(key)
	return s.MemoryStore.Acquire(ctx, key, max)
}

// keys returns how many keys the store was asked about.
func (s *keyedStore) keys() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// held returns the slots still held, over every key.
func (s *keyedStore) held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k := range s.seen {
		n += s.Held(k)
	}
	return n
}
