package lifecycle_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
)

func TestContextCancelledWithCause(t *testing.T) {
	got := make(chan error, 1)
	h := newHarness(t, connx.Config{}, func(c *lifecycle.Conn) {
		go c.CloseWith(errTestCause, 4200, "ctx")
		<-c.Context().Done()
		got <- context.Cause(c.Context())
		c.ReadMessage()
	})
	c := h.dial()
	err := <-got
	var ce *lifecycle.CloseError
	if !errors.As(err, &ce) || ce.Code != 4200 || !errors.Is(err, errTestCause) {
		t.Fatalf("context.Cause = %v", err)
	}
	c.ReadUntilClose(5 * time.Second)
	c.WriteClose(4200, "")
	h.next()
}

func TestWritesAfterCloseReturnCloseError(t *testing.T) {
	got := make(chan error, 1)
	h := newHarness(t, connx.Config{}, func(c *lifecycle.Conn) {
		c.ReadMessage() // returns when the peer closes
		got <- c.WriteMessage(lifecycle.TextMessage, []byte("too late"))
	})
	c := h.dial()
	c.WriteClose(4300, "bye")
	err := <-got
	var ce *lifecycle.CloseError
	if !errors.As(err, &ce) || ce.Code != 4300 || ce.Initiator != lifecycle.InitiatorPeer {
		t.Fatalf("write after close: %v", err)
	}
	h.next()
}

func TestConcurrentWritersAreSerialized(t *testing.T) {
	const writers, each = 8, 50
	h := newHarness(t, connx.Config{}, func(c *lifecycle.Conn) {
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				for range each {
					c.WriteMessage(lifecycle.BinaryMessage, make([]byte, 300))
				}
			})
		}
		wg.Wait()
		c.ReadMessage()
	})
	c := h.dial()
	for range writers * each {
		f, err := c.ReadFrame(5 * time.Second)
		if err != nil || f.Op != 0x2 || !f.Fin || len(f.Payload) != 300 {
			t.Fatalf("frame %+v: %v", f.Op, err)
		}
	}
	c.WriteClose(1000, "")
	h.next()
}

func TestHookPanicIsRecoveredAndLaterHooksRun(t *testing.T) {
	ran := make(chan int, 3)
	h := newHarness(t, connx.Config{}, func(c *lifecycle.Conn) {
		c.OnClose(func(*lifecycle.Conn, lifecycle.CloseInfo) { ran <- 1 })
		c.OnClose(func(*lifecycle.Conn, lifecycle.CloseInfo) { panic("boom") })
		c.OnClose(func(*lifecycle.Conn, lifecycle.CloseInfo) { ran <- 3 })
		c.ReadMessage()
	})
	c := h.dial()
	c.WriteClose(1000, "")
	h.next()
	if a, b := <-ran, <-ran; a != 1 || b != 3 {
		t.Fatalf("hooks ran %d, %d", a, b)
	}
}

func TestTimersDieWithTheConnection(t *testing.T) {
	fired := make(chan struct{}, 1)
	h := newHarness(t, connx.Config{}, func(c *lifecycle.Conn) {
		tm := afterFunc(c, time.Hour, func() { fired <- struct{}{} })
		c.ReadMessage()
		if tm.Reset(time.Millisecond) {
			t.Error("Reset re-armed a timer of a closed connection")
		}
	})
	c := h.dial()
	c.WriteClose(1000, "")
	h.next()
	select {
	case <-fired:
		t.Fatal("timer fired after close")
	default:
	}
}

func TestHookAddedAfterTheEndRunsAtOnce(t *testing.T) {
	conns := make(chan *lifecycle.Conn, 1)
	h := newHarness(t, connx.Config{}, func(c *lifecycle.Conn) {
		conns <- c
		c.ReadMessage()
	})
	c := h.dial()
	conn := <-conns
	c.WriteClose(4444, "")
	conn.Wait()
	var got lifecycle.CloseInfo
	conn.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { got = info })
	if got.Code != 4444 {
		t.Fatalf("late hook got %+v", got)
	}
	h.next()
}
