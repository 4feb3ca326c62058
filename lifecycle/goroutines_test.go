package lifecycle_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wsmw/wsmw/lifecycle"
)

// TestOneGoroutinePerConnection checks that an idle connection costs exactly
// one goroutine, the handler's own, with timers armed. It counts goroutines
// by what they run, not by difference with a baseline, so that goroutines
// of earlier tests still winding down cannot skew it.
func TestOneGoroutinePerConnection(t *testing.T) {
	const n = 200
	opened := make(chan struct{}, n)
	h := newHarness(t, lifecycle.Config{}, func(c *lifecycle.Conn) {
		c.AfterFunc(time.Hour, func() {}) // timers add no goroutine
		opened <- struct{}{}
		echo(c)
	})
	for range n {
		h.dial()
	}
	for range n {
		<-opened
	}
	// net/http's connection goroutines exit on their own after the hijack:
	// poll until they have, within a bound.
	var handlers, others int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); runtime.Gosched() {
		if handlers, others = connectionGoroutines("TestOneGoroutinePerConnection"); handlers == n && others == 0 {
			return
		}
	}
	t.Fatalf("%d idle connections: %d handler goroutines and %d other connection goroutines", n, handlers, others)
}

// connectionGoroutines counts the goroutines running test's handlers and,
// separately, any other goroutine of this package's connections: net/http's
// per-connection goroutine, gorilla or lifecycle code outside a handler.
func connectionGoroutines(test string) (handlers, others int) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for _, g := range strings.Split(string(buf), "\n\n") {
		switch {
		case strings.Contains(g, "lifecycle_test."+test+".func"):
			handlers++
		case strings.Contains(g, "net/http.(*conn).serve"),
			strings.Contains(g, "github.com/gorilla/websocket."),
			strings.Contains(g, "github.com/wsmw/wsmw/lifecycle."):
			others++
		}
	}
	return handlers, others
}
