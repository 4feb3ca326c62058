package cluster

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/wstest"
)

// BenchmarkStoreTake measures one Take (a redis_rate GCRA script) against a
// local redis-server: serially, and from parallel goroutines on one client
// over 1000 keys.
func BenchmarkStoreTake(b *testing.B) {
	addr, _ := wstest.StartRedis(b)
	s := newTestStore(b, addr)
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Take(ctx, "bench", 1_000_000, time.Second); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				if _, err := s.Take(ctx, "bench:"+strconv.Itoa(i%1000), 1_000_000, time.Second); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkStoreAcquire measures taking a connection slot and releasing it.
func BenchmarkStoreAcquire(b *testing.B) {
	addr, _ := wstest.StartRedis(b)
	s := newTestStore(b, addr)
	ctx := context.Background()
	for b.Loop() {
		release, _, err := s.Acquire(ctx, "bench", 1_000_000)
		if err != nil || release == nil {
			b.Fatal(err)
		}
		release()
	}
}
