package lifecycle_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/wsmw/wsmw/lifecycle"
)

// TestOneGoroutinePerConnection checks that an idle connection costs exactly
// one goroutine, the handler's own, with timers armed.
func TestOneGoroutinePerConnection(t *testing.T) {
	const n = 200
	opened := make(chan struct{}, n)
	h := newHarness(t, lifecycle.Config{}, func(c *lifecycle.Conn) {
		c.AfterFunc(time.Hour, func() {}) // timers add no goroutine
		opened <- struct{}{}
		echo(c)
	})
	before := settledGoroutines(t, -1)
	for range n {
		h.dial()
	}
	for range n {
		<-opened
	}
	if got := settledGoroutines(t, before+n) - before; got != n {
		t.Fatalf("%d idle connections hold %d goroutines", n, got)
	}
}

// settledGoroutines polls runtime.NumGoroutine until it equals want (or,
// with want < 0, until it stops changing), for net/http's connection
// goroutines exit asynchronously after the hijack.
func settledGoroutines(t *testing.T, want int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	last, stable := -1, 0
	for time.Now().Before(deadline) {
		n := runtime.NumGoroutine()
		if n == want {
			return n
		}
		if n == last {
			stable++
			if want < 0 && stable >= 50 {
				return n
			}
		} else {
			last, stable = n, 0
		}
		runtime.Gosched()
	}
	return runtime.NumGoroutine()
}
