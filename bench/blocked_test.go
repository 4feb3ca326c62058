package bench_test

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/bench"
)

var (
	flagEchoConns = flag.Int("wsmw.echoconns", 500, "echoing connections of the blocked-functions benchmark")
	flagBlocked   = flag.String("wsmw.blocked", "0,300", "comma-separated counts of message functions blocked for good in the blocked-functions benchmark")
	flagHBBlocked = flag.Int("wsmw.hbblocked", 1000, "message functions blocked for good in the heartbeat variant of the blocked-functions benchmark")
)

// BenchmarkBlocked measures what message functions that block for good
// (a database call that hangs) cost the other connections:
// -wsmw.echoconns connections (500) echo 64 B messages in a closed loop
// for -wsmw.window while -wsmw.blocked functions (0 and 300) block. It
// reports the others' round trip at the median and the 99th percentile
// (p50-us, p99-us), their round trips per second, and the server's
// goroutines and event-loop workers (the pools' goroutines, handed-off ones
// included) at the end. ns/op is suppressed.
func BenchmarkBlocked(b *testing.B) {
	for _, blocked := range countsFlag(b, "-wsmw.blocked", *flagBlocked) {
		for _, name := range rows(b, bench.WSMW, bench.WSMWEvents) {
			b.Run(fmt.Sprintf("echo=%d/blocked=%d/impl=%s", *flagEchoConns, blocked, name), func(b *testing.B) {
				for range b.N {
					benchBlocked(b, name, *flagEchoConns, blocked)
				}
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

func countsFlag(b *testing.B, name, list string) []int {
	var out []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			b.Fatalf("%s: bad count %q", name, f)
		}
		out = append(out, n)
	}
	return out
}

func benchBlocked(b *testing.B, name string, echoes, blocked int) {
	c := startChild(b, name, bench.ChildConfig{Block: true})
	defer c.Close()
	conns := dialMany(b, c.URL(), header(b, name), echoes+blocked)
	defer closeConns(conns)
	for _, ws := range conns[echoes:] {
		if err := ws.WriteMessage(websocket.BinaryMessage, []byte{bench.BlockByte}); err != nil {
			b.Fatal(err)
		}
	}
	payload := make([]byte, 64)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	window := *flagWindow
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		all   []time.Duration
		first error
	)
	end := time.Now().Add(window)
	for _, ws := range conns[:echoes] {
		wg.Go(func() {
			buf := make([]byte, len(payload))
			var lat []time.Duration
			for time.Now().Before(end) {
				start := time.Now()
				if err := roundTrip(ws, payload, buf); err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
					return
				}
				lat = append(lat, time.Since(start))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
	st, err := c.Census()
	if err != nil {
		b.Fatal(err)
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))]) / float64(time.Microsecond)
	}
	b.ReportMetric(pct(0.50), "p50-us")
	b.ReportMetric(pct(0.99), "p99-us")
	b.ReportMetric(float64(len(all))/window.Seconds(), "rt/s")
	b.ReportMetric(float64(st.Goroutines), "goroutines")
	b.ReportMetric(float64(st.Workers), "workers")
}

// BenchmarkBlockedHeartbeat measures the heartbeat of healthy connections
// while message functions block for good: 50 connections answer a 1 s
// heartbeat (2 s pong timeout) for -wsmw.window while -wsmw.hbblocked
// functions (1,000) block on other connections, whose peers never read
// (the heartbeat ends those). It reports the pings each healthy peer saw
// per second, the longest gap between two pings any of them saw
// (max-gap-ms), how many healthy connections were closed (healthy-closed,
// want 0), and the server's goroutines and event-loop workers at the end.
// ns/op is suppressed.
func BenchmarkBlockedHeartbeat(b *testing.B) {
	const healthy = 50
	blocked := *flagHBBlocked
	for _, name := range rows(b, bench.WSMW, bench.WSMWEvents) {
		b.Run(fmt.Sprintf("healthy=%d/blocked=%d/ping=1s/impl=%s", healthy, blocked, name), func(b *testing.B) {
			for range b.N {
				benchBlockedHeartbeat(b, name, healthy, blocked)
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

func benchBlockedHeartbeat(b *testing.B, name string, healthy, blocked int) {
	const interval = time.Second
	c := startChild(b, name, bench.ChildConfig{Block: true, Ping: interval, PongTimeout: 2 * interval})
	defer c.Close()
	good := dialMany(b, c.URL(), header(b, name), healthy)
	var (
		wg       sync.WaitGroup
		pings    atomic.Int64
		closed   atomic.Int64
		maxGap   atomic.Int64
		watching atomic.Bool
	)
	watching.Store(true)
	for _, ws := range good {
		last := time.Now()
		ws.SetPingHandler(func(data string) error {
			now := time.Now()
			if gap := int64(now.Sub(last)); gap > maxGap.Load() && watching.Load() {
				maxGap.Store(gap) // one reader per connection: a lost update only lowers a rare maximum
			}
			last = now
			pings.Add(1)
			return ws.WriteControl(websocket.PongMessage, []byte(data), now.Add(10*time.Second))
		})
		wg.Go(func() {
			for {
				if _, _, err := ws.NextReader(); err != nil {
					if watching.Load() {
						closed.Add(1)
					}
					return
				}
			}
		})
	}
	bad := dialMany(b, c.URL(), header(b, name), blocked)
	for _, ws := range bad {
		if err := ws.WriteMessage(websocket.BinaryMessage, []byte{bench.BlockByte}); err != nil {
			b.Fatal(err)
		}
	}
	window := *flagWindow
	start := time.Now()
	<-time.After(window) // a measurement window, not synchronisation
	elapsed := time.Since(start).Seconds()
	watching.Store(false)
	st, err := c.Census()
	if err != nil {
		b.Fatal(err)
	}
	closeConns(bad)
	closeConns(good)
	wg.Wait()
	b.ReportMetric(float64(pings.Load())/elapsed/float64(healthy), "pings/conn/s")
	b.ReportMetric(float64(maxGap.Load())/float64(time.Millisecond), "max-gap-ms")
	b.ReportMetric(float64(closed.Load()), "healthy-closed")
	b.ReportMetric(float64(st.Goroutines), "goroutines")
	b.ReportMetric(float64(st.Workers), "workers")
}
