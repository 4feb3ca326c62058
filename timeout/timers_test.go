package timeout_test

import (
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/queue"
	"github.com/wsmw/wsmw/timeout"
)

// at advances the bubble's clock to start+d and lets everything settle.
func at(start time.Time, d time.Duration) {
	time.Sleep(time.Until(start.Add(d)))
	synctest.Wait()
}

// wantClose checks a local close seen by both sides.
func wantClose(t *testing.T, p *peer, code lifecycle.StatusCode, reason string, cause error) lifecycle.CloseInfo {
	t.Helper()
	info := p.c.Wait()
	if info.Code != code || info.Reason != reason || info.Initiator != lifecycle.InitiatorLocal || !errors.Is(info.Cause, cause) {
		t.Fatalf("server info = %+v, want %d %q local %v", info, code, reason, cause)
	}
	if info.Received == nil {
		t.Fatalf("the peer's Close never arrived: %+v", info)
	}
	checkSent(t, info, code, reason)
	if e := <-p.end; e.code != int(code) || e.text != reason {
		t.Fatalf("client saw %+v, want %d %q", e, code, reason)
	}
	return info
}

// checkSent checks the Close frame the server recorded as sent.
func checkSent(t *testing.T, info lifecycle.CloseInfo, code lifecycle.StatusCode, reason string) {
	t.Helper()
	if info.Sent == nil || info.Sent.Code != code || info.Sent.Reason != reason {
		t.Fatalf("sent %+v, want %d %q", info.Sent, code, reason)
	}
}

func TestSessionExpiryFiresAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := dialPipe(t, nil, conntest.Echo, timeout.SessionExpiry(time.Minute))
		p.read()
		// Activity does not defer an absolute lifetime.
		for i := range 5 {
			at(start, time.Duration(i+1)*10*time.Second)
			p.ws.WriteMessage(websocket.TextMessage, []byte("hi"))
		}
		at(start, time.Minute-time.Nanosecond)
		if p.c.Closing() {
			t.Fatal("closed before the deadline")
		}
		at(start, time.Minute)
		info := wantClose(t, p, lifecycle.StatusPolicyViolation, "session expired", timeout.ErrSessionExpired)
		if info.Duration != time.Minute {
			t.Fatalf("duration %v", info.Duration)
		}
	})
}

// middleware.WithClose changes the close of every timer policy; the cause
// stays the policy's.
func TestWithClose(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy func(http.Handler) http.Handler
		cause  error
	}{
		{"SessionExpiry", timeout.SessionExpiry(time.Second, middleware.WithClose(4001, "bye")), timeout.ErrSessionExpired},
		{"IdleTimeout", timeout.IdleTimeout(time.Second, middleware.WithClose(4001, "bye")), timeout.ErrIdleTimeout},
		{"InitTimeout", timeout.InitTimeout(time.Second, middleware.WithClose(4001, "bye")), timeout.ErrInitTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := dialPipe(t, nil, conntest.Echo, tc.policy)
				p.read()
				info := wantClose(t, p, 4001, "bye", tc.cause)
				if info.Duration != time.Second {
					t.Fatalf("duration %v", info.Duration)
				}
			})
		})
	}
}

func TestIdleTimeoutDeferredByData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := dialPipe(t, nil, conntest.Echo, timeout.IdleTimeout(time.Minute))
		p.read()
		at(start, 30*time.Second)
		p.ws.WriteMessage(websocket.TextMessage, []byte("a"))
		at(start, 50*time.Second)
		p.ws.WriteMessage(websocket.BinaryMessage, []byte("b"))
		// Pings and pongs never count as activity.
		at(start, 100*time.Second)
		p.ws.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second))
		p.ws.WriteControl(websocket.PongMessage, []byte("q"), time.Now().Add(time.Second))
		at(start, 110*time.Second-time.Nanosecond)
		if p.c.Closing() {
			t.Fatal("closed before last activity + d")
		}
		at(start, 110*time.Second)
		info := wantClose(t, p, lifecycle.StatusGoingAway, "idle timeout", timeout.ErrIdleTimeout)
		if info.Duration != 110*time.Second {
			t.Fatalf("duration %v", info.Duration)
		}
	})
}

