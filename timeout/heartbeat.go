package timeout

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// Heartbeat writes a ping every interval and expects, within timeout of
// each ping, its pong or any other frame from the peer. When nothing
// arrives, the peer is taken for dead: a best-effort Close 1011 "keepalive
// ping timeout" is written under a short deadline and TCP is closed without
// waiting; the end is reported as 1006 abnormal with cause [ErrPongTimeout]
// ([middleware.WithClose] changes the best-effort frame). A ping that cannot
// even be written within timeout counts as a missed pong. The pings also
// keep NATs and proxies that drop quiet connections from dropping this
// one, and time each round trip (Conn.RTT, Conn.OnRTT). Both zero turn it
// off; one zero, or a negative value, panics. 20 s and 20 s are good
// defaults: a frame every 20 s keeps the usual 60 s idle cut-offs of NATs,
// load balancers and proxies away, and a dead peer is found within 40 s.
//
// The pong deadline is armed before the ping is written, since the pong can
// arrive before the write returns. One timer per connection drives both
// the pings and the deadline; no goroutine runs between pings. At most one
// ping is outstanding: when timeout exceeds interval, the next ping waits
// for the answer to the last one. The pongs that answer these pings never
// count against the connection's control-frame budget
// ([lifecycle.FrameLimits]).
//
// Pongs are processed only while the handler reads: a handler that only
// writes must keep a read going (queue.DiscardMessages), or the peer is
// taken for dead.
func Heartbeat(interval, timeout time.Duration, opts ...middleware.Option) func(http.Handler) http.Handler {
	checkDuration("Heartbeat", interval, timeout)
	if (interval == 0) != (timeout == 0) {
		panic(fmt.Sprintf("wsmw: Heartbeat(%v, %v): give both the interval and the pong timeout, or neither (off)", interval, timeout))
	}
	cs, _ := settings("Heartbeat", lifecycle.StatusInternalError, reasonPongTimeout, opts)
	if interval == 0 {
		return passThrough
	}
	p := &heartbeatPolicy{interval: interval, timeout: timeout, cs: cs}
	return middleware.Policy(func(c *lifecycle.Conn) error {
		s := &heartbeat{c: c, p: p}
		if _, loaded := c.LoadOrStore(heartbeatKey{}, s); loaded {
			return nil // one heartbeat per connection: the first wins
		}
		c.StartTimer(&s.t, interval, s.fire)
		connx.OnPong(c, s.pong)
		return nil
	})
}

type heartbeatKey struct{}

// heartbeat is one connection's ping/pong state.
type heartbeat struct {
	c *lifecycle.Conn
	p *heartbeatPolicy
	t lifecycle.Timer

	mu        sync.Mutex
	seq       uint32        // the outstanding ping's; its data is seq as 8 bytes, big-endian
	waiting   bool          // a ping is outstanding
	answered  bool          // its pong arrived
	sentAt    time.Duration // when the outstanding ping was armed, since the open
	inboundAt uint64        // connx.InboundFrames(c) when it was armed
}

// heartbeatPolicy is what every connection of one Heartbeat shares.
type heartbeatPolicy struct {
	interval time.Duration
	timeout  time.Duration
	cs       closeSpec
}

// pingData is the data of ping seq.
func pingData(seq uint32) (b [8]byte) {
	binary.BigEndian.PutUint64(b[:], uint64(seq))
	return b
}

// fire runs when the timer goes off: at a pong deadline, or when the next
// ping is due.
func (s *heartbeat) fire() {
	p := s.p
	now := time.Since(connx.OpenedAt(s.c))
	s.mu.Lock()
	if s.waiting {
		alive := s.answered || connx.InboundFrames(s.c) != s.inboundAt
		if !alive {
			if deadline := s.sentAt + p.timeout; now < deadline {
				s.t.Reset(deadline - now)
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
			s.dead()
			return
		}
		s.waiting = false
		if next := s.sentAt + p.interval; now < next {
			s.t.Reset(next - now)
			s.mu.Unlock()
			return
		}
	}
	// Arm the deadline before writing: the pong may beat the write's return.
	s.seq++
	data := pingData(s.seq)
	s.sentAt, s.waiting, s.answered = now, true, false
	s.inboundAt = connx.InboundFrames(s.c)
	s.t.Reset(min(p.interval, p.timeout))
	s.mu.Unlock()

	if err := s.c.Ping(data[:], time.Now().Add(p.timeout)); err != nil && !(s.c.Err() != nil) {
		s.dead() // not written within timeout: the peer is not reading
	}
}

func (s *heartbeat) dead() {
	connx.Abort(s.c, ErrPongTimeout, s.p.cs.code, s.p.cs.reason)
}

// pong runs on the reading goroutine for every pong. A pong later than
// the interval means the timer waits for the pong deadline: the next ping
// is due now, not at that deadline.
func (s *heartbeat) pong(appData string) {
	s.mu.Lock()
	late := false
	if data := pingData(s.seq); s.waiting && !s.answered && appData == string(data[:]) {
		s.answered = true
		late = time.Since(connx.OpenedAt(s.c))-s.sentAt >= s.p.interval
	}
	s.mu.Unlock()
	if late {
		s.t.Reset(0)
	}
}
