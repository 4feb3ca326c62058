package lifecycle_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/wstest"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/lifecycle"
)

// closeFromOutsideEvents is closeFromOutside in event mode: the first
// message makes another goroutine close; the loop reads the handshake.
func closeFromOutsideEvents(t *testing.T, cfg connx.Config) *harness {
	return newModeHarness(t, conntest.Events, cfg, nil, func(c *lifecycle.Conn, _ lifecycle.MessageType, _ []byte) {
		go c.CloseWith(errTestCause, 4100, "from outside")
	})
}

// In event mode no goroutine reads, yet a close from another goroutine
// completes its handshake as soon as the peer answers (CloseTimeout is a
// minute).
func TestEventModeHandshakeCompletes(t *testing.T) {
	assertHandshake(t, closeFromOutsideEvents(t, connx.Config{CloseTimeout: time.Minute}))
}

// In event mode the handshake's bound is a timer: a peer that never
// answers is cut at CloseTimeout.
func TestEventModeSilentPeerIsCutAtCloseTimeout(t *testing.T) {
	h := closeFromOutsideEvents(t, connx.Config{CloseTimeout: 300 * time.Millisecond})
	assertCutAtCloseTimeout(t, h, 300*time.Millisecond)
}

// A reset in event mode is an abnormal end, reported once.
func TestEventModeAbnormalEndByReset(t *testing.T) {
	h := newModeHarness(t, conntest.Events, connx.Config{}, nil, conntest.EchoMessage)
	c := h.dial()
	c.WriteText("hello")
	if _, err := c.ReadFrame(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	c.Reset()
	assertResetEnd(t, h)
}

// A message over the event buffer is gathered as it arrives, with no
// goroutine, by a peer that keeps sending, however slowly; one whose rest
// stops coming ends the connection, once, abnormally, after the partial
// timeout, and the loop serves on.
func TestEventModePartialMessageIsBounded(t *testing.T) {
	defer lifecycle.SetPartialTimeout(300 * time.Millisecond)()
	h := newModeHarness(t, conntest.Events, connx.Config{}, nil, conntest.EchoMessage)

	big := bytes.Repeat([]byte("x"), 2*connx.EventBufferSize)
	frame := wstest.AppendFrame(nil, wstest.OpBinary, true, big)

	slow := h.dial()
	for i := 0; i < len(frame); i += 1024 { // within the timeout each time
		slow.Conn.Write(frame[i:min(i+1024, len(frame))])
		time.Sleep(100 * time.Millisecond) // the pace of a slow peer, not synchronisation
	}
	if f, err := slow.ReadFrame(5 * time.Second); err != nil || !bytes.Equal(f.Payload, big) {
		t.Fatalf("slow big message: %d bytes, %v", len(f.Payload), err)
	}
	slow.WriteText("after")
	if f, err := slow.ReadFrame(5 * time.Second); err != nil || string(f.Payload) != "after" {
		t.Fatalf("after the big message: %q %v", f.Payload, err)
	}

	for _, part := range [][]byte{frame[:len(frame)/2], frame[:3]} { // over the buffer, and half a header
		stalled := h.dial()
		start := time.Now()
		stalled.Conn.Write(part)
		info := h.next()
		if info.Initiator != lifecycle.InitiatorAbnormal || !errors.Is(info.Cause, lifecycle.ErrConnectionLost) || !strings.Contains(info.Cause.Error(), "timeout") {
			t.Fatalf("stalled message ended with %+v", info)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("the stalled message lasted %v", d)
		}
	}
	slow.WriteText("still served")
	if f, err := slow.ReadFrame(5 * time.Second); err != nil || string(f.Payload) != "still served" {
		t.Fatalf("after the stalled ones: %q %v", f.Payload, err)
	}
}

// A peer trickling a message holds what it sent, not a read buffer of the
// pool's: after a second turn with the message unfinished, its bytes wait
// in a buffer their size, which grows as more come; once the message is
// read, the connection holds no buffer at all.
func TestEventModeSlowSenderHoldsWhatItSent(t *testing.T) {
	conns := make(chan *lifecycle.Conn, 1)
	h := newModeHarness(t, conntest.Events, connx.Config{}, func(c *lifecycle.Conn) { conns <- c }, conntest.EchoMessage)
	big := bytes.Repeat([]byte("y"), 60<<10)
	frame := wstest.AppendFrame(nil, wstest.OpBinary, true, big)
	c := h.dial()
	conn := <-conns
	bufferIs := func(what string, ok func(int) bool) {
		t.Helper()
		var size int
		if !wstest.Eventually(5*time.Second, func() bool {
			var idle bool
			size, idle = lifecycle.ReadBufferSize(conn)
			return idle && ok(size)
		}) {
			t.Fatalf("read buffer of %d bytes, want %s", size, what)
		}
	}
	sent := 0
	send := func(n int) {
		c.Conn.Write(frame[sent : sent+n])
		sent += n
	}
	send(20) // a header and a few bytes: one turn, the pool's buffer
	bufferIs("the pool's", func(n int) bool { return n == connx.EventBufferSize })
	send(20) // a second turn: a buffer their size
	bufferIs("512 bytes", func(n int) bool { return n == 512 })
	send(3000) // it grows as bytes come
	bufferIs("at least 3040 bytes, at most the pool's", func(n int) bool { return n >= 3040 && n <= connx.EventBufferSize })
	send(len(frame) - sent)
	if f, err := c.ReadFrame(5 * time.Second); err != nil || !bytes.Equal(f.Payload, big) {
		t.Fatalf("echo: %d bytes, %v", len(f.Payload), err)
	}
	bufferIs("none", func(n int) bool { return n == 0 })
}
