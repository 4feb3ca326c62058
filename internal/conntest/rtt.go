package conntest

import (
	"net/http"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// WatchRTT returns a policy that sends each round trip its connections
// measure on seen (64 are buffered, more are dropped). Put it after the
// policy under test: a connection's RTT hooks run in the order they were
// added, so a value received on seen has been heard by the hooks of the
// policies before it.
func WatchRTT() (policy func(http.Handler) http.Handler, seen <-chan time.Duration) {
	ch := make(chan time.Duration, 64)
	return middleware.OnOpen(func(c *lifecycle.Conn) {
		c.OnRTT(func(rtt time.Duration) {
			select {
			case ch <- rtt:
			default:
			}
		})
	}), ch
}

// AnswerPings answers the server's pings on c until it has sent n pongs,
// then waits for n round trips on seen (from [WatchRTT]), each within 5 s.
// The server must be reading c, so that it processes the pongs.
func AnswerPings(t testing.TB, c *wstest.RawClient, seen <-chan time.Duration, n int) {
	t.Helper()
	for pongs := 0; pongs < n; {
		f, err := c.ReadFrame(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if f.Op == wstest.OpPing {
			c.WriteFrame(wstest.OpPong, true, f.Payload)
			pongs++
		}
	}
	for i := range n {
		select {
		case <-seen:
		case <-time.After(5 * time.Second):
			t.Fatalf("%d round trips observed, want %d", i, n)
		}
	}
}
