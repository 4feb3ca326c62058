package lifecycle_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
)

// closeOnText closes the connection with the code and reason the test
// chose as soon as the client sends any message.
func closeOnText(code lifecycle.StatusCode, reason string) func(*lifecycle.Conn, lifecycle.MessageType, []byte) {
	return func(c *lifecycle.Conn, _ lifecycle.MessageType, _ []byte) { c.Close(code, reason) }
}

func TestLocalCloseOnTheWire(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		h := newModeHarness(t, mode, connx.Config{}, nil, closeOnText(4000, "done here"))
		c := h.dial()
		c.WriteText("go")
		f, _, err := c.ReadUntilClose(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if f.CloseCode() != 4000 || f.CloseReason() != "done here" {
			t.Fatalf("close frame = %d %q", f.CloseCode(), f.CloseReason())
		}
		c.WriteClose(4000, "")
		frames, err := c.WaitEOF(5 * time.Second)
		if err != nil {
			t.Fatalf("server did not close TCP after the handshake: %v", err)
		}
		if len(frames) != 0 {
			t.Fatalf("frames after the Close: %v", frames)
		}
		info := h.next()
		if info.Code != 4000 || info.Reason != "done here" || info.Initiator != lifecycle.InitiatorLocal ||
			!errors.Is(info.Cause, lifecycle.ErrApplicationClose) || !info.HandshakeComplete {
			t.Fatalf("info = %+v", info)
		}
		if info.Sent == nil || info.Sent.Code != 4000 || info.Received == nil || info.Received.Code != 4000 {
			t.Fatalf("sent %+v received %+v", info.Sent, info.Received)
		}
	})
}

func TestLongReasonIsCutAtRuneBoundary(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		reason := strings.Repeat("é", 100) // 200 bytes of two-byte runes
		h := newModeHarness(t, mode, connx.Config{}, nil, closeOnText(4001, reason))
		c := h.dial()
		c.WriteText("go")
		f, _, err := c.ReadUntilClose(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got := f.CloseReason()
		if len(got) > 123 || !utf8.ValidString(got) || !strings.HasPrefix(reason, got) || len(got) < 121 {
			t.Fatalf("reason on the wire: %d bytes, valid=%v", len(got), utf8.ValidString(got))
		}
		c.WriteClose(4001, "")
		if info := h.next(); info.Reason != got {
			t.Fatalf("CloseInfo reason %q, wire %q", info.Reason, got)
		}
	})
}

func TestUnsendableCodesNeverReachTheWire(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		for _, code := range []lifecycle.StatusCode{1004, 1005, 1006, 1015, 999, 5000, 2000, 0} {
			t.Run(code.String(), func(t *testing.T) {
				h := newModeHarness(t, mode, connx.Config{}, nil, closeOnText(code, "should not be sent"))
				c := h.dial()
				c.WriteText("go")
				f, _, err := c.ReadUntilClose(5 * time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if len(f.Payload) != 0 {
					t.Fatalf("close payload %v for code %d; want an empty Close frame", f.Payload, code)
				}
				c.WriteClose(-1, "")
				if _, err := c.WaitEOF(5 * time.Second); err != nil {
					t.Fatal(err)
				}
				if info := h.next(); info.Code != lifecycle.StatusNoStatusRcvd || info.Sent == nil {
					t.Fatalf("info = %+v", info)
				}
			})
		}
	})
}

func TestExactlyOneCloseFrameUnderConcurrentCloses(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		h := newModeHarness(t, mode, connx.Config{}, nil, func(c *lifecycle.Conn, _ lifecycle.MessageType, _ []byte) {
			done := make(chan struct{})
			for i := range 16 {
				go func() {
					c.Close(lifecycle.StatusCode(4000+i), "racer")
					done <- struct{}{}
				}()
			}
			for range 16 {
				<-done
			}
		})
		c := h.dial()
		c.WriteText("go")
		first, _, err := c.ReadUntilClose(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.WriteText("late data") // the server discards it while it waits
		c.WriteClose(first.CloseCode(), "")
		rest, err := c.WaitEOF(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range rest {
			if f.Op == wstest.OpClose {
				t.Fatalf("a second Close frame was sent: %d", f.CloseCode())
			}
		}
		if info := h.next(); info.Code != lifecycle.StatusCode(first.CloseCode()) {
			t.Fatalf("CloseInfo code %d, wire %d", info.Code, first.CloseCode())
		}
	})
}

func TestPeerCloseIsEchoed(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		for _, tc := range []struct {
			name string
			code int
			want lifecycle.StatusCode
		}{{"with code", 4321, 4321}, {"normal", 1000, 1000}, {"no status", -1, lifecycle.StatusNoStatusRcvd}} {
			t.Run(tc.name, func(t *testing.T) {
				h := newModeHarness(t, mode, connx.Config{}, nil, conntest.EchoMessage)
				c := h.dial()
				c.WriteClose(tc.code, "client leaving")
				f, _, err := c.ReadUntilClose(5 * time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if lifecycle.StatusCode(f.CloseCode()) != tc.want {
					t.Fatalf("echo %d, want %d", f.CloseCode(), tc.want)
				}
				if _, err := c.WaitEOF(5 * time.Second); err != nil {
					t.Fatal(err)
				}
				info := h.next()
				if info.Code != tc.want || info.Initiator != lifecycle.InitiatorPeer || !errors.Is(info.Cause, lifecycle.ErrPeerClosed) || !info.HandshakeComplete {
					t.Fatalf("info = %+v", info)
				}
			})
		}
	})
}

func TestProtocolErrorIsALocal1002(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		h := newModeHarness(t, mode, connx.Config{}, nil, conntest.EchoMessage)
		c := h.dial()
		c.WriteFrame(0x3, true, []byte("x")) // reserved opcode
		f, _, err := c.ReadUntilClose(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if f.CloseCode() != 1002 {
			t.Fatalf("gorilla's close: %d", f.CloseCode())
		}
		// The server half-closes after its 1002 and lingers until we close.
		if _, err := c.WaitEOF(5 * time.Second); err != nil {
			t.Fatalf("no FIN after the 1002: %v", err)
		}
		c.Close()
		info := h.next()
		if info.Code != lifecycle.StatusProtocolError || info.Initiator != lifecycle.InitiatorLocal || !errors.Is(info.Cause, lifecycle.ErrProtocol) {
			t.Fatalf("info = %+v", info)
		}
	})
}

func TestMessageTooBigIsALocal1009(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		h := newModeHarness(t, mode, connx.Config{}, func(c *lifecycle.Conn) { connx.SetReadLimit(c, 16) }, conntest.EchoMessage)
		c := h.dial()
		c.WriteText(strings.Repeat("x", 16)) // at the limit: echoed
		if f, err := c.ReadFrame(5 * time.Second); err != nil || len(f.Payload) != 16 {
			t.Fatalf("echo at the limit: %v", err)
		}
		c.WriteText(strings.Repeat("x", 17))
		f, _, err := c.ReadUntilClose(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if f.CloseCode() != 1009 || f.CloseReason() != "message too big" {
			t.Fatalf("close %d %q", f.CloseCode(), f.CloseReason())
		}
		c.WriteClose(1009, "")
		info := h.next()
		if info.Code != lifecycle.StatusMessageTooBig || info.Initiator != lifecycle.InitiatorLocal || !errors.Is(info.Cause, lifecycle.ErrMessageTooBig) || !info.HandshakeComplete {
			t.Fatalf("info = %+v", info)
		}
	})
}
