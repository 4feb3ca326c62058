package lifecycle_test

import (
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/lifecycle"
)

// closeFromOutsideEvents is closeFromOutside in event mode: the first
// message makes another goroutine close; the loop reads the handshake.
func closeFromOutsideEvents(t *testing.T, cfg lifecycle.Config) *harness {
	return newModeHarness(t, conntest.Events, cfg, nil, func(c *lifecycle.Conn, _ lifecycle.MessageType, _ []byte) {
		go c.CloseWith(errTestCause, 4100, "from outside")
	})
}

// In event mode no goroutine reads, yet a close from another goroutine
// completes its handshake as soon as the peer answers (CloseTimeout is a
// minute).
func TestEventModeHandshakeCompletes(t *testing.T) {
	assertHandshake(t, closeFromOutsideEvents(t, lifecycle.Config{CloseTimeout: time.Minute}))
}

// In event mode the handshake's bound is a timer: a peer that never
// answers is cut at CloseTimeout.
func TestEventModeSilentPeerIsCutAtCloseTimeout(t *testing.T) {
	h := closeFromOutsideEvents(t, lifecycle.Config{CloseTimeout: 300 * time.Millisecond})
	assertCutAtCloseTimeout(t, h, 300*time.Millisecond)
}

// A reset in event mode is an abnormal end, reported once.
func TestEventModeAbnormalEndByReset(t *testing.T) {
	h := newModeHarness(t, conntest.Events, lifecycle.Config{}, nil, conntest.EchoMessage)
	c := h.dial()
	c.WriteText("hello")
	if _, err := c.ReadFrame(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	c.Reset()
	assertResetEnd(t, h)
}
