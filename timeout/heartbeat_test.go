package timeout_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/queue"
	"github.com/wsmw/wsmw/timeout"
)

// wantDead checks the end of a peer found dead by the heartbeat.
func wantDead(t *testing.T, p *conntest.Peer) lifecycle.CloseInfo {
	t.Helper()
	info := p.C.Wait()
	if info.Code != lifecycle.StatusAbnormalClosure || info.Initiator != lifecycle.InitiatorAbnormal ||
		!errors.Is(info.Cause, timeout.ErrPongTimeout) || info.Reason != "keepalive ping timeout" {
		t.Fatalf("info = %+v", info)
	}
	conntest.CheckSent(t, info, lifecycle.StatusInternalError, "keepalive ping timeout")
	return info
}

// countRTTs is a policy that counts each connection's timed round trips
// (Conn.OnRTT) in n.
func countRTTs(n *atomic.Int64) func(http.Handler) http.Handler {
	return policyFunc(func(c *lifecycle.Conn) { c.OnRTT(func(time.Duration) { n.Add(1) }) })
}

func TestHeartbeatAnsweredPingsKeepAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rtts atomic.Int64
		p := conntest.DialPipe(t, nil, conntest.Echo, countRTTs(&rtts), timeout.Heartbeat(10*time.Second, 5*time.Second))
		p.Read() // gorilla's client answers pings while it reads
		start := connx.OpenedAt(p.C)
		at(start, 100*10*time.Second+9*time.Second)
		if p.C.Err() != nil {
			t.Fatal("a peer that answers pings was cut")
		}
		if n := rtts.Load(); n != 100 {
			t.Fatalf("%d pongs in 100 intervals", n)
		}
		if info := p.Finish(); errors.Is(info.Cause, timeout.ErrPongTimeout) {
			t.Fatalf("info = %+v", info)
		}
	})
}

func TestHeartbeatRTT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		p := conntest.DialPipe(t, nil, conntest.Echo, timeout.Heartbeat(10*time.Second, 5*time.Second))
		if got := p.C.RTT(); got != 0 {
			t.Fatalf("RTT before any ping = %v", got)
		}
		p.WS.SetPingHandler(func(data string) error {
			<-release // answer late, by 1.5 s of the bubble's clock
			return p.WS.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		p.Read()
		start := connx.OpenedAt(p.C)
		at(start, 10*time.Second)
		at(start, 11500*time.Millisecond)
		close(release)
		synctest.Wait()
		if got := p.C.RTT(); got != 1500*time.Millisecond {
			t.Fatalf("RTT = %v", got)
		}
		p.Finish()
	})
}

// A pong later than the interval brings the next ping at once instead of
// at the pong deadline. With a 1 s interval and a 10 s pong timeout, a peer
// that answers every ping 1.5 s late is pinged every 1.5 s, each ping the
// moment the previous pong arrives, not every 10 s.
func TestHeartbeatLatePongPingsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := conntest.DialPipe(t, nil, conntest.Echo, timeout.Heartbeat(time.Second, 10*time.Second))
		start := connx.OpenedAt(p.C)
		pings := make(chan time.Duration, 100)
		quit := make(chan struct{})
		stop := sync.OnceFunc(func() { close(quit) })
		t.Cleanup(stop)
		p.WS.SetPingHandler(func(data string) error {
			pings <- time.Since(start)
			select {
			case <-time.After(1500 * time.Millisecond): // the peer's slow round trip
			case <-quit:
				return errors.New("test over")
			}
			return p.WS.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		p.Read()
		at(start, 20*time.Second)
		if p.C.Err() != nil {
			t.Fatalf("a peer answering within the pong timeout was cut: %v", context.Cause(p.C.Context()))
		}
		close(pings)
		var got []time.Duration
		for d := range pings {
			got = append(got, d)
		}
		// 1 s, then every 1.5 s: 1, 2.5, 4, ... 19.
		if len(got) != 13 {
			t.Fatalf("%d pings in 20 s, want 13: %v", len(got), got)
		}
		for i, d := range got {
			if want := time.Second + time.Duration(i)*1500*time.Millisecond; d != want {
				t.Fatalf("ping %d at %v, want %v (all: %v)", i, d, want, got)
			}
		}
		if rtt := p.C.RTT(); rtt != 1500*time.Millisecond {
			t.Fatalf("RTT = %v", rtt)
		}
		stop()
		p.Finish()
	})
}

func TestHeartbeatDeadPeerAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := conntest.DialPipe(t, nil, conntest.Echo, timeout.Heartbeat(10*time.Second, 5*time.Second))
		var pings atomic.Int64
		p.WS.SetPingHandler(func(string) error { pings.Add(1); return nil }) // ignores pings
		p.Read()
		start := connx.OpenedAt(p.C)
		at(start, 10*time.Second)
		if pings.Load() != 1 {
			t.Fatalf("%d pings at the first interval", pings.Load())
		}
		at(start, 15*time.Second-time.Nanosecond)
		if p.C.Err() != nil {
			t.Fatal("declared dead before interval + timeout")
		}
		at(start, 15*time.Second)
		info := wantDead(t, p)
		if info.Duration != 15*time.Second {
			t.Fatalf("duration %v", info.Duration)
		}
		if e := <-p.End; e.Code != 1011 || e.Text != "keepalive ping timeout" {
			t.Fatalf("client saw %+v", e)
		}
	})
}

