package ratelimit

import (
	"errors"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// flood sends n text messages and returns the Close frame that ends the
// stream and the echoes before it.
func flood(t *testing.T, c *wstest.RawClient, n int) (wstest.Frame, []wstest.Frame) {
	t.Helper()
	for i := range n {
		if err := c.WriteText(strconv.Itoa(i)); err != nil {
			break // the server may already have closed
		}
	}
	f, echoes, err := c.ReadUntilClose(10 * time.Second)
	if err != nil {
		t.Fatalf("no Close frame: %v", err)
	}
	c.WriteClose(f.CloseCode(), "")
	return f, echoes
}

func TestMessageRateCloses1008(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		s := newModeTestServer(t, mode, MessageRate(20, 40))
		c := s.mustDial(nil, nil)
		f, echoes := flood(t, c, 200)
		if f.CloseCode() != 1008 || f.CloseReason() != "rate limit exceeded" {
			t.Fatalf("close %d %q", f.CloseCode(), f.CloseReason())
		}
		if len(echoes) < 40 || len(echoes) > 50 {
			t.Fatalf("%d messages went through, want the burst of 40", len(echoes))
		}
		info := s.nextClose()
		if info.Code != 1008 || info.Initiator != lifecycle.InitiatorLocal || !errors.Is(info.Cause, ErrRateLimited) {
			t.Fatalf("CloseInfo %+v", info)
		}
	})
}

func TestMessageRateCloseCode(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		s := newModeTestServer(t, mode, MessageRate(1, 3, middleware.WithClose(lifecycle.StatusTryAgainLater, "slow down")))
		f, echoes := flood(t, s.mustDial(nil, nil), 20)
		if f.CloseCode() != 1013 || f.CloseReason() != "slow down" || len(echoes) < 3 || len(echoes) > 4 {
			t.Fatalf("close %d %q after %d echoes", f.CloseCode(), f.CloseReason(), len(echoes))
		}
		if info := s.nextClose(); !errors.Is(info.Cause, ErrRateLimited) {
			t.Fatalf("cause %v", info.Cause)
		}
	})
}

// drop is the WithOnExceeded hook that drops every message over the limit.
func drop(*lifecycle.Conn, lifecycle.MessageType, []byte) error { return lifecycle.ErrDropMessage }

func TestMessageRateDrop(t *testing.T) {
	s := newTestServer(t, nil, MessageRate(1, 5, WithOnExceeded(drop)))
	c := s.mustDial(nil, nil)
	for i := range 20 {
		c.WriteText(strconv.Itoa(i))
	}
	c.WriteClose(1000, "done")
	f, echoes, err := c.ReadUntilClose(10 * time.Second)
	if err != nil || f.CloseCode() != 1000 {
		t.Fatalf("close %d %v", f.CloseCode(), err)
	}
	if len(echoes) < 5 || len(echoes) > 6 || string(echoes[0].Payload) != "0" {
		t.Fatalf("%d echoes, want the burst of 5", len(echoes))
	}
}

func TestMessageRateOnExceeded(t *testing.T) {
	seen := make(chan string, 100)
	s := newTestServer(t, nil, MessageRate(1, 2, WithOnExceeded(func(c *lifecycle.Conn, mt lifecycle.MessageType, data []byte) error {
		seen <- string(data)
		if string(data) == "9" {
			return &lifecycle.CloseError{Code: 4000, Reason: "enough", Cause: ErrRateLimited}
		}
		return lifecycle.ErrDropMessage
	})))
	f, echoes := flood(t, s.mustDial(nil, nil), 10)
	if f.CloseCode() != 4000 || len(echoes) < 2 || len(echoes) > 3 {
		t.Fatalf("close %d after %d echoes", f.CloseCode(), len(echoes))
	}
	if got := <-seen; got != "2" && got != "3" {
		t.Fatalf("first message over the limit: %q", got)
	}
}

