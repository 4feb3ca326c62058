package timeout

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
)

// connState is what this package keeps for one connection: the state of
// each of its policies on it, side by side in one record that the first of
// them to attach makes (a connection's values hold it), driven by one
// timer armed for the earliest of their deadlines. A connection with the
// usual stack (session expiry, idle timeout, heartbeat) holds one record,
// one timer and three function values (the timer's, the idle read
// check's, the heartbeat's pong hook) instead of an object, a timer and
// one or two function values per policy.
//
// Deadlines are durations since the connection opened ([connx.OpenedAt]),
// zero for none. When one policy appears twice in a chain, the stricter
// one holds (the earlier session end, the shorter idle or init timeout;
// the first heartbeat), as both would have.
type connState struct {
	c       *lifecycle.Conn
	t       lifecycle.Timer
	started bool // t was started (its function, fire, is made once)

	mu sync.Mutex // guards everything below that is not atomic, and the timer's arming

	session *sessionPolicy // SessionExpiry's, nil without; it ends at its d

	idle    *idlePolicy  // IdleTimeout's, nil without
	last    atomic.Int64 // from the open to the latest activity, in ns
	outSeen uint64       // connx.OutboundMessages at the idle's last look

	init *initPolicy // InitTimeout's, nil without; the first message is due by its d
	seen atomic.Bool // a data message arrived

	hb        *heartbeatPolicy // Heartbeat's, nil without
	hbAt      time.Duration    // when the heartbeat looks next
	seq       uint32           // the outstanding ping's; its data is seq as 8 bytes, big-endian
	waiting   bool             // a ping is outstanding
	answered  bool             // its pong arrived
	sentAt    time.Duration    // when the outstanding ping was armed
	inboundAt uint64           // connx.InboundFrames(c) when it was armed
}

type stateKey struct{}

// stateOf returns c's record, making it.
func stateOf(c *lifecycle.Conn) *connState {
	if s, ok := c.Value(stateKey{}).(*connState); ok {
		return s
	}
	v, _ := c.LoadOrStore(stateKey{}, &connState{c: c})
	return v.(*connState)
}

func (s *connState) sinceOpen() time.Duration { return time.Since(connx.OpenedAt(s.c)) }

// armLocked arms the timer for the earliest deadline. s.mu is held.
func (s *connState) armLocked(now time.Duration) {
	next := time.Duration(0)
	earlier := func(at time.Duration) {
		if at != 0 && (next == 0 || at < next) {
			next = at
		}
	}
	if s.session != nil {
		earlier(s.session.d)
	}
	if s.init != nil && !s.seen.Load() {
		earlier(s.init.d)
	}
	if s.idle != nil {
		earlier(max(time.Duration(s.last.Load())+s.idle.d, 1))
	}
	if s.hb != nil {
		earlier(s.hbAt)
	}
	if next == 0 {
		s.t.Stop()
		return
	}
	if !s.started {
		s.started = true
		s.c.StartTimer(&s.t, next-now, s.fire)
		return
	}
	s.t.Reset(next - now)
}

// fire runs on the timer: each policy whose deadline has come acts,
// and the timer is armed for the next.
func (s *connState) fire() {
	s.mu.Lock()
	now := s.sinceOpen()
	switch {
	case s.session != nil && now >= s.session.d:
		s.mu.Unlock()
		s.c.CloseWith(ErrSessionExpired, s.session.cs.code, s.session.cs.reason)
		return
	case s.init != nil && !s.seen.Load() && now >= s.init.d:
		s.mu.Unlock()
		s.c.CloseWith(ErrInitTimeout, s.init.cs.code, s.init.cs.reason)
		return
	}
	if s.idle != nil && s.idleDue(now) {
		s.mu.Unlock()
		s.c.CloseWith(ErrIdleTimeout, s.idle.cs.code, s.idle.cs.reason)
		return
	}
	var ping [8]byte
	send, dead := false, false
	if s.hb != nil && now >= s.hbAt {
		ping, send, dead = s.beatLocked(now)
	}
	s.armLocked(now)
	s.mu.Unlock()
	switch {
	case dead:
		s.dead()
	case send:
		if err := s.c.Ping(ping[:], time.Now().Add(s.hb.timeout)); err != nil && s.c.Err() == nil {
			s.dead() // not written within timeout: the peer is not reading
		}
	}
}
