package timeout

import (
	"net/http"
	"time"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// SessionExpiry limits every connection's lifetime to d from the upgrade,
// whatever it does: at d it closes with 1008 "session expired" (cause
// ErrSessionExpired; WithCode and WithReason change the frame). It bounds
// how long a connection outlives the credentials and the deployment it was
// opened with. d <= 0 turns it off.
func SessionExpiry(d time.Duration, opts ...Option) func(http.Handler) http.Handler {
	if d <= 0 {
		return passThrough
	}
	o := newOptions(lifecycle.StatusPolicyViolation, ReasonSessionExpired, opts)
	return middleware.Policy(func(c *lifecycle.Conn) error {
		s := &sessionState{c: c, o: o}
		c.StartTimer(&s.t, d-time.Since(c.OpenedAt()), s.expire)
		return nil
	})
}

// sessionState is one connection's session clock.
type sessionState struct {
	c *lifecycle.Conn
	o *options
	t lifecycle.Timer
}

func (s *sessionState) expire() { s.c.CloseWith(ErrSessionExpired, s.o.code, s.o.reason) }

// passThrough is the middleware of a policy that is turned off.
func passThrough(next http.Handler) http.Handler { return next }
