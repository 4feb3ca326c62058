package bench_test

import (
	"encoding/binary"
	"flag"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/bench"
)

var (
	flagSlowConns = flag.Int("wsmw.slowconns", 2000, "connections of the slow-senders benchmark")
	flagTrickle   = flag.Duration("wsmw.trickle", 10*time.Second, "how long the slow senders trickle before the slow-senders measurement")
)

// slowMessage is what each slow sender sends: a 60 KiB binary message, one
// byte per slowPace.
const (
	slowMessage = 60 << 10
	slowPace    = 100 * time.Millisecond
)

// BenchmarkSlowSenders measures what peers trickling a large message cost
// the server (a slowloris): -wsmw.slowconns connections (2,000) each start
// a 60 KiB binary message and send it one byte per 100 ms; after
// -wsmw.trickle (10 s, 100 bytes each) it reports the server's growth per
// connection from before the connections, as BenchmarkIdle does (RSS, heap,
// stacks, goroutines, after a GC). ns/op is suppressed.
func BenchmarkSlowSenders(b *testing.B) {
	n := *flagSlowConns
	for _, name := range rows(b, bench.WSMW, bench.WSMWFull, bench.WSMWEvents, bench.WSMWFullEvents) {
		b.Run(fmt.Sprintf("conns=%d/impl=%s", n, name), func(b *testing.B) {
			for range b.N {
				benchSlow(b, name, n)
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

func benchSlow(b *testing.B, name string, n int) {
	c, base, conns := settledWithConns(b, name, n)
	defer c.Close()
	defer closeConns(conns)

	// A masked binary frame header declaring slowMessage bytes; each byte
	// of the payload is 'x' under the key.
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	hdr := []byte{0x82, 0x80 | 126, 0, 0}
	binary.BigEndian.PutUint16(hdr[2:], slowMessage)
	hdr = append(hdr, key[:]...)
	for _, ws := range conns {
		if _, err := ws.NetConn().Write(hdr); err != nil {
			b.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const senders = 4
	for s := range senders {
		mine := conns[s*n/senders : (s+1)*n/senders]
		wg.Go(func() { trickle(mine, key, stop) })
	}
	<-time.After(*flagTrickle) // the trickle's length, not synchronisation
	after, err := c.Settle()
	close(stop)
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	if after.Closed != 0 {
		b.Fatalf("%d slow connections ended during the measurement", after.Closed)
	}
	reportMemory(b, base, after, n)
}

// trickle sends each of conns one more byte of its message every
// slowPace, until stop.
func trickle(conns []*websocket.Conn, key [4]byte, stop <-chan struct{}) {
	tick := time.NewTicker(slowPace)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if i >= slowMessage-1 {
			continue // never the last byte: the message stays unfinished
		}
		b := []byte{'x' ^ key[i%4]}
		for _, ws := range conns {
			ws.NetConn().Write(b)
		}
	}
}