func TestMessageRatePerSubject(t *testing.T) {
	m := newMessageRate(0.001, 4, []middleware.Option{WithPerSubject(), WithOnExceeded(drop)})
	bySubject := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, policy.WithSubject(r, r.Header.Get("X-Sub")))
		})
	}
	s := newTestServer(t, nil, bySubject, middleware.Policy(m.attach))
	send := func(sub string, n int) int {
		c := s.mustDial(nil, http.Header{"X-Sub": {sub}})
		s.conn()
		for i := range n {
			c.WriteText(strconv.Itoa(i))
		}
		c.WriteClose(1000, "")
		_, echoes, err := c.ReadUntilClose(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		s.nextClose()
		return len(echoes)
	}
	hold := s.mustDial(nil, http.Header{"X-Sub": {"alice"}}) // keeps alice's bucket alive
	s.conn()
	if n := send("alice", 3); n != 3 {
		t.Fatalf("alice's first connection: %d echoes", n)
	}
	if n := send("alice", 3); n != 1 {
		t.Fatalf("alice's second connection: %d echoes, want the 1 token left", n)
	}
	if n := send("bob", 3); n != 3 {
		t.Fatalf("bob: %d echoes", n)
	}
	if n := send("", 3); n != 3 {
		t.Fatalf("no subject: %d echoes", n)
	}
	hold.WriteClose(1000, "")
	s.nextClose()
	wstest.WaitFor(t, "the shared buckets to go", 10*time.Second, func() bool { return m.sharedLen() == 0 })
}

// The per-message check allocates nothing, on both paths.
func TestMessageRateCheckAllocs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit rate.Limit
		opts  []middleware.Option
	}{
		{"allowed", rate.Limit(1e9), nil},
		{"closed", rate.Limit(1e-9), nil},
		{"dropped", rate.Limit(1e-9), []middleware.Option{WithOnExceeded(drop)}},
	} {
		m := newMessageRate(float64(tc.limit), 1, tc.opts)
		check := m.check(nil, rate.NewLimiter(tc.limit, 1))
		msg := []byte("hello")
		if n := testing.AllocsPerRun(1000, func() { check(lifecycle.TextMessage, msg) }); n != 0 {
			t.Errorf("%s: %v allocations per message", tc.name, n)
		}
	}
}

// BenchmarkMessageRateCheck measures the read check MessageRate installs:
// the price of every data message read. Besides wall time (ns/op) it
// reports the CPU time of the benchmark's thread (cpu-ns/op), which stays
// meaningful on a machine busy with other work.
func BenchmarkMessageRateCheck(b *testing.B) {
	for _, bc := range []struct {
		name  string
		limit rate.Limit
		burst int
	}{
		{"allowed", rate.Limit(1e9), 1 << 30},
		{"exceeded", rate.Limit(1e-9), 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := newMessageRate(float64(bc.limit), bc.burst, nil)
			check := m.check(nil, rate.NewLimiter(bc.limit, bc.burst))
			msg := []byte("hello")
			b.ReportAllocs()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			start, ok := threadCPU()
			for b.Loop() {
				check(lifecycle.TextMessage, msg)
			}
			if end, _ := threadCPU(); ok {
				b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

func TestMaxMessageSize(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		s := newModeTestServer(t, mode, MaxMessageSize(1024))
		c := s.mustDial(nil, nil)
		ok := make([]byte, 1024)
		c.WriteFrame(wstest.OpBinary, true, ok)
		if f, err := c.ReadFrame(5 * time.Second); err != nil || len(f.Payload) != 1024 {
			t.Fatalf("1024 bytes: %d %v", len(f.Payload), err)
		}
		c.WriteFrame(wstest.OpBinary, true, make([]byte, 1025))
		f, _, err := c.ReadUntilClose(5 * time.Second)
		if err != nil || f.CloseCode() != 1009 || f.CloseReason() != "message too big" {
			t.Fatalf("close %d %q %v", f.CloseCode(), f.CloseReason(), err)
		}
		c.WriteClose(1009, "")
		info := s.nextClose()
		if info.Code != 1009 || info.Initiator != lifecycle.InitiatorLocal || !errors.Is(info.Cause, lifecycle.ErrMessageTooBig) {
			t.Fatalf("CloseInfo %+v", info)
		}
	})
}

func TestValidUTF8(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		s := newModeTestServer(t, mode, ValidUTF8())
		c := s.mustDial(nil, nil)
		for _, m := range []struct {
			op   byte
			data string
		}{{wstest.OpText, "héllo ✓"}, {wstest.OpBinary, "\xff\xfe"}} {
			c.WriteFrame(m.op, true, []byte(m.data))
			if f, err := c.ReadFrame(5 * time.Second); err != nil || string(f.Payload) != m.data {
				t.Fatalf("echo of %q: %q %v", m.data, f.Payload, err)
			}
		}
		c.WriteFrame(wstest.OpText, true, []byte("bad \xff"))
		f, _, err := c.ReadUntilClose(5 * time.Second)
		if err != nil || f.CloseCode() != 1007 || f.CloseReason() != "invalid utf-8" {
			t.Fatalf("close %d %q %v", f.CloseCode(), f.CloseReason(), err)
		}
		c.WriteClose(1007, "")
		if info := s.nextClose(); info.Code != 1007 || !errors.Is(info.Cause, ErrInvalidUTF8) {
			t.Fatalf("CloseInfo %+v", info)
		}
	})
}

