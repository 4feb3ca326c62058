package timeout

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// IdleTimeout closes a connection that received no data message for d with
// 1001 "idle timeout" (cause ErrIdleTimeout). Pings and pongs never count as
// activity: a peer that only keeps the socket alive is still idle. With
// WithCountOutbound, messages written by the connection's send queue, calls
// to Touch and (noticed when the timer fires) direct WriteMessage calls
// count too. Zero turns it off; a negative d panics. 5 minutes is a good
// default for browsers (a tab silent that long is usually forgotten); turn
// it off for push-only endpoints whose clients never send.
//
// Activity costs one clock read per message: the read check records the
// time, and the single timer, when it fires, re-arms itself for whatever is
// left instead of being re-created per message. A message is counted once
// it has been read whole, after the read checks added before this policy.
func IdleTimeout(d time.Duration, opts ...middleware.Option) func(http.Handler) http.Handler {
	checkDuration("IdleTimeout", d)
	cs, outbound := settings("IdleTimeout", lifecycle.StatusGoingAway, reasonIdleTimeout, opts)
	if d == 0 {
		return passThrough
	}
	return middleware.Policy(func(c *lifecycle.Conn) error {
		s := &idleState{c: c, d: d, base: c.OpenedAt(), cs: cs, outbound: outbound}
		c.StartTimer(&s.t, d-time.Since(s.base), s.fire)
		c.AddReadCheck(s.check)
		if outbound {
			c.LoadOrStore(idleKey{}, s)
		}
		return nil
	})
}

type idleKey struct{}

// idleState is one connection's idle clock.
type idleState struct {
	c    *lifecycle.Conn
	d    time.Duration
	base time.Time    // the upgrade; last is measured from it
	last atomic.Int64 // nanoseconds from base to the latest activity
	cs   closeSpec

	outbound bool   // WithCountOutbound
	outSeen  uint64 // OutboundMessages at the last firing; only fire uses it
	t        lifecycle.Timer
}

func (s *idleState) touch() { s.last.Store(int64(time.Since(s.base))) }

func (s *idleState) check(lifecycle.MessageType, []byte) error {
	s.touch()
	return nil
}

// fire closes the connection if it has been idle for d, and otherwise
// re-arms the timer for the rest. With WithCountOutbound, messages written
// directly with WriteMessage since the last firing count as activity now:
// never early, at most d late (Touch and the send queue are exact).
func (s *idleState) fire() {
	if s.outbound {
		if n := s.c.OutboundMessages(); n != s.outSeen {
			s.outSeen = n
			s.touch()
		}
	}
	idle := time.Since(s.base) - time.Duration(s.last.Load())
	if idle >= s.d {
		s.c.CloseWith(ErrIdleTimeout, s.cs.code, s.cs.reason)
		return
	}
	s.t.Reset(s.d - idle)
}

// Touch records outbound activity for IdleTimeout when it was given
// WithCountOutbound; otherwise it does nothing. The send queue (package
// queue) calls it after each message it writes; call it yourself after
// writing with WriteMessage.
func Touch(c *lifecycle.Conn) {
	if s, ok := c.Value(idleKey{}).(*idleState); ok {
		s.touch()
	}
}
