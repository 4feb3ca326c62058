package timeout

import (
	"encoding/binary"
	"fmt"
	"net/http"
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
		s := stateOf(c)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.hb != nil {
			return nil // one heartbeat per connection: the first wins
		}
		s.hb, s.hbAt = p, max(s.sinceOpen()+interval, 1)
		connx.OnPong(c, s.pong)
		s.armLocked(s.sinceOpen())
		return nil
	})
}

// heartbeatPolicy is what every connection of one Heartbeat shares.
type heartbeatPolicy struct {
	interval time.Duration
	timeout  time.Duration
	cs       closeSpec
}

// pingData is the payload of ping seq: 8 bytes, which the core times
// without allocating (Conn.RTT).
func pingData(seq uint32) (b [8]byte) {
	binary.BigEndian.PutUint64(b[:], uint64(seq))
	return b
}

// beatLocked is the heartbeat's turn, at or after hbAt: it decides whether
// the outstanding ping was answered in time and when to look next, and
// reports whether to write a ping now (with data ping), or dead when the
// pong timeout passed with nothing from the peer. Any frame counts as a sign of life:
// a busy peer's pong may queue behind its data, but the data shows it is
// there. s.mu is held.
func (s *connState) beatLocked(now time.Duration) (ping [8]byte, send, dead bool) {
	p := s.hb
	if s.waiting {
		alive := s.answered || connx.InboundFrames(s.c) != s.inboundAt
		if !alive {
			if deadline := s.sentAt + p.timeout; now < deadline {
				s.hbAt = deadline
				return ping, false, false
			}
			s.hbAt = 0
			return ping, false, true
		}
		s.waiting = false
		if next := s.sentAt + p.interval; now < next {
			s.hbAt = next
			return ping, false, false
		}
	}
	s.seq++
	s.sentAt, s.waiting, s.answered = now, true, false
	s.inboundAt = connx.InboundFrames(s.c)
	// Armed before the ping is written: its pong can come before the write
	// returns.
	s.hbAt = now + min(p.interval, p.timeout)
	return pingData(s.seq), true, false
}

// dead aborts the connection: its peer did not answer in time.
func (s *connState) dead() {
	connx.Abort(s.c, ErrPongTimeout, s.hb.cs.code, s.hb.cs.reason)
}

// pong is the heartbeat's pong hook. A pong that comes after the next ping
// was due (timeout > interval) lets that ping go now.
func (s *connState) pong(appData string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if data := pingData(s.seq); s.waiting && !s.answered && appData == string(data[:]) {
		s.answered = true
		if now := s.sinceOpen(); now-s.sentAt >= s.hb.interval {
			s.hbAt = now
			s.armLocked(now)
		}
	}
}
