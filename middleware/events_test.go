package middleware_test

import (
	"bytes"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/timeout"
)

// readModes are the two ways EventHandler reads: epoll, and the goroutine
// fallback (other systems, TLS).
var readModes = []struct {
	name string
	opts []middleware.Option
}{
	{"events", nil},
	{"goroutines", []middleware.Option{middleware.WithReadGoroutines()}},
}

func echoEvents(c *lifecycle.Conn, mt lifecycle.MessageType, data []byte) { c.WriteMessage(mt, data) }

func TestEventHandlerEchoesAndCloses(t *testing.T) {
	for _, mode := range readModes {
		t.Run(mode.name, func(t *testing.T) {
			reg := lifecycle.NewRegistry()
			hooks := newHookLog()
			h := middleware.OnClose(hooks.hook)(middleware.EventHandler(reg, echoEvents, mode.opts...))
			c, err := wstest.DialRaw(wstest.Server(t, h), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, msg := range []string{"hello", strings.Repeat("x", 3000), strings.Repeat("big", 10000)} {
				c.WriteText(msg)
				f, err := c.ReadFrame(5 * time.Second)
				if err != nil || string(f.Payload) != msg {
					t.Fatalf("echo of %d bytes: %d bytes, %v", len(msg), len(f.Payload), err)
				}
			}
			// A ping between two halves of a fragmented message, and a
			// frame written a byte at a time.
			c.WriteFrame(wstest.OpText, false, []byte("frag-"))
			c.WriteFrame(wstest.OpPing, true, []byte("p"))
			if f, err := c.ReadFrame(5 * time.Second); err != nil || f.Op != wstest.OpPong || string(f.Payload) != "p" {
				t.Fatalf("pong: %+v %v", f, err)
			}
			c.WriteFrame(wstest.OpContinuation, true, []byte("mented"))
			if f, err := c.ReadFrame(5 * time.Second); err != nil || string(f.Payload) != "frag-mented" {
				t.Fatalf("fragmented echo: %q %v", f.Payload, err)
			}
			var b bytes.Buffer
			for _, part := range [][]byte{{0x81}, {0x85}, {1, 2, 3, 4}, []byte("hello")} {
				b.Write(part)
			}
			frame := b.Bytes()
			for i := 4 + 2; i < len(frame); i++ {
				frame[i] ^= frame[2+(i-6)%4]
			}
			for i := range frame {
				c.Conn.Write(frame[i : i+1])
			}
			if f, err := c.ReadFrame(5 * time.Second); err != nil || string(f.Payload) != "hello" {
				t.Fatalf("trickled echo: %q %v", f.Payload, err)
			}
			c.WriteClose(4000, "bye")
			f, _, err := c.ReadUntilClose(5 * time.Second)
			if err != nil || f.CloseCode() != 4000 {
				t.Fatalf("echoed close: %d %v", f.CloseCode(), err)
			}
			info := hooks.next(t)
			if info.Initiator != lifecycle.InitiatorPeer || info.Code != 4000 || !info.HandshakeComplete {
				t.Fatalf("info %+v", info)
			}
			reg.Shutdown(t.Context())
			hooks.exactlyOnce(t, 1)
		})
	}
}

func TestEventHandlerPolicyCloseCompletesTheHandshake(t *testing.T) {
	for _, mode := range readModes {
		t.Run(mode.name, func(t *testing.T) {
			reg := lifecycle.NewRegistry()
			hooks := newHookLog()
			h := middleware.OnClose(hooks.hook)(timeout.SessionExpiry(50 * time.Millisecond)(middleware.EventHandler(reg, echoEvents, mode.opts...)))
			c, err := wstest.DialRaw(wstest.Server(t, h), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			f, _, err := c.ReadUntilClose(5 * time.Second)
			if err != nil || f.CloseCode() != 1008 || f.CloseReason() != "session expired" {
				t.Fatalf("close %d %q %v", f.CloseCode(), f.CloseReason(), err)
			}
			c.WriteClose(1008, "")
			info := hooks.next(t)
			if !errors.Is(info.Cause, timeout.ErrSessionExpired) || !info.HandshakeComplete {
				t.Fatalf("info %+v", info)
			}
			if _, err := c.WaitEOF(5 * time.Second); err != nil {
				t.Fatalf("TCP not closed: %v", err)
			}
			reg.Shutdown(t.Context())
		})
	}
}

// A panic in the message function closes with 1011, and the process
// lives on.
func TestEventHandlerPanicCloses1011(t *testing.T) {
	for _, mode := range readModes {
		t.Run(mode.name, func(t *testing.T) {
			reg := lifecycle.NewRegistry()
			defer reg.Shutdown(t.Context())
			quiet := middleware.WithLogger(slog.New(slog.DiscardHandler))
			h := middleware.EventHandler(reg, func(*lifecycle.Conn, lifecycle.MessageType, []byte) { panic("boom") }, append(mode.opts, quiet)...)
			c, err := wstest.DialRaw(wstest.Server(t, h), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.WriteText("x")
			f, _, err := c.ReadUntilClose(5 * time.Second)
			if err != nil || f.CloseCode() != 1011 {
				t.Fatalf("close %d %v", f.CloseCode(), err)
			}
			c.WriteClose(1011, "")
		})
	}
}

// An idle event-mode connection holds no goroutine.
func TestEventModeHoldsNoGoroutinePerConnection(t *testing.T) {
	reg := lifecycle.NewRegistry()
	opened := make(chan struct{}, 200)
	h := middleware.OnOpen(func(*lifecycle.Conn) { opened <- struct{}{} })(middleware.EventHandler(reg, echoEvents))
	url := wstest.Server(t, h)
	base := runtime.NumGoroutine()
	var clients []*wstest.RawClient
	for range 200 {
		c, err := wstest.DialRaw(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
		<-opened
	}
	for _, c := range clients { // every one has been read from: the loop and its pool run
		c.WriteText("hi")
		if _, err := c.ReadFrame(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	wstest.WaitFor(t, "net/http's connection goroutines to end", 5*time.Second, func() bool {
		return runtime.NumGoroutine()-base < 50
	})
	if n := runtime.NumGoroutine() - base; n >= 50 {
		t.Fatalf("%d goroutines for 200 idle connections", n)
	}
	reg.Shutdown(t.Context())
}