// middleware.WithClose changes the heartbeat's best-effort Close frame;
// the end is still reported as the abnormal one it is.
func TestHeartbeatWithClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := conntest.DialPipe(t, nil, conntest.Echo, timeout.Heartbeat(10*time.Second, 5*time.Second, middleware.WithClose(4000, "are you there?")))
		p.WS.SetPingHandler(func(string) error { return nil }) // ignores pings
		p.Read()
		info := p.C.Wait()
		if info.Code != lifecycle.StatusAbnormalClosure || info.Initiator != lifecycle.InitiatorAbnormal ||
			!errors.Is(info.Cause, timeout.ErrPongTimeout) || info.Duration != 15*time.Second {
			t.Fatalf("info = %+v", info)
		}
		conntest.CheckSent(t, info, 4000, "are you there?")
		if e := <-p.End; e.Code != 4000 || e.Text != "are you there?" {
			t.Fatalf("client saw %+v", e)
		}
	})
}

func TestHeartbeatTimeoutLongerThanInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := conntest.DialPipe(t, nil, conntest.Echo, timeout.Heartbeat(10*time.Second, 25*time.Second))
		var pings atomic.Int64
		p.WS.SetPingHandler(func(string) error { pings.Add(1); return nil })
		p.Read()
		start := connx.OpenedAt(p.C)
		at(start, 35*time.Second-time.Nanosecond)
		if p.C.Err() != nil {
			t.Fatal("declared dead early")
		}
		at(start, 35*time.Second)
		wantDead(t, p)
		if n := pings.Load(); n != 1 {
			t.Fatalf("%d pings outstanding, want 1", n)
		}
	})
}

func TestHeartbeatAnyInboundFrameKeepsAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := conntest.DialPipe(t, nil, conntest.Echo, timeout.Heartbeat(10*time.Second, 5*time.Second))
		p.WS.SetPingHandler(func(string) error { return nil }) // never pongs
		p.Read()
		start := connx.OpenedAt(p.C)
		for i := 1; i <= 60; i++ { // a message every 3 s for 3 minutes
			at(start, time.Duration(i)*3*time.Second)
			if err := p.WS.WriteMessage(websocket.TextMessage, []byte("x")); err != nil {
				t.Fatalf("at %d: %v", i, err)
			}
		}
		synctest.Wait()
		if p.C.Err() != nil {
			t.Fatal("a peer that keeps sending was cut")
		}
		// Then it falls silent: the next ping's deadline finds it.
		at(start, 180*time.Second+15*time.Second)
		wantDead(t, p)
	})
}

func TestHeartbeatNotReadingMeansDead(t *testing.T) {
	// gorilla handles pongs only inside reads: a handler that never reads
	// loses a healthy peer. DiscardMessages in a goroutine keeps a reader
	// going.
	for _, tc := range []struct {
		name    string
		handler func(*lifecycle.Conn)
		dead    bool
	}{
		{"never reads", func(c *lifecycle.Conn) { <-c.Done() }, true},
		{"DiscardMessages", func(c *lifecycle.Conn) { go queue.DiscardMessages(c); <-c.Done() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := conntest.DialPipe(t, nil, tc.handler, timeout.Heartbeat(10*time.Second, 5*time.Second))
				p.Read()
				at(connx.OpenedAt(p.C), time.Minute)
				if (p.C.Err() != nil) != tc.dead {
					t.Fatalf("closing = %v", (p.C.Err() != nil))
				}
				if tc.dead {
					wantDead(t, p)
					return
				}
				p.WS.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
				if info := p.C.Wait(); info.Initiator != lifecycle.InitiatorPeer || !info.HandshakeComplete {
					t.Fatalf("info = %+v", info)
				}
			})
		})
	}
}

// Conn.OnRTT may be registered before Heartbeat's attachment runs, and
// hears every timed round trip.
func TestOnRTTBeforeHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got := make(chan time.Duration, 10)
		p := conntest.DialPipe(t, nil, conntest.Echo,
			policyFunc(func(c *lifecycle.Conn) { c.OnRTT(func(d time.Duration) { got <- d }) }),
			timeout.Heartbeat(time.Second, time.Second))
		p.Read()
		at(connx.OpenedAt(p.C), 3*time.Second)
		if len(got) != 3 {
			t.Fatalf("%d notifications", len(got))
		}
		p.Finish()
	})
}

// The heartbeat's own pongs never count against the control-frame budget
// (lifecycle.FrameLimits): each ping written makes its pong free. At 100
// pings a second, far above the budget's 10 a second, the peer stays.
func TestHeartbeatPongsAreNotChargedToTheControlBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rtts atomic.Int64
		p := conntest.DialPipe(t, nil, conntest.Echo, countRTTs(&rtts), timeout.Heartbeat(10*time.Millisecond, time.Second))
		p.Read()
		at(connx.OpenedAt(p.C), 60*time.Second+5*time.Millisecond)
		if p.C.Err() != nil {
			t.Fatalf("a peer answering 100 pings a second was closed: %v", context.Cause(p.C.Context()))
		}
		if n := rtts.Load(); n < 5900 {
			t.Fatalf("%d pongs in 60 s at 100 a second", n)
		}
		p.Finish()
	})
}

// Unsolicited pongs are charged: a peer that sends them faster than the
// budget allows is closed with 1008 "too many control frames".
func TestUnsolicitedPongFloodIsClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := conntest.DialPipe(t, nil, conntest.Echo)
		p.Read()
		for range 100 {
			if err := p.WS.WriteControl(websocket.PongMessage, []byte("x"), time.Now().Add(time.Second)); err != nil {
				break
			}
		}
		info := p.C.Wait()
		if info.Code != lifecycle.StatusPolicyViolation || info.Reason != "too many control frames" || !errors.Is(info.Cause, lifecycle.ErrControlFlood) {
			t.Fatalf("info = %+v", info)
		}
		if e := <-p.End; e.Code != 1008 || e.Text != "too many control frames" {
			t.Fatalf("client saw %+v", e)
		}
	})
}
