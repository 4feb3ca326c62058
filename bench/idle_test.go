package bench_test

import (
	"fmt"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/bench"
)

// BenchmarkIdle measures what an idle connection costs the server, at each
// -wsmw.conns count (5,000 by default), per connection: the growth of the
// server process's RSS and heap as users see it, right after the
// connections are up with no forced GC (rss-nogc-B/conn, heap-nogc-B/conn;
// gcs counts the collections the runtime ran meanwhile), then, after a GC
// with freed memory returned to the OS, the growth of RSS, the heap's live
// bytes and objects, its spans in use, the span structures (mspan), the
// collector's metadata (gcsys), the runtime's other memory (othersys: the
// network poller's descriptors among others), goroutine stacks and
// goroutines. ns/op is suppressed: one op is one whole measurement.
func BenchmarkIdle(b *testing.B) {
	for _, n := range connCounts(b) {
		for _, name := range rows(b) {
			b.Run(fmt.Sprintf("conns=%d/impl=%s", n, name), func(b *testing.B) {
				for range b.N {
					benchIdle(b, name, n)
				}
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

func benchIdle(b *testing.B, name string, n int) {
	c, base, conns := settledWithConns(b, name, n)
	defer c.Close()
	defer closeConns(conns)
	seen, err := c.Stats()
	if err != nil {
		b.Fatal(err)
	}
	after, err := c.Settle()
	if err != nil {
		b.Fatal(err)
	}
	perConn(b, base.RSS, seen.RSS, n, "rss-nogc-B/conn")
	perConn(b, base.Heap, seen.Heap, n, "heap-nogc-B/conn")
	b.ReportMetric(float64(seen.NumGC-base.NumGC), "gcs")
	reportMemory(b, base, after, n)
	perConn(b, base.Objects, after.Objects, n, "objects/conn")
	perConn(b, base.MSpan, after.MSpan, n, "mspan-B/conn")
	perConn(b, base.GCSys, after.GCSys, n, "gcsys-B/conn")
	perConn(b, base.OtherSys, after.OtherSys, n, "othersys-B/conn")
}

// settledWithConns starts a child for row name, takes its settled figures,
// then opens n connections and waits until the child has upgraded them
// all. The caller closes the child and the connections.
func settledWithConns(b *testing.B, name string, n int) (*bench.Child, bench.Stats, []*websocket.Conn) {
	c := startChild(b, name, bench.ChildConfig{})
	base, err := c.Settle()
	if err != nil {
		c.Close()
		b.Fatal(err)
	}
	conns := dialMany(b, c.URL(), header(b, name), n)
	waitStats(b, c, "every upgrade", func(s bench.Stats) bool { return s.Opened >= int64(n) })
	return c, base, conns
}

// reportMemory reports the growth from base to after per connection.
func reportMemory(b *testing.B, base, after bench.Stats, n int) {
	perConn(b, base.RSS, after.RSS, n, "rss-B/conn")
	perConn(b, base.Heap, after.Heap, n, "heap-B/conn")
	perConn(b, base.Spans, after.Spans, n, "spans-B/conn")
	perConn(b, base.Stacks, after.Stacks, n, "stack-B/conn")
	perConn(b, base.Goroutines, after.Goroutines, n, "goroutines/conn")
}
