package lifecycle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
)

var errTestCause = errors.New("test cause")

// closeFromOutside starts a handler that behaves as block says, and closes
// the connection from another goroutine once the client has spoken.
func closeFromOutside(t *testing.T, cfg connx.Config, block func(c *lifecycle.Conn, release <-chan struct{})) (*harness, chan struct{}) {
	release := make(chan struct{})
	h := newHarness(t, cfg, func(c *lifecycle.Conn) {
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
		go c.CloseWith(errTestCause, 4100, "from outside")
		block(c, release)
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return h, release
}

func TestHandshakeCompletesWhileHandlerReads(t *testing.T) {
	h, _ := closeFromOutside(t, connx.Config{CloseTimeout: time.Minute}, func(c *lifecycle.Conn, _ <-chan struct{}) {
		_, _, err := c.ReadMessage()
		var ce *lifecycle.CloseError
		if !errors.As(err, &ce) || ce.Code != 4100 || !errors.Is(err, errTestCause) {
			t.Errorf("ReadMessage after close: %v", err)
		}
	})
	assertHandshake(t, h)
}

func TestHandshakeCompletesWhileHandlerIsBlockedElsewhere(t *testing.T) {
	h, release := closeFromOutside(t, connx.Config{CloseTimeout: time.Minute}, func(c *lifecycle.Conn, release <-chan struct{}) {
		<-release // not reading: the closer must read the peer's Close itself
	})
	assertHandshake(t, h)
	close(release)
}

// assertHandshake answers the server's Close and checks that the server
// closed TCP and reported a completed handshake. CloseTimeout is a minute,
// so finishing at all proves it did not wait for the timeout.
func assertHandshake(t *testing.T, h *harness) {
	t.Helper()
	c := h.dial()
	c.WriteText("go")
	f, _, err := c.ReadUntilClose(5 * time.Second)
	if err != nil || f.CloseCode() != 4100 {
		t.Fatalf("close frame %d: %v", f.CloseCode(), err)
	}
	c.WriteClose(4100, "")
	if _, err := c.WaitEOF(10 * time.Second); err != nil {
		t.Fatalf("server did not close TCP: %v", err)
	}
	info := h.next()
	if !info.HandshakeComplete || info.Code != 4100 || !errors.Is(info.Cause, errTestCause) || info.Duration >= time.Minute {
		t.Fatalf("info = %+v", info)
	}
}

func TestSilentPeerIsCutAtCloseTimeout(t *testing.T) {
	for _, reading := range []bool{true, false} {
		name := map[bool]string{true: "handler reading", false: "handler blocked"}[reading]
		t.Run(name, func(t *testing.T) {
			h, release := closeFromOutside(t, connx.Config{CloseTimeout: 300 * time.Millisecond}, func(c *lifecycle.Conn, release <-chan struct{}) {
				if reading {
					c.ReadMessage()
					return
				}
				<-release
			})
			assertCutAtCloseTimeout(t, h, 300*time.Millisecond)
			close(release)
		})
	}
}

// assertCutAtCloseTimeout never answers the server's Close 4100 and
// checks that the server closed TCP at closeTimeout, reporting a
// handshake that did not complete.
func assertCutAtCloseTimeout(t *testing.T, h *harness, closeTimeout time.Duration) {
	t.Helper()
	c := h.dial()
	c.WriteText("go")
	if f, _, err := c.ReadUntilClose(5 * time.Second); err != nil || f.CloseCode() != 4100 {
		t.Fatalf("close frame: %v", err)
	}
	// Never answer: the server must give up and close TCP.
	if _, err := c.WaitEOF(10 * time.Second); err != nil {
		t.Fatalf("server kept the connection: %v", err)
	}
	info := h.next()
	if info.HandshakeComplete || info.Received != nil || info.Sent == nil || info.Code != 4100 || info.Initiator != lifecycle.InitiatorLocal {
		t.Fatalf("info = %+v", info)
	}
	if info.Duration < closeTimeout {
		t.Fatalf("closed after %v, before CloseTimeout", info.Duration)
	}
}

func TestAbnormalEndByReset(t *testing.T) {
	loopEnded := make(chan error, 1)
	h := newHarness(t, connx.Config{}, func(c *lifecycle.Conn) {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				loopEnded <- err
				return
			}
		}
	})
	c := h.dial()
	c.WriteText("hello")
	c.Reset()
	err := <-loopEnded
	var ce *lifecycle.CloseError
	if !errors.As(err, &ce) || ce.Code != lifecycle.StatusAbnormalClosure || ce.Initiator != lifecycle.InitiatorAbnormal {
		t.Fatalf("handler's read error: %v", err)
	}
	// The handler's return asked for a close after the end: a no-op, no
	// second close and no second hook.
	assertResetEnd(t, h)
}

// assertResetEnd checks the end of a connection the client reset: one
// abnormal end, nothing sent or received, one hook call after a Shutdown.
func assertResetEnd(t *testing.T, h *harness) {
	t.Helper()
	info := h.next()
	if info.Code != lifecycle.StatusAbnormalClosure || info.Initiator != lifecycle.InitiatorAbnormal ||
		!errors.Is(info.Cause, lifecycle.ErrConnectionLost) || info.Sent != nil || info.Received != nil {
		t.Fatalf("info = %+v", info)
	}
	h.reg.Shutdown(context.Background())
	h.mu.Lock()
	defer h.mu.Unlock()
	for conn, n := range h.hooks {
		if n != 1 {
			t.Fatalf("%p: %d OnClose calls", conn, n)
		}
	}
}
