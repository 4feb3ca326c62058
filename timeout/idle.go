package timeout

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// IdleTimeout closes a connection that received no data message for d with
// 1001 "idle timeout" (cause [ErrIdleTimeout]). Pings and pongs never count as
// activity: a peer that only keeps the socket alive is still idle. With
// [WithCountOutbound], messages written by the connection's send queue, calls
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
	p := &idlePolicy{d: d, cs: cs, outbound: outbound}
	return middleware.Policy(func(c *lifecycle.Conn) error {
		s := &idleState{c: c, p: p}
		c.StartTimer(&s.t, d-s.sinceOpen(), s.fire)
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
	c       *lifecycle.Conn
	p       *idlePolicy
	last    atomic.Int64 // nanoseconds from the open (connx.OpenedAt) to the latest activity
	outSeen uint64       // connx.OutboundMessages at the last firing; only fire uses it
	t       lifecycle.Timer
}

// idlePolicy is what every connection of one [IdleTimeout] shares.
type idlePolicy struct {
	d        time.Duration
	cs       closeSpec
	outbound bool // WithCountOutbound
}

func (s *idleState) touch() { s.last.Store(int64(s.sinceOpen())) }

func (s *idleState) sinceOpen() time.Duration { return time.Since(connx.OpenedAt(s.c)) }

func (s *idleState) check(lifecycle.MessageType, []byte) error {
	s.touch()
	return nil
}

// fire closes the connection if it has been idle for d, and otherwise
// re-arms the timer for the rest. With [WithCountOutbound], messages written
// directly with WriteMessage since the last firing count as activity now:
// never early, at most d late (Touch and the send queue are exact).
func (s *idleState) fire() {
	if s.p.outbound {
		if n := connx.OutboundMessages(s.c); n != s.outSeen {
			s.outSeen = n
			s.touch()
		}
	}
	idle := s.sinceOpen() - time.Duration(s.last.Load())
	if idle >= s.p.d {
		s.c.CloseWith(ErrIdleTimeout, s.p.cs.code, s.p.cs.reason)
		return
	}
	s.t.Reset(s.p.d - idle)
}

// Touch records outbound activity for [IdleTimeout] when it was given
// [WithCountOutbound]; otherwise it does nothing. The send queue (package
// queue) calls it after each message it writes; call it yourself after
// writing with WriteMessage.
func Touch(c *lifecycle.Conn) {
	if s, ok := c.Value(idleKey{}).(*idleState); ok {
		s.touch()
	}
}
