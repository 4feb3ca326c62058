package lifecycle_test

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
)

// stuckPeer dials h and never reads: the server's writes fill the socket.
// A small receive buffer makes that quick.
func stuckPeer(t *testing.T, h *harness) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := wstest.DialRawWith(d, h.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
}

// A peer that never reads holds an event-mode writer only until the write
// timeout, which ends the connection (1006, ErrWriteTimeout): the owned
// socket's write waits for room under the write deadline.
func TestEventModeWriteToAPeerThatNeverReadsEndsAtTheWriteTimeout(t *testing.T) {
	wrote := make(chan error, 1)
	h := newModeHarness(t, conntest.Events, connx.Config{}, func(c *lifecycle.Conn) {
		connx.SetWriteTimeout(c, 300*time.Millisecond)
		go writeUntilError(c, wrote)
	}, conntest.DiscardMessage)
	start := time.Now()
	stuckPeer(t, h)
	info := h.next()
	if err := <-wrote; !errors.Is(err, lifecycle.ErrWriteTimeout) {
		t.Fatalf("write error %v, want ErrWriteTimeout", err)
	}
	if info.Code != lifecycle.StatusAbnormalClosure || !errors.Is(info.Cause, lifecycle.ErrWriteTimeout) {
		t.Fatalf("info %+v", info)
	}
	// The write timeout, then Abort's best-effort Close frame (1 s).
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("ended after %v", d)
	}
}

// A close while a writer without a write timeout waits on a peer that
// never reads: the Close frame cannot be written (the writer holds
// gorilla's write lock), the close timeout bounds the wait, and closing the
// socket wakes the writer.
func TestEventModeCloseOfAFullSocketEndsAtTheCloseTimeout(t *testing.T) {
	wrote := make(chan error, 1)
	conns := make(chan *lifecycle.Conn, 1)
	h := newModeHarness(t, conntest.Events, connx.Config{CloseTimeout: 300 * time.Millisecond}, func(c *lifecycle.Conn) {
		conns <- c
		go writeUntilError(c, wrote)
	}, conntest.DiscardMessage)
	stuckPeer(t, h)
	c := <-conns
	wstest.WaitFor(t, "the writer to wait for room", 10*time.Second, func() bool { return lifecycle.WriteWaits(c) })
	start := time.Now()
	c.CloseWith(errTestCause, 4001, "closing")
	info := h.next()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("ended after %v", d)
	}
	if info.Code != lifecycle.StatusAbnormalClosure || info.Sent != nil || !errors.Is(info.Cause, errTestCause) {
		t.Fatalf("info %+v", info)
	}
	select {
	case err := <-wrote:
		if err == nil {
			t.Fatal("the blocked write succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("closing the socket did not wake its writer")
	}
}

// When the upgrade cannot own the socket (here a failed dup) the Conn
// keeps Go's net.Conn and serveEvents reads it from a goroutine: the same
// function, the same ends.
func TestEventModeFallsBackWhenTheSocketCannotBeOwned(t *testing.T) {
	defer lifecycle.FailDup()()
	served := make(chan bool, 1)
	h := startHarness(t, connx.Config{Events: true}, connx.EventBufferSize, func(c *lifecycle.Conn) {
		if lifecycle.OwnsSocket(c) {
			t.Error("a socket owned although its dup failed")
		}
		served <- connx.ServeEvents(c, conntest.EchoMessage, false)
	})
	c := h.dial()
	if <-served {
		t.Fatal("served by events without an owned socket")
	}
	c.WriteText("hello")
	if f, err := c.ReadFrame(5 * time.Second); err != nil || string(f.Payload) != "hello" {
		t.Fatalf("echo %q %v", f.Payload, err)
	}
	c.WriteClose(4100, "bye")
	if info := h.next(); info.Code != 4100 || !info.HandshakeComplete {
		t.Fatalf("info %+v", info)
	}
}

// A close that began before serveEvents, with nobody reading, reads the
// handshake from a goroutine of its own, through the loop's socket: a peer
// that never answers is cut at the close timeout (the read deadline of a
// read that waits on the socket), as in goroutine mode.
func TestEventModeEarlyCloseOfASilentPeerEndsAtTheCloseTimeout(t *testing.T) {
	h := startHarness(t, connx.Config{Events: true, CloseTimeout: 300 * time.Millisecond}, connx.EventBufferSize, func(c *lifecycle.Conn) {
		if !lifecycle.OwnsSocket(c) {
			t.Error("the event loop does not own the socket")
		}
		c.CloseWith(errTestCause, 4100, "early") // nobody reads: it reads the handshake itself
		connx.ServeEvents(c, conntest.DiscardMessage, false)
	})
	c := h.dial()
	if f, _, err := c.ReadUntilClose(5 * time.Second); err != nil || f.CloseCode() != 4100 {
		t.Fatalf("close frame: %v", err)
	}
	if _, err := c.WaitEOF(10 * time.Second); err != nil {
		t.Fatalf("server kept the connection: %v", err)
	}
	info := h.next()
	if info.HandshakeComplete || info.Sent == nil || info.Code != 4100 || info.Duration < 300*time.Millisecond {
		t.Fatalf("info = %+v", info)
	}
}

// writeUntilError writes 64 KiB messages to c until a write fails, and
// sends that error on wrote.
func writeUntilError(c *lifecycle.Conn, wrote chan<- error) {
	for {
		if err := c.WriteMessage(lifecycle.BinaryMessage, make([]byte, 64<<10)); err != nil {
			wrote <- err
			return
		}
	}
}