// middleware.WithClose changes ValidUTF8's close; the cause stays
// ErrInvalidUTF8.
func TestValidUTF8WithClose(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		s := newModeTestServer(t, mode, ValidUTF8(middleware.WithClose(4007, "text must be utf-8")))
		c := s.mustDial(nil, nil)
		c.WriteFrame(wstest.OpText, true, []byte("bad \xff"))
		f, _, err := c.ReadUntilClose(5 * time.Second)
		if err != nil || f.CloseCode() != 4007 || f.CloseReason() != "text must be utf-8" {
			t.Fatalf("close %d %q %v", f.CloseCode(), f.CloseReason(), err)
		}
		c.WriteClose(4007, "")
		if info := s.nextClose(); info.Code != 4007 || !errors.Is(info.Cause, ErrInvalidUTF8) {
			t.Fatalf("CloseInfo %+v", info)
		}
	})
}

// pings returns n ping frames in one buffer, to be written at once.
func pings(n int) []byte {
	var b []byte
	for range n {
		b = wstest.AppendFrame(b, wstest.OpPing, true, []byte("p"))
	}
	return b
}

// pingThenEcho writes n pings at once and a text message, and reports
// whether every ping was answered and the message echoed; otherwise it
// returns the Close frame that ended the connection.
func pingThenEcho(t *testing.T, c *wstest.RawClient, n int) (bool, wstest.Frame) {
	t.Helper()
	if _, err := c.Conn.Write(wstest.AppendFrame(pings(n), wstest.OpText, true, []byte("after"))); err != nil {
		t.Fatal(err)
	}
	pongs := 0
	for {
		f, err := c.ReadFrame(5 * time.Second)
		if err != nil {
			t.Fatalf("after %d pongs: %v", pongs, err)
		}
		switch f.Op {
		case wstest.OpPong:
			pongs++
		case wstest.OpText:
			return pongs == n, f
		case wstest.OpClose:
			// The server stops reading at a broken budget and half-closes:
			// answer and close TCP, as a browser does.
			c.WriteClose(f.CloseCode(), "")
			c.Close()
			return false, f
		}
	}
}

// LimitFrames tightens or loosens the control-frame budget that is on by
// default (bursts of 50 pings).
func TestLimitFrames(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		t.Run("default", func(t *testing.T) {
			s := newModeTestServer(t, mode)
			if ok, _ := pingThenEcho(t, s.mustDial(nil, nil), 20); !ok {
				t.Fatal("20 pings at once refused by the default budget")
			}
			c := s.mustDial(nil, nil)
			if ok, f := pingThenEcho(t, c, 200); ok || f.CloseCode() != 1008 {
				t.Fatalf("200 pings at once: ok %v, close %d", ok, f.CloseCode())
			}
		})
		t.Run("tightened", func(t *testing.T) {
			s := newModeTestServer(t, mode, LimitFrames(lifecycle.FrameLimits{ControlRate: 1, ControlBurst: 5}))
			ok, f := pingThenEcho(t, s.mustDial(nil, nil), 20)
			if ok || f.CloseCode() != 1008 || f.CloseReason() != "too many control frames" {
				t.Fatalf("20 pings with bursts of 5: ok %v, close %d %q", ok, f.CloseCode(), f.CloseReason())
			}
			if info := s.nextClose(); info.Code != 1008 || !errors.Is(info.Cause, lifecycle.ErrControlFlood) {
				t.Fatalf("CloseInfo %+v", info)
			}
		})
		t.Run("loosened", func(t *testing.T) {
			s := newModeTestServer(t, mode, LimitFrames(lifecycle.FrameLimits{ControlRate: -1}))
			if ok, f := pingThenEcho(t, s.mustDial(nil, nil), 200); !ok {
				t.Fatalf("200 pings with the budget off: close %d %q", f.CloseCode(), f.CloseReason())
			}
		})
	})
}
