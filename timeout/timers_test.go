package timeout_test

import (
	"errors"
	"net/http"
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

// at advances the bubble's clock to start+d and lets everything settle.
func at(start time.Time, d time.Duration) {
	time.Sleep(time.Until(start.Add(d)))
	synctest.Wait()
}

func TestSessionExpiryFiresAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := conntest.DialPipe(t, nil, conntest.Echo, timeout.SessionExpiry(time.Minute))
		p.Read()
		// Activity does not defer an absolute lifetime.
		for i := range 5 {
			at(start, time.Duration(i+1)*10*time.Second)
			p.WS.WriteMessage(websocket.TextMessage, []byte("hi"))
		}
		at(start, time.Minute-time.Nanosecond)
		if p.C.Err() != nil {
			t.Fatal("closed before the deadline")
		}
		at(start, time.Minute)
		info := conntest.WantClose(t, p, lifecycle.StatusPolicyViolation, "session expired", timeout.ErrSessionExpired)
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
				p := conntest.DialPipe(t, nil, conntest.Echo, tc.policy)
				p.Read()
				info := conntest.WantClose(t, p, 4001, "bye", tc.cause)
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
		p := conntest.DialPipe(t, nil, conntest.Echo, timeout.IdleTimeout(time.Minute))
		p.Read()
		at(start, 30*time.Second)
		p.WS.WriteMessage(websocket.TextMessage, []byte("a"))
		at(start, 50*time.Second)
		p.WS.WriteMessage(websocket.BinaryMessage, []byte("b"))
		// Pings and pongs never count as activity.
		at(start, 100*time.Second)
		p.WS.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second))
		p.WS.WriteControl(websocket.PongMessage, []byte("q"), time.Now().Add(time.Second))
		at(start, 110*time.Second-time.Nanosecond)
		if p.C.Err() != nil {
			t.Fatal("closed before last activity + d")
		}
		at(start, 110*time.Second)
		info := conntest.WantClose(t, p, lifecycle.StatusGoingAway, "idle timeout", timeout.ErrIdleTimeout)
		if info.Duration != 110*time.Second {
			t.Fatalf("duration %v", info.Duration)
		}
	})
}

func TestIdleTimeoutWithoutActivity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := conntest.DialPipe(t, nil, conntest.Echo, timeout.IdleTimeout(time.Minute))
		p.Read()
		at(start, time.Minute-time.Nanosecond)
		if p.C.Err() != nil {
			t.Fatal("closed early")
		}
		at(start, time.Minute)
		conntest.WantClose(t, p, lifecycle.StatusGoingAway, "idle timeout", timeout.ErrIdleTimeout)
	})
}

func TestIdleTimeoutCountOutbound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := conntest.DialPipe(t, nil, discard, timeout.IdleTimeout(time.Minute, timeout.WithCountOutbound()))
		p.Read()
		at(start, 40*time.Second)
		if err := queue.Send(p.C, lifecycle.TextMessage, []byte("push")); err != nil {
			t.Fatal(err)
		}
		at(start, 80*time.Second)
		timeout.Touch(p.C)
		at(start, 140*time.Second-time.Nanosecond)
		if p.C.Err() != nil {
			t.Fatal("outbound activity did not count")
		}
		at(start, 140*time.Second)
		conntest.WantClose(t, p, lifecycle.StatusGoingAway, "idle timeout", timeout.ErrIdleTimeout)
		if got := string(<-p.Msgs); got != "push" {
			t.Fatalf("client read %q", got)
		}
	})
}

// A direct WriteMessage is noticed when the idle timer fires: the close
// comes one full period after that firing, never before.
func TestIdleTimeoutCountOutboundDirectWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := conntest.DialPipe(t, nil, discard, timeout.IdleTimeout(time.Minute, timeout.WithCountOutbound()))
		p.Read()
		at(start, 40*time.Second)
		if err := p.C.WriteMessage(lifecycle.TextMessage, []byte("direct")); err != nil {
			t.Fatal(err)
		}
		at(start, 120*time.Second-time.Nanosecond)
		if p.C.Err() != nil {
			t.Fatal("a direct write did not count")
		}
		at(start, 120*time.Second)
		conntest.WantClose(t, p, lifecycle.StatusGoingAway, "idle timeout", timeout.ErrIdleTimeout)
		if got := string(<-p.Msgs); got != "direct" {
			t.Fatalf("client read %q", got)
		}
	})
}

func TestInitTimeoutFiresAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := conntest.DialPipe(t, nil, conntest.Echo, timeout.InitTimeout(10*time.Second))
		p.Read()
		// A ping is not initialisation.
		p.WS.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second))
		at(start, 10*time.Second-time.Nanosecond)
		if p.C.Err() != nil {
			t.Fatal("closed early")
		}
		at(start, 10*time.Second)
		conntest.WantClose(t, p, timeout.StatusInitTimeout, "connection initialisation timeout", timeout.ErrInitTimeout)
	})
}

func TestInitTimeoutSatisfied(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := conntest.DialPipe(t, nil, conntest.Echo, timeout.InitTimeout(10*time.Second))
		p.Read()
		at(start, 9*time.Second)
		p.WS.WriteMessage(websocket.TextMessage, []byte(`{"type":"connection_init"}`))
		at(start, time.Hour)
		if p.C.Err() != nil {
			t.Fatal("closed after the first message arrived in time")
		}
		p.WS.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
		if info := p.C.Wait(); info.Initiator != lifecycle.InitiatorPeer {
			t.Fatalf("info = %+v", info)
		}
	})
}

func TestWriteTimeoutAborts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wrote := make(chan error, 1)
		p := conntest.DialPipe(t, nil, func(c *lifecycle.Conn) {
			// The client never reads: this fills the pipe buffer and blocks.
			wrote <- c.WriteMessage(lifecycle.BinaryMessage, make([]byte, 1<<20))
			queue.DiscardMessages(c)
		}, timeout.WriteTimeout(3*time.Second))
		synctest.Wait()
		start := connx.OpenedAt(p.C)
		at(start, 3*time.Second-time.Nanosecond)
		if p.C.Err() != nil {
			t.Fatal("write timed out early")
		}
		at(start, 3*time.Second)
		if err := <-wrote; !errors.Is(err, lifecycle.ErrWriteTimeout) {
			t.Fatalf("write error %v", err)
		}
		info := p.C.Wait()
		if info.Code != lifecycle.StatusAbnormalClosure || info.Initiator != lifecycle.InitiatorAbnormal || !errors.Is(info.Cause, lifecycle.ErrWriteTimeout) {
			t.Fatalf("info = %+v", info)
		}
		p.Finish()
	})
}
