package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestMemoryTakeBurstAndRefill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewMemoryStore()
		ctx := context.Background()
		for i := range 3 {
			res, _ := s.Take(ctx, "k", 3, 3*time.Second)
			if !res.Allowed || res.Remaining != 2-i {
				t.Fatalf("take %d: %+v", i, res)
			}
		}
		res, _ := s.Take(ctx, "k", 3, 3*time.Second)
		if res.Allowed || res.RetryAfter != time.Second || res.Reset != 3*time.Second {
			t.Fatalf("over the burst: %+v", res)
		}
		if other, _ := s.Take(ctx, "other", 3, 3*time.Second); !other.Allowed {
			t.Fatal("another key is limited too")
		}
		time.Sleep(time.Second) // fake time: one token refills
		if res, _ := s.Take(ctx, "k", 3, 3*time.Second); !res.Allowed || res.Remaining != 0 {
			t.Fatalf("after a second: %+v", res)
		}
		time.Sleep(500 * time.Millisecond)
		res, _ = s.Take(ctx, "k", 3, 3*time.Second)
		if res.Allowed || res.RetryAfter != 500*time.Millisecond {
			t.Fatalf("half a token: %+v", res)
		}
	})
}

func TestMemoryEvictsIdleBuckets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewMemoryStore()
		ctx := context.Background()
		for i := range 1000 {
			s.Take(ctx, fmt.Sprint("ip", i), 5, 10*time.Second)
		}
		if n := s.len(); n != 1000 {
			t.Fatalf("Len = %d, want 1000", n)
		}
		time.Sleep(sweepEvery) // all refilled, and a sweep is due
		s.Take(ctx, "fresh", 5, 10*time.Second)
		if n := s.len(); n != 1 {
			t.Fatalf("after idle: Len = %d, want 1", n)
		}
	})
}

func TestMemoryMaxKeys(t *testing.T) {
	s := newMemoryStore(100)
	ctx := context.Background()
	for i := range 10_000 {
		s.Take(ctx, fmt.Sprint("ip", i), 5, time.Hour)
		if n := s.len(); n > 100 {
			t.Fatalf("Len = %d > MaxKeys after %d keys", n, i+1)
		}
	}
}

func TestMemorySlots(t *testing.T) {
	s := NewMemoryStore()
	ctx := context.Background()
	var releases []func()
	for i := range 3 {
		rel, held, _ := s.Acquire(ctx, "k", 3)
		if rel == nil || held != i+1 {
			t.Fatalf("acquire %d: rel=%v held=%d", i, rel != nil, held)
		}
		releases = append(releases, rel)
	}
	if rel, held, _ := s.Acquire(ctx, "k", 3); rel != nil || held != 3 {
		t.Fatalf("fourth acquire: rel=%v held=%d", rel != nil, held)
	}
	var wg sync.WaitGroup
	for _, rel := range releases {
		for range 3 { // released many times, concurrently: counted once
			wg.Go(rel)
		}
	}
	wg.Wait()
	if n := s.Held("k"); n != 0 {
		t.Fatalf("Held = %d after release", n)
	}
	if n := s.len(); n != 0 {
		t.Fatalf("Len = %d: the empty counter was kept", n)
	}
}
