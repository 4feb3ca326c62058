package lifecycle_test

import (
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
)

// TestOneGoroutinePerConnection checks that an idle connection costs exactly
// one goroutine, the handler's own, with timers armed. It counts goroutines
// by what they run, not by difference with a baseline, so that goroutines
// of earlier tests still winding down cannot skew it.
func TestOneGoroutinePerConnection(t *testing.T) {
	const n = 200
	opened := make(chan struct{}, n)
	h := newHarness(t, connx.Config{}, func(c *lifecycle.Conn) {
		afterFunc(c, time.Hour, func() {}) // timers add no goroutine
		opened <- struct{}{}
		conntest.Echo(c)
	})
	for range n {
		h.dial()
	}
	for range n {
		<-opened
	}
	// net/http's connection goroutines exit on their own after the hijack.
	var got []int
	count := func() bool {
		got = wstest.CountGoroutines(
			"lifecycle_test.TestOneGoroutinePerConnection.func1(", // the handlers
			"net/http.(*conn).serve",
			"github.com/gorilla/websocket.",
			"github.com/wsmw/wsmw/lifecycle.",
		)
		return got[0] == n && got[1]+got[2]+got[3] == 0
	}
	if !wstest.Eventually(10*time.Second, count) {
		t.Fatalf("%d idle connections: %d handler goroutines; net/http %d, gorilla %d, lifecycle %d outside a handler",
			n, got[0], got[1], got[2], got[3])
	}
}
