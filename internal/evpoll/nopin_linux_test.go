//go:build linux

package evpoll

import (
	"bytes"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// With a single worker and no room to grow, a connection that sends a
// lone pong, half a header, a stalled frame, a ping inside an unfinished
// message, several frames in one segment, or a message bigger than the
// buffer never keeps another connection from being served.
func TestNoWorkerIsPinned(t *testing.T) {
	s := startServer(t, serverOpts{
		events:     true,
		pool:       PoolConfig{MinWorkers: 1, MaxWorkers: 1, NoHandOff: true},
		stallLimit: 300 * time.Millisecond,
	})
	a := dialRaw(t, s.addr())
	ca := recv(t, s.accepted, wait, "A")
	b := dialRaw(t, s.addr())
	recv(t, s.accepted, wait, "B")
	b.echo(t, "warm-up")

	// A lone pong: consumed outside gorilla, whose NextReader would wait
	// for a data frame.
	a.Write(frame(finBit|byte(OpPong), []byte("hb")))
	if !eventually(wait, func() bool { return ca.pongs.Load() == 1 }) {
		t.Fatal("the pong was not handled")
	}
	b.echo(t, "after a pong")

	// Half a header, then the rest of the header and part of the payload.
	f := frame(finBit|byte(OpText), []byte("a frame sent in three parts"))
	a.Write(f[:1])
	b.echo(t, "after half a header")
	a.Write(f[1:12])
	b.echo(t, "after a stalled frame")
	a.Write(f[12:])
	if op, p := a.readFrame(t); op != OpText || string(p) != "a frame sent in three parts" {
		t.Fatalf("A's message: %v %q", op, p)
	}

	// A ping inside an unfinished message: answered now, as a read loop
	// would, and skipped when gorilla reads the message.
	a.Write(cat(frame(byte(OpText), []byte("frag")), frame(finBit|byte(OpPing), []byte("mid"))))
	if op, p := a.readFrame(t); op != OpPong || string(p) != "mid" {
		t.Fatalf("answer to a ping inside a message: %v %q", op, p)
	}
	b.echo(t, "while A's message is unfinished")
	a.Write(frame(finBit|byte(OpContinuation), []byte("ment")))
	if op, p := a.readFrame(t); op != OpText || string(p) != "fragment" {
		t.Fatalf("A's fragmented message: %v %q", op, p)
	}

	// Several frames in one segment: all handled though no more bytes
	// arrive to wake epoll.
	a.Write(cat(frame(finBit|byte(OpText), []byte("one")), frame(finBit|byte(OpPing), []byte("p")), frame(finBit|byte(OpText), []byte("two"))))
	for _, want := range []struct {
		op Opcode
		p  string
	}{{OpText, "one"}, {OpPong, "p"}, {OpText, "two"}} {
		if op, p := a.readFrame(t); op != want.op || string(p) != want.p {
			t.Fatalf("got %v %q, want %v %q", op, p, want.op, want.p)
		}
	}

	// A message bigger than the 4 KiB buffer: the buffer grows as it
	// comes.
	big := bytes.Repeat([]byte("0123456789"), 1000)
	bf := frame(finBit|byte(OpBinary), big)
	a.Write(bf[:100])
	b.echo(t, "while A sends a big message")
	a.Write(bf[100:])
	if op, p := a.readFrame(t); op != OpBinary || !bytes.Equal(p, big) {
		t.Fatalf("A's big message: %v, %d bytes", op, len(p))
	}
	b.echo(t, "after the big message")

	// A big message that never completes: the stall limit ends A; B is
	// served meanwhile.
	a.Write(bf[:200])
	b.echo(t, "while A stalls")
	recv(t, ca.gone, wait, "A to be dropped after the stall limit")
	b.echo(t, "after A is gone")
	if n := s.grown.Load(); n != 2 { // 4 KiB to 8 KiB, then to the message's 10,014 bytes
		t.Fatalf("%d buffer growths, want 2", n)
	}
	if st := s.poller.Pool().Stats(); st.Peak != 1 {
		t.Fatalf("pool stats %+v", st)
	}
}

// 1,000 connections each sending one small message a second: the pool
// stays at its minimum.
func TestTrickleKeepsThePoolAtItsMinimum(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for three seconds")
	}
	const conns, seconds = 1000, 3
	var got atomic.Int64
	all := make(chan struct{})
	s := startServer(t, serverOpts{
		events: true,
		onMessage: func(c *evConn, mt int, data []byte) {
			if got.Add(1) == conns*seconds {
				close(all)
			}
		},
	})
	clients := make([]*rawClient, conns)
	for i := range clients {
		clients[i] = dialRaw(t, s.addr())
		recv(t, s.accepted, wait, "a connection")
	}
	g0 := runtime.NumGoroutine()
	msg := frame(finBit|byte(OpText), []byte("tick"))
	tick := time.NewTicker(time.Second / conns)
	defer tick.Stop()
	for i := range conns * seconds {
		<-tick.C // pacing the load, not synchronising
		clients[i%conns].Write(msg)
	}
	recv(t, all, wait, "every message")
	st := s.poller.Pool().Stats()
	t.Logf("%d conns × 1 msg/s for %ds: pool %+v; goroutines %d (before the load: %d); poller %+v",
		conns, seconds, st, runtime.NumGoroutine(), g0, s.poller.Stats())
	// The pool grows past its minimum only to replace workers handed to a
	// task over its budget, which the trickle's tasks are not, unless a
	// loaded machine holds a worker off the CPU for a look or two.
	if st.Peak > runtime.GOMAXPROCS(0)+2*int(st.HandedOff) {
		t.Fatalf("the pool grew under a trickle: %+v", st)
	}
}
