package timeout

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// InitTimeout requires the first data message within d of the upgrade;
// otherwise the connection closes with 4408 "connection initialisation
// timeout" (cause [ErrInitTimeout]), the code graphql-transport-ws uses for a
// client that never sent connection_init. It guards against clients that
// open a socket and sit on it without ever speaking. Pings and pongs do not
// count. Zero turns it off; a negative d panics. Only protocols with an
// init message want it (graphql-ws); 10 s is a good value there.
func InitTimeout(d time.Duration, opts ...middleware.Option) func(http.Handler) http.Handler {
	checkDuration("InitTimeout", d)
	cs, _ := settings("InitTimeout", StatusInitTimeout, reasonInitTimeout, opts)
	if d == 0 {
		return passThrough
	}
	return middleware.Policy(func(c *lifecycle.Conn) error {
		s := &initState{c: c, cs: cs}
		c.StartTimer(&s.t, d-time.Since(connx.OpenedAt(c)), s.fire)
		c.AddReadCheck(s.check)
		return nil
	})
}

// initState is one connection's wait for its first message.
type initState struct {
	c    *lifecycle.Conn
	cs   closeSpec
	seen atomic.Bool
	t    lifecycle.Timer
}

func (s *initState) fire() {
	if !s.seen.Load() {
		s.c.CloseWith(ErrInitTimeout, s.cs.code, s.cs.reason)
	}
}

func (s *initState) check(lifecycle.MessageType, []byte) error {
	if !s.seen.Load() && s.seen.CompareAndSwap(false, true) {
		s.t.Stop()
	}
	return nil
}
