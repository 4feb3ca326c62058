package timeout

import (
	"net/http"
	"time"

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
	p := &initPolicy{d: d, cs: cs}
	return middleware.Policy(func(c *lifecycle.Conn) error {
		s := stateOf(c)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.init == nil {
			c.AddReadCheck(s.sawMessage)
		}
		if s.init == nil || d < s.init.d {
			s.init = p
		}
		s.armLocked(s.sinceOpen())
		return nil
	})
}

// initPolicy is what every connection of one [InitTimeout] shares.
type initPolicy struct {
	d  time.Duration
	cs closeSpec
}

// sawMessage is [InitTimeout]'s read check: the first message is in time.
func (s *connState) sawMessage(lifecycle.MessageType, []byte) error {
	if !s.seen.Load() {
		s.seen.Store(true)
	}
	return nil
}
