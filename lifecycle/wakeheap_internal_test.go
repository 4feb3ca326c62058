package lifecycle

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The wake heap keeps its order and every Conn's index through random
// sets, moves and removals, and pops exactly the due Conns in order.
func TestWakeHeapKeepsOrder(t *testing.T) {
	var w wakeHeap
	defer w.stop()
	conns := make([]*Conn, 200)
	at := make(map[*Conn]time.Duration)
	for i := range conns {
		conns[i] = &Conn{}
	}
	far := time.Since(epoch) + time.Hour // nothing fires during the test
	rng := rand.New(rand.NewPCG(1, 2))
	check := func() {
		t.Helper()
		if len(w.h) != len(at) {
			t.Fatalf("%d in the heap, want %d", len(w.h), len(at))
		}
		for i, e := range w.h {
			if int(e.c.wakeIdx) != i+1 || at[e.c] != e.at {
				t.Fatalf("entry %d: index %d, at %v (want %v)", i, e.c.wakeIdx, e.at, at[e.c])
			}
			if p := (i - 1) / 2; i > 0 && w.h[p].at > e.at {
				t.Fatalf("entry %d earlier than its parent", i)
			}
		}
		if len(w.h) > 0 && w.rtAt != w.h[0].at {
			t.Fatalf("runtime timer armed for %v, earliest is %v", w.rtAt, w.h[0].at)
		}
	}
	for range 5000 {
		c := conns[rng.IntN(len(conns))]
		if rng.IntN(4) == 0 {
			w.remove(c)
			delete(at, c)
		} else {
			d := far + time.Duration(rng.IntN(1000))*time.Millisecond
			w.set(c, d)
			at[c] = d
		}
		check()
	}

	// Make a third of them due: the runtime timer fires, takes out exactly
	// those, and each runs its timers.
	ran := make(chan *Conn, len(conns))
	var due []*Conn
	for _, c := range conns[:len(conns)/3] {
		c.mu.Lock()
		c.openedAt = time.Since(epoch)
		c.timers = &Timer{c: c, f: func() { ran <- c }, when: 1}
		w.set(c, c.openedAt+1)
		c.mu.Unlock()
		delete(at, c)
		due = append(due, c)
	}
	for range due {
		select {
		case c := <-ran:
			if !slices.Contains(due, c) {
				t.Fatal("a conn that was not due ran its timers")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the due conns did not all run their timers")
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range due {
		if c.wakeIdx != 0 {
			t.Fatal("a fired conn is still in the heap")
		}
	}
	if len(w.h) != len(at) {
		t.Fatalf("%d left in the heap, want %d", len(w.h), len(at))
	}
}
