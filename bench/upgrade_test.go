package bench_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsmw/wsmw/bench"
)

// upgradeDialers is how many clients dial at once.
const upgradeDialers = 8

// BenchmarkUpgrade measures upgrades per second: each op is one client
// handshake (with an HS256 bearer token for the full stack), after which the
// client drops the TCP connection. srv-cpu-ns/op, allocs/op and B/op are the
// server's, counted until it has torn every connection down.
func BenchmarkUpgrade(b *testing.B) {
	for _, name := range rows(b) {
		b.Run("impl="+name, func(b *testing.B) { benchUpgrade(b, name) })
	}
}

func benchUpgrade(b *testing.B, name string) {
	c := startChild(b, name, bench.ChildConfig{})
	defer c.Close()
	url, h := c.URL(), header(b, name)
	dial := func(total int) error {
		var (
			next  atomic.Int64
			wg    sync.WaitGroup
			mu    sync.Mutex
			first error
		)
		for range upgradeDialers {
			wg.Go(func() {
				for next.Add(1) <= int64(total) {
					ws, _, err := dialer.Dial(url, h)
					if err != nil {
						mu.Lock()
						first = fmt.Errorf("upgrade: %w", err)
						mu.Unlock()
						return
					}
					ws.Close()
				}
			})
		}
		wg.Wait()
		return first
	}
	if err := dial(100); err != nil { // warm up
		b.Fatal(err)
	}
	before := waitStats(b, c, "the warm-up connections to end", func(s bench.Stats) bool { return s.Closed == s.Opened })
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	err := dial(b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	after := waitStats(b, c, "every connection to end", func(s bench.Stats) bool {
		return s.Closed == s.Opened && s.Opened >= before.Opened+int64(b.N)
	})
	reportServer(b, before, after, b.N)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "upgrades/s")
}
