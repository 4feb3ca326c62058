package bench_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/bench"
)

// BenchmarkShutdown measures a graceful shutdown of -wsmw.conns open
// connections (5,000 by default) in the rows that have one: shutdown-ms is
// the time from the command until the server's shutdown has returned (every
// OnClose has run) and every client has seen the Close; srv-shutdown-ms the
// server's own share; saw-1001 the fraction of clients that got 1001, and
// clean the fraction the server reports as a completed close handshake
// (wsmw rows only). nbio's row runs its engine's Shutdown, which closes
// TCP without a Close frame; gws has none. ns/op is suppressed.
func BenchmarkShutdown(b *testing.B) {
	for _, n := range connCounts(b) {
		for _, name := range rows(b, bench.Melody, bench.WSMW, bench.WSMWFull, bench.WSMWEvents, bench.WSMWFullEvents, bench.WSMWExampleEvents, bench.Nbio) {
			b.Run(fmt.Sprintf("conns=%d/impl=%s", n, name), func(b *testing.B) {
				for range b.N {
					benchShutdown(b, name, n)
				}
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

func benchShutdown(b *testing.B, name string, n int) {
	c := startChild(b, name, bench.ChildConfig{})
	defer c.Close()
	conns := dialMany(b, c.URL(), header(b, name), n)
	defer closeConns(conns)
	waitStats(b, c, "every upgrade", func(s bench.Stats) bool { return s.Opened >= int64(n) })
	bound := time.Now().Add(waitBound)
	for _, ws := range conns {
		ws.SetReadDeadline(bound)
	}
	rd := startReaders(conns)
	start := time.Now()
	elapsed, st, err := c.Shutdown()
	if err != nil {
		closeConns(conns)
		rd.wait()
		b.Fatal(err)
	}
	rd.wait()
	total := time.Since(start)
	b.ReportMetric(float64(total)/float64(time.Millisecond), "shutdown-ms")
	b.ReportMetric(float64(elapsed)/float64(time.Millisecond), "srv-shutdown-ms")
	b.ReportMetric(float64(rd.saw(websocket.CloseGoingAway))/float64(n), "saw-1001")
	if strings.HasPrefix(name, "wsmw") {
		b.ReportMetric(float64(st.Clean)/float64(n), "clean")
	}
}
