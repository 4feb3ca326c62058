package bench_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsmw/wsmw/bench"
)

// BenchmarkEcho measures binary echo round trips. ns/op is wall time per
// round trip across all connections; rt/s its inverse; srv-cpu-ns/op the
// server process's own CPU time per round trip; allocs/op and B/op are the
// server's (the client's are not counted).
func BenchmarkEcho(b *testing.B) {
	for _, size := range []int{64, 4096} {
		for _, conns := range []int{1, 64} {
			for _, name := range rows(b) {
				b.Run(fmt.Sprintf("size=%dB/conns=%d/impl=%s", size, conns, name), func(b *testing.B) {
					benchEcho(b, name, size, conns)
				})
			}
		}
	}
}

func benchEcho(b *testing.B, name string, size, n int) {
	c := startChild(b, name, bench.ChildConfig{})
	defer c.Close()
	conns := dialMany(b, c.URL(), header(b, name), n)
	defer closeConns(conns)
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	run := func(total int) error {
		var (
			next  atomic.Int64
			wg    sync.WaitGroup
			mu    sync.Mutex
			first error
		)
		for _, ws := range conns {
			wg.Go(func() {
				buf := make([]byte, size)
				for next.Add(1) <= int64(total) {
					if err := roundTrip(ws, payload, buf); err != nil {
						mu.Lock()
						first = err
						mu.Unlock()
						return
					}
				}
			})
		}
		wg.Wait()
		return first
	}
	if err := run(100 * n); err != nil { // warm up buffers and pools
		b.Fatal(err)
	}
	before, err := c.Stats()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	err = run(b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	after, err := c.Stats()
	if err != nil {
		b.Fatal(err)
	}
	reportServer(b, before, after, b.N)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rt/s")
}

// reportServer reports the server's CPU time and allocations per op,
// replacing the client's allocs/op and B/op.
func reportServer(b *testing.B, before, after bench.Stats, ops int) {
	b.ReportMetric(float64(after.CPU-before.CPU)/float64(ops), "srv-cpu-ns/op")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(ops), "allocs/op")
	b.ReportMetric(float64(after.AllocBytes-before.AllocBytes)/float64(ops), "B/op")
}
