package bench_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsmw/wsmw/bench"
)

// heartbeatWarmup lets every connection's first pings go out before the
// CPU window opens.
const heartbeatWarmup = 2 * time.Second

// BenchmarkHeartbeat measures what a 1 s heartbeat costs with thousands of
// connections whose clients answer every ping, against the same row with
// no heartbeat: the server's CPU over a -wsmw.window (srv-cpu-ms/s, and per
// connection per second), the pings the clients saw and the server CPU per
// ping (all of the window's CPU over the pings answered: a loaded machine
// sends fewer pings than one per second, since a ping waits for the last
// one's pong), and the memory per connection as in BenchmarkIdle. ns/op is
// suppressed.
func BenchmarkHeartbeat(b *testing.B) {
	for _, n := range heartbeatConns(b) {
		for _, ping := range []time.Duration{0, time.Second} {
			for _, name := range rows(b, bench.Tuned, bench.Melody, bench.WSMW, bench.WSMWFull, bench.WSMWEvents, bench.WSMWFullEvents) {
				label := "off"
				if ping > 0 {
					label = ping.String()
				}
				b.Run(fmt.Sprintf("conns=%d/ping=%s/impl=%s", n, label, name), func(b *testing.B) {
					for range b.N {
						benchHeartbeat(b, name, n, ping)
					}
					b.ReportMetric(0, "ns/op")
				})
			}
		}
	}
}

func heartbeatConns(b *testing.B) []int {
	var out []int
	for _, f := range strings.Split(*flagHBConns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("-wsmw.hbconns: bad count %q", f)
		}
		out = append(out, n)
	}
	return out
}

func benchHeartbeat(b *testing.B, name string, n int, ping time.Duration) {
	c := startChild(b, name, bench.ChildConfig{Ping: ping})
	defer c.Close()
	base, err := c.Settle()
	if err != nil {
		b.Fatal(err)
	}
	conns := dialMany(b, c.URL(), header(b, name), n)
	rd := startReaders(conns)
	defer rd.wait()
	defer closeConns(conns)
	waitStats(b, c, "every upgrade", func(s bench.Stats) bool { return s.Opened >= int64(n) })
	<-time.After(heartbeatWarmup) // a measurement window, not synchronisation
	window := *flagWindow
	before, err := c.Stats()
	if err != nil {
		b.Fatal(err)
	}
	pings := rd.pings.Load()
	start := time.Now()
	<-time.After(window)
	after, err := c.Stats()
	if err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start).Seconds()
	pings = rd.pings.Load() - pings
	settled, err := c.Settle()
	if err != nil {
		b.Fatal(err)
	}
	if settled.Closed != 0 {
		b.Fatalf("%d connections ended during the measurement", settled.Closed)
	}
	cpu := float64(after.CPU - before.CPU)
	b.ReportMetric(cpu/float64(time.Millisecond)/elapsed, "srv-cpu-ms/s")
	b.ReportMetric(cpu/elapsed/float64(n), "srv-cpu-ns/conn/s")
	b.ReportMetric(float64(pings)/elapsed/float64(n), "pings/conn/s")
	if pings > 0 {
		b.ReportMetric(cpu/float64(pings), "srv-cpu-ns/ping")
	}
	reportMemory(b, base, settled, n)
}
