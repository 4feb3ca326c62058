//go:build linux

package evpoll

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// latencies is a histogram with one-microsecond buckets up to 100 ms.
type latencies struct{ b [100000]atomic.Uint32 }

func (l *latencies) add(d time.Duration) {
	us := min(max(int(d/time.Microsecond), 0), len(l.b)-1)
	l.b[us].Add(1)
}

// pct returns the p-th percentile in microseconds.
func (l *latencies) pct(p float64) float64 {
	var total uint64
	for i := range l.b {
		total += uint64(l.b[i].Load())
	}
	want := uint64(float64(total) * p / 100)
	var n uint64
	for i := range l.b {
		n += uint64(l.b[i].Load())
		if n > want {
			return float64(i)
		}
	}
	return float64(len(l.b))
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEcho: 64 gorilla clients in a child process echo messages
// through the server over loopback, in event mode (owned reader of 4 KiB
// or 8 KiB: a 4 KiB message does not fit a 4 KiB buffer with its header,
// so each one grows the buffer) and with a blocking read goroutine per
// connection. Reported: round trips/s; the server's CPU time per
// round trip (this process only: the clients are in the child); the time
// from a client's write to the server's message handler, p50 and p99 (in
// event mode this spans epoll, the poller, the pool and the frame scan).
//
// With one connection (conns=1) nothing queues: write-to-handler is the
// bare wake-up latency of each mode.
func BenchmarkEcho(b *testing.B) {
	for _, c := range []struct{ conns, size int }{{64, 64}, {64, 4096}, {1, 64}} {
		for _, mode := range []string{"goroutines", "events-buf4k", "events-buf8k"} {
			b.Run(fmt.Sprintf("conns=%d/size=%d/%s", c.conns, c.size, mode), func(b *testing.B) {
				buf := 4096
				if mode == "events-buf8k" {
					buf = 8192
				}
				benchEcho(b, mode != "goroutines", c.conns, c.size, buf)
			})
		}
	}
}

func benchEcho(b *testing.B, events bool, conns, size, bufSize int) {
	lat := new(latencies)
	s := startServer(b, serverOpts{
		events:  events,
		bufSize: bufSize,
		onMessage: func(c *evConn, mt int, data []byte) {
			lat.add(time.Duration(time.Now().UnixNano() - int64(binary.LittleEndian.Uint64(data))))
			c.ws.WriteMessage(mt, data)
		},
	})
	ready, start, stop := echoChild(b, s.addr(), conns, size, int64(b.N))
	defer stop()
	for range conns {
		recv(b, s.accepted, wait, "a connection")
	}
	if err := recv(b, ready, wait, "the clients"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0, t0 := cpuTime(), time.Now()
	if err := start(); err != nil {
		b.Fatal(err)
	}
	elapsed, cpu := time.Since(t0), cpuTime()-cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rt/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "server-cpu-µs/rt")
	b.ReportMetric(lat.pct(50), "write-to-handler-p50-µs")
	b.ReportMetric(lat.pct(99), "write-to-handler-p99-µs")
	if events {
		b.ReportMetric(float64(s.poller.Pool().Stats().Peak), "peak-workers")
		b.ReportMetric(float64(s.grown.Load())/float64(b.N), "growths/rt")
	}
}

// BenchmarkIdle holds 1,000 or 10,000 idle WebSocket connections (client
// ends in a child process) and reports the server's goroutines and, per
// connection, heap and goroutine stack. Event mode parks idle read
// buffers in a BufferPool.
func BenchmarkIdle(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, mode := range []string{"goroutines", "events"} {
			b.Run(fmt.Sprintf("%s/%d", mode, n), func(b *testing.B) {
				s := startServer(b, serverOpts{events: mode == "events"})
				var m0, m1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m0)
				g0 := runtime.NumGoroutine()
				ready, stop := dialChild(b, "ws", s.addr(), n)
				defer stop()
				for range n {
					recv(b, s.accepted, wait, "a connection")
				}
				if err := recv(b, ready, wait, "the child"); err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&m1)
				g1 := runtime.NumGoroutine()
				for b.Loop() {
				}
				b.ReportMetric(float64(g1), "goroutines")
				b.ReportMetric(float64(g1-g0), "goroutines-added")
				b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/float64(n), "heap-B/conn")
				b.ReportMetric(float64(int64(m1.StackInuse)-int64(m0.StackInuse))/float64(n), "stack-B/conn")
			})
		}
	}
}
