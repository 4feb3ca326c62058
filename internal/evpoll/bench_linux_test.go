//go:build linux

package evpoll

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
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

// BenchmarkEcho: 64 gorilla clients echo messages through the server over
// loopback, in event mode and with a blocking read goroutine per
// connection. Reported: round trips/s; the time from a client's write to
// the server's message handler (p50, p99; in event mode this spans epoll,
// the poller, the pool and the frame scan); the process's CPU time per
// round trip (clients included, the same for both modes).
//
// The owned reader is 4 KiB or 8 KiB: a 4 KiB message does not fit in a
// 4 KiB buffer with its header, so each one takes the blocking path.
func BenchmarkEcho(b *testing.B) {
	for _, size := range []int{64, 4096} {
		for _, mode := range []string{"goroutines", "events-buf4k", "events-buf8k"} {
			b.Run(fmt.Sprintf("size=%d/%s", size, mode), func(b *testing.B) {
				buf := 4096
				if mode == "events-buf8k" {
					buf = 8192
				}
				benchEcho(b, mode != "goroutines", 64, size, buf)
			})
		}
	}
}

func benchEcho(b *testing.B, events bool, conns, size, bufSize int) {
	lat := new(latencies)
	base := time.Now()
	s := startServer(b, serverOpts{
		events:  events,
		bufSize: bufSize,
		onMessage: func(c *evConn, mt int, data []byte) {
			lat.add(time.Since(base) - time.Duration(binary.LittleEndian.Uint64(data)))
			c.ws.WriteMessage(mt, data)
		},
	})
	clients := make([]*websocket.Conn, conns)
	for i := range clients {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+s.addr()+"/ws", nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
		recv(b, s.accepted, wait, "a connection")
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0, t0 := cpuTime(), time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := make([]byte, size)
			for left.Add(-1) >= 0 {
				binary.LittleEndian.PutUint64(msg, uint64(time.Since(base)))
				if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
					b.Error(err)
					return
				}
				if _, _, err := c.ReadMessage(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(t0), cpuTime()-cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rt/s")
	b.ReportMetric(lat.pct(50), "write-to-handler-p50-µs")
	b.ReportMetric(lat.pct(99), "write-to-handler-p99-µs")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/rt")
	if events {
		b.ReportMetric(float64(s.poller.Pool().Stats().Peak), "peak-workers")
		b.ReportMetric(float64(s.slow.Load())/float64(b.N), "blocking-reads/rt")
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
