package timeout

import (
	"net/http"
	"time"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// SessionExpiry limits every connection's lifetime to d from the upgrade,
// whatever it does: at d it closes with 1008 "session expired" (cause
// [ErrSessionExpired]; [middleware.WithClose] changes the frame). It bounds how
// long a connection outlives the credentials and the deployment it was
// opened with. Zero turns it off; a negative d panics. 30 minutes is a good
// default for browser-facing endpoints: clients learn to reconnect, which
// they must do anyway.
func SessionExpiry(d time.Duration, opts ...middleware.Option) func(http.Handler) http.Handler {
	checkDuration("SessionExpiry", d)
	cs, _ := settings("SessionExpiry", lifecycle.StatusPolicyViolation, reasonSessionExpired, opts)
	if d == 0 {
		return passThrough
	}
	p := &sessionPolicy{d: d, cs: cs}
	return middleware.Policy(func(c *lifecycle.Conn) error {
		s := stateOf(c)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.session == nil || d < s.session.d {
			s.session = p
		}
		s.armLocked(s.sinceOpen())
		return nil
	})
}

// sessionPolicy is what every connection of one [SessionExpiry] shares.
type sessionPolicy struct {
	d  time.Duration
	cs closeSpec
}
