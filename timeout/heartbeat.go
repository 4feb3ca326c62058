package timeout

import (
	"encoding/binary"
	"net/http"
	"sync"
	"time"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// Heartbeat writes a ping every interval and expects, within timeout of
// each ping, its pong or any other frame from the peer. When nothing
// arrives, the peer is taken for dead: a best-effort Close 1011 "keepalive
// ping timeout" is written under a short deadline and TCP is closed without
// waiting; the end is reported as 1006 abnormal with cause ErrPongTimeout
// (WithCode and WithReason change the best-effort frame). A ping that
// cannot even be written within timeout counts as a missed pong. The
// pings also keep NATs and proxies that drop quiet connections from
// dropping this one. interval <= 0 or timeout <= 0 turns it off.
//
// The pong deadline is armed before the ping is written, since the pong can
// arrive before the write returns. One timer per connection drives both
// the pings and the deadline; no goroutine runs between pings. At most one
// ping is outstanding: when timeout exceeds interval, the next ping waits
// for the answer to the last one.
//
// Pongs are processed only while the handler reads (see the package
// documentation and DiscardMessages). RTT returns the last round-trip time;
// OnRTT and NotifyRTT report each one.
func Heartbeat(interval, timeout time.Duration, opts ...Option) func(http.Handler) http.Handler {
	if interval <= 0 || timeout <= 0 {
		return passThrough
	}
	o := newOptions(lifecycle.StatusInternalError, ReasonPongTimeout, opts)
	return middleware.Policy(func(c *lifecycle.Conn) error {
		s := heartbeatOf(c)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.started {
			return nil // one heartbeat per connection: the first wins
		}
		s.started = true
		s.interval, s.timeout, s.o = interval, timeout, o
		if o.onRTT != nil {
			s.notify = append(s.notify, func(d time.Duration) { o.onRTT(c, d) })
		}
		c.StartTimer(&s.t, interval, s.fire)
		c.OnPong(s.pong)
		return nil
	})
}

type heartbeatKey struct{}

// heartbeat is one connection's ping/pong state.
type heartbeat struct {
	c *lifecycle.Conn

	mu       sync.Mutex
	started  bool
	t        lifecycle.Timer
	interval time.Duration
	timeout  time.Duration
	o        *options
	notify   []func(time.Duration)

	seq       uint64
	payload   [8]byte   // the outstanding ping's data: seq, big-endian
	sentAt    time.Time // when the outstanding ping was armed
	waiting   bool      // a ping is outstanding
	answered  bool      // its pong arrived
	inboundAt uint64    // c.InboundFrames() when it was armed
	rtt       time.Duration
}

// createMu serializes the creation of per-connection state stored with
// SetValue; it is taken only when the state is missing.
var createMu sync.Mutex

func heartbeatOf(c *lifecycle.Conn) *heartbeat {
	if s, ok := c.Value(heartbeatKey{}).(*heartbeat); ok {
		return s
	}
	createMu.Lock()
	defer createMu.Unlock()
	if s, ok := c.Value(heartbeatKey{}).(*heartbeat); ok {
		return s
	}
	s := &heartbeat{c: c}
	c.SetValue(heartbeatKey{}, s)
	return s
}

// fire runs when the timer goes off: at a pong deadline, or when the next
// ping is due.
func (s *heartbeat) fire() {
	now := time.Now()
	s.mu.Lock()
	if s.waiting {
		alive := s.answered || s.c.InboundFrames() != s.inboundAt
		if !alive {
			if deadline := s.sentAt.Add(s.timeout); now.Before(deadline) {
				s.t.Reset(deadline.Sub(now))
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
			s.dead()
			return
		}
		s.waiting = false
		if next := s.sentAt.Add(s.interval); now.Before(next) {
			s.t.Reset(next.Sub(now))
			s.mu.Unlock()
			return
		}
	}
	// Arm the deadline before writing: the pong may beat the write's return.
	s.seq++
	binary.BigEndian.PutUint64(s.payload[:], s.seq)
	payload := s.payload // a copy: pong compares against s.payload
	s.sentAt, s.waiting, s.answered = now, true, false
	s.inboundAt = s.c.InboundFrames()
	s.t.Reset(min(s.interval, s.timeout))
	s.mu.Unlock()

	if err := s.c.Ping(payload[:], now.Add(s.timeout)); err != nil && !s.c.Closing() {
		s.dead() // not written within timeout: the peer is not reading
	}
}

func (s *heartbeat) dead() {
	s.c.Abort(ErrPongTimeout, s.o.code, s.o.reason)
}

// pong runs on the reading goroutine for every pong.
func (s *heartbeat) pong(appData string) {
	now := time.Now()
	s.mu.Lock()
	if !s.waiting || s.answered || appData != string(s.payload[:]) {
		s.mu.Unlock()
		return // unsolicited, late or repeated
	}
	s.answered = true
	s.rtt = now.Sub(s.sentAt)
	rtt, notify := s.rtt, s.notify
	s.mu.Unlock()
	for _, f := range notify {
		f(rtt)
	}
}

// RTT returns the connection's last heartbeat round-trip time (from the
// ping being armed to its pong being read), or zero before the first pong
// or without Heartbeat.
func RTT(c *lifecycle.Conn) time.Duration {
	s, ok := c.Value(heartbeatKey{}).(*heartbeat)
	if !ok {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rtt
}

// NotifyRTT makes the connection's Heartbeat call fn with each round-trip
// time, on the reading goroutine; fn must be cheap. Call it from an
// attachment or OnOpen hook, before or after Heartbeat's attachment: a
// metrics policy uses it to observe ping latency.
func NotifyRTT(c *lifecycle.Conn, fn func(rtt time.Duration)) {
	s := heartbeatOf(c)
	s.mu.Lock()
	s.notify = append(s.notify[:len(s.notify):len(s.notify)], fn)
	s.mu.Unlock()
}
