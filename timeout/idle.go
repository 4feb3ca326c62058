package timeout

import (
	"net/http"
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
		s := stateOf(c)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.idle == nil {
			c.AddReadCheck(s.touchCheck)
		}
		if s.idle == nil || d < s.idle.d {
			s.idle = p
		}
		s.armLocked(s.sinceOpen())
		return nil
	})
}

// idlePolicy is what every connection of one [IdleTimeout] shares.
type idlePolicy struct {
	d        time.Duration
	cs       closeSpec
	outbound bool // WithCountOutbound
}

func (s *connState) touch() { s.last.Store(int64(s.sinceOpen())) }

// touchCheck is [IdleTimeout]'s read check: a data message is activity.
func (s *connState) touchCheck(lifecycle.MessageType, []byte) error {
	s.touch()
	return nil
}

// idleDue reports whether the connection has been idle for d. With
// [WithCountOutbound], messages written directly with WriteMessage since
// the last look count as activity now: never early, at most d late (Touch
// and the send queue are exact). s.mu is held.
func (s *connState) idleDue(now time.Duration) bool {
	if s.idle.outbound {
		if n := connx.OutboundMessages(s.c); n != s.outSeen {
			s.outSeen = n
			s.touch()
		}
	}
	return now-time.Duration(s.last.Load()) >= s.idle.d
}

// Touch records outbound activity for [IdleTimeout] when it was given
// [WithCountOutbound]; otherwise it does nothing. The send queue (package
// queue) calls it after each message it writes; call it yourself after
// writing with WriteMessage.
func Touch(c *lifecycle.Conn) {
	if s, ok := c.Value(stateKey{}).(*connState); ok && s.idleCountsOutbound() {
		s.touch()
	}
}

func (s *connState) idleCountsOutbound() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idle != nil && s.idle.outbound
}