func TestIdleTimeoutWithoutActivity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := dialPipe(t, nil, conntest.Echo, timeout.IdleTimeout(time.Minute))
		p.read()
		at(start, time.Minute-time.Nanosecond)
		if p.c.Closing() {
			t.Fatal("closed early")
		}
		at(start, time.Minute)
		wantClose(t, p, lifecycle.StatusGoingAway, "idle timeout", timeout.ErrIdleTimeout)
	})
}

func TestIdleTimeoutCountOutbound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := dialPipe(t, nil, discard, timeout.IdleTimeout(time.Minute, timeout.WithCountOutbound()))
		p.read()
		at(start, 40*time.Second)
		if err := queue.Send(p.c, lifecycle.TextMessage, []byte("push")); err != nil {
			t.Fatal(err)
		}
		at(start, 80*time.Second)
		timeout.Touch(p.c)
		at(start, 140*time.Second-time.Nanosecond)
		if p.c.Closing() {
			t.Fatal("outbound activity did not count")
		}
		at(start, 140*time.Second)
		wantClose(t, p, lifecycle.StatusGoingAway, "idle timeout", timeout.ErrIdleTimeout)
		if got := string(<-p.msgs); got != "push" {
			t.Fatalf("client read %q", got)
		}
	})
}

// A direct WriteMessage is noticed when the idle timer fires: the close
// comes one full period after that firing, never before.
func TestIdleTimeoutCountOutboundDirectWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := dialPipe(t, nil, discard, timeout.IdleTimeout(time.Minute, timeout.WithCountOutbound()))
		p.read()
		at(start, 40*time.Second)
		if err := p.c.WriteMessage(lifecycle.TextMessage, []byte("direct")); err != nil {
			t.Fatal(err)
		}
		at(start, 120*time.Second-time.Nanosecond)
		if p.c.Closing() {
			t.Fatal("a direct write did not count")
		}
		at(start, 120*time.Second)
		wantClose(t, p, lifecycle.StatusGoingAway, "idle timeout", timeout.ErrIdleTimeout)
		if got := string(<-p.msgs); got != "direct" {
			t.Fatalf("client read %q", got)
		}
	})
}

func TestInitTimeoutFiresAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := dialPipe(t, nil, conntest.Echo, timeout.InitTimeout(10*time.Second))
		p.read()
		// A ping is not initialisation.
		p.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second))
		at(start, 10*time.Second-time.Nanosecond)
		if p.c.Closing() {
			t.Fatal("closed early")
		}
		at(start, 10*time.Second)
		wantClose(t, p, timeout.StatusInitTimeout, "connection initialisation timeout", timeout.ErrInitTimeout)
	})
}

func TestInitTimeoutSatisfied(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := dialPipe(t, nil, conntest.Echo, timeout.InitTimeout(10*time.Second))
		p.read()
		at(start, 9*time.Second)
		p.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"connection_init"}`))
		at(start, time.Hour)
		if p.c.Closing() {
			t.Fatal("closed after the first message arrived in time")
		}
		p.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
		if info := p.c.Wait(); info.Initiator != lifecycle.InitiatorPeer {
			t.Fatalf("info = %+v", info)
		}
	})
}

func TestWriteTimeoutAborts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wrote := make(chan error, 1)
		p := dialPipe(t, nil, func(c *lifecycle.Conn) {
			// The client never reads: this fills the pipe buffer and blocks.
			wrote <- c.WriteMessage(lifecycle.BinaryMessage, make([]byte, 1<<20))
			queue.DiscardMessages(c)
		}, timeout.WriteTimeout(3*time.Second))
		synctest.Wait()
		start := p.c.OpenedAt()
		at(start, 3*time.Second-time.Nanosecond)
		if p.c.Closing() {
			t.Fatal("write timed out early")
		}
		at(start, 3*time.Second)
		if err := <-wrote; !errors.Is(err, lifecycle.ErrWriteTimeout) {
			t.Fatalf("write error %v", err)
		}
		info := p.c.Wait()
		if info.Code != lifecycle.StatusAbnormalClosure || info.Initiator != lifecycle.InitiatorAbnormal || !errors.Is(info.Cause, lifecycle.ErrWriteTimeout) {
			t.Fatalf("info = %+v", info)
		}
		p.finish()
	})
}
