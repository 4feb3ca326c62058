package middleware_test

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// closeReadLimit is the read limit of closeReadServer.
const closeReadLimit = 1024

var errBadWord = errors.New("bad word")

// closeReadServer echoes in mode, with compression, a read limit and read
// checks that close on "policy" (1008) and on "utf8" (1007), as
// ratelimit.ValidUTF8 does.
func closeReadServer(t *testing.T, mode conntest.Mode, limit int64) (string, *hookLog) {
	t.Helper()
	reg := lifecycle.NewRegistry()
	t.Cleanup(func() { reg.Shutdown(t.Context()) })
	hooks := newHookLog()
	policy := middleware.Policy(func(c *lifecycle.Conn) error {
		connx.SetReadLimit(c, limit)
		c.AddReadCheck(func(_ lifecycle.MessageType, data []byte) error {
			switch string(data) {
			case "policy":
				return errBadWord
			case "utf8":
				return &lifecycle.CloseError{Code: lifecycle.StatusInvalidFramePayloadData, Reason: "invalid utf-8"}
			}
			return nil
		})
		return nil
	})
	h := middleware.OnClose(hooks.hook)(policy(mode.Handler(reg, conntest.EchoMessage, middleware.WithCompression())))
	return wstest.Server(t, h), hooks
}

// deflateOffer is the handshake header that negotiates permessage-deflate
// with gorilla.
var deflateOffer = http.Header{"Sec-Websocket-Extensions": {"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}}

// compressed returns a message's payload compressed for permessage-deflate:
// its deflate stream, sync-flushed, without the final 4 bytes.
func compressed(t *testing.T, msg []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	w.Write(msg)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// fragments cuts payload into n frames of op.
func fragments(op byte, payload []byte, n int) []byte {
	var b []byte
	size := (len(payload) + n - 1) / n
	for i := 0; i < len(payload); i += size {
		frameOp := byte(wstest.OpContinuation)
		if i == 0 {
			frameOp = op
		}
		b = wstest.AppendFrame(b, frameOp, i+size >= len(payload), payload[i:min(i+size, len(payload))])
	}
	return b
}

// A local close decided while reading (a message over the read limit, a
// read check's 1007 or 1008) keeps RFC 6455 §7.1.1 in both read modes:
// the server sends its Close, then waits for the peer's (up to the close
// timeout) with TCP open, reading and discarding whatever the peer still
// sends, and closes TCP only once the Close has come: the handshake
// completes, and the peer sees an orderly end of stream, not a reset. The
// peer answers 300 ms late. Before the fix, event mode went back to
// scanning frames while gorilla was still inside the message over the
// limit, read gorilla's "would block" as the end of the handshake and
// closed TCP at once.
func TestLocalCloseWhileReadingKeepsTheHandshake(t *testing.T) {
	over := func(n int) []byte { return bytes.Repeat([]byte("x"), n) }
	big := over(3 * connx.EventBufferSize)
	bigFrame := wstest.AppendFrame(nil, wstest.OpBinary, true, big)
	cases := []struct {
		name   string
		send   []byte // before the server's Close
		after  []byte // after it, before our Close: the rest of the message
		code   int
		reason string
	}{
		{"just over the limit", wstest.AppendFrame(nil, wstest.OpText, true, over(closeReadLimit+1)), nil, 1009, "message too big"},
		{"five times the limit", wstest.AppendFrame(nil, wstest.OpBinary, true, over(5*closeReadLimit)), nil, 1009, "message too big"},
		{"over the read buffer", bigFrame, nil, 1009, "message too big"},
		{"over the read buffer, the rest after the Close", bigFrame[:4096], bigFrame[4096:], 1009, "message too big"},
		{"fragmented, just over", fragments(wstest.OpText, over(closeReadLimit+1), 4), nil, 1009, "message too big"},
		{"fragmented with a ping, five times", bytes.Join([][]byte{
			wstest.AppendFrame(nil, wstest.OpBinary, false, over(100)),
			wstest.AppendFrame(nil, wstest.OpPing, true, []byte("p")),
			fragments(wstest.OpContinuation, over(5*closeReadLimit), 5),
		}, nil), nil, 1009, "message too big"},
		{"compressed, inflating over the limit", wstest.AppendFrame(nil, wstest.OpText|0x40, true, compressed(t, over(4*closeReadLimit))), nil, 1009, "message too big"},
		{"invalid utf-8 (a read check's 1007)", wstest.AppendFrame(nil, wstest.OpText, true, []byte("utf8")), nil, 1007, "invalid utf-8"},
		{"a read check's 1008", wstest.AppendFrame(nil, wstest.OpText, true, []byte("policy")), nil, 1008, ""},
	}
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		url, hooks := closeReadServer(t, mode, closeReadLimit)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c, err := wstest.DialRaw(url, deflateOffer)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.Conn.Write(tc.send)
				f, _, err := c.ReadUntilClose(5 * time.Second)
				if err != nil || f.CloseCode() != tc.code || f.CloseReason() != tc.reason {
					t.Fatalf("close %d %q %v, want %d %q", f.CloseCode(), f.CloseReason(), err, tc.code, tc.reason)
				}
				c.Conn.Write(tc.after)
				// The peer answers late: meanwhile TCP stays open, and
				// nothing more comes.
				if f, err := c.ReadFrame(300 * time.Millisecond); !isTimeout(err) {
					t.Fatalf("before our Close: frame %+v, %v; want nothing (TCP open)", f, err)
				}
				c.WriteClose(tc.code, "")
				if _, err := c.WaitEOF(5 * time.Second); err != nil {
					t.Fatalf("after our Close: %v, want an orderly end of stream", err)
				}
				info := hooks.next(t)
				if int(info.Code) != tc.code || info.Initiator != lifecycle.InitiatorLocal || !info.HandshakeComplete ||
					info.Received == nil || int(info.Received.Code) != tc.code {
					t.Fatalf("info %+v", info)
				}
			})
		}
	})
}

// A protocol error that gorilla answers with its own 1002 ends the same way
// in both read modes: the server half-closes after its Close and lingers,
// discarding what the peer sends, until the peer closes: no reset.
func TestProtocolErrorLingersInBothModes(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		url, hooks := closeReadServer(t, mode, closeReadLimit)
		c, err := wstest.DialRaw(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.WriteFrame(0x3, true, []byte("x")) // a reserved opcode
		if f, _, err := c.ReadUntilClose(5 * time.Second); err != nil || f.CloseCode() != 1002 {
			t.Fatalf("close %d %v", f.CloseCode(), err)
		}
		if _, err := c.WaitEOF(5 * time.Second); err != nil {
			t.Fatalf("no FIN after the 1002: %v", err)
		}
		// Still sending after the server's FIN, 300 ms late: the server
		// lingers, so no reset.
		time.Sleep(300 * time.Millisecond) // the peer's pace, not synchronisation
		if err := c.WriteClose(1002, ""); err != nil {
			t.Fatalf("writing our Close: %v", err)
		}
		c.Close()
		if info := hooks.next(t); info.Code != lifecycle.StatusProtocolError || info.Initiator != lifecycle.InitiatorLocal {
			t.Fatalf("info %+v", info)
		}
	})
}

// A compressed message is checked the same whatever its size: event mode
// reads every message, small or larger than the read buffer, from a
// buffer that holds it whole, and refuses with 1002 one that gorilla stops
// reading before its last byte. That happens when the deflate stream ends
// (a final block) with more of the message left than gorilla's
// decompressor has read ahead (it takes a message's bytes 4 KiB at a
// time): here 5,000 bytes after the final block, in a message of about
// 7 KB on the wire (it fits the 8 KiB read buffer) and of about 26 KB
// (gathered as it arrives). A few bytes after the final block are read
// ahead and ignored, as gorilla does; the goroutine mode, whose gorilla
// skips the rest on its next read, echoes both.
func TestCompressedMessagesAreCheckedAtAnySize(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		url, hooks := closeReadServer(t, mode, 1<<20)
		for _, size := range []int{2000, 21000} {
			msg := make([]byte, size)
			rand.Read(msg) // incompressible: about size bytes on the wire
			for _, trailing := range []int{24, 5000} {
				c, err := wstest.DialRaw(url, deflateOffer)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				var b bytes.Buffer
				w, _ := flate.NewWriter(&b, flate.BestSpeed)
				w.Write(msg)
				w.Close() // a final block: the stream ends here
				b.Write(bytes.Repeat([]byte("z"), trailing))
				c.Conn.Write(wstest.AppendFrame(nil, wstest.OpBinary|0x40, true, b.Bytes()))
				if !mode.Events || trailing < 4096 {
					if echo := readCompressed(t, c); !bytes.Equal(echo, msg) {
						t.Fatalf("%d bytes, %d after the final block: echo of %d bytes", size, trailing, len(echo))
					}
					c.WriteClose(1000, "")
					hooks.next(t)
					continue
				}
				if f, _, err := c.ReadUntilClose(5 * time.Second); err != nil || f.CloseCode() != 1002 || f.CloseReason() != "invalid compressed data" {
					t.Fatalf("%d bytes, %d after the final block: close %d %q %v", size, trailing, f.CloseCode(), f.CloseReason(), err)
				}
				c.Close()
				if info := hooks.next(t); info.Code != lifecycle.StatusProtocolError || !errors.Is(info.Cause, lifecycle.ErrProtocol) {
					t.Fatalf("%d bytes: info %+v", size, info)
				}
			}
			// A sound message of either size is echoed.
			c, err := wstest.DialRaw(url, deflateOffer)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Conn.Write(wstest.AppendFrame(nil, wstest.OpBinary|0x40, true, compressed(t, msg)))
			if echo := readCompressed(t, c); !bytes.Equal(echo, msg) {
				t.Fatalf("%d bytes: echo of %d bytes", size, len(echo))
			}
			c.WriteClose(1000, "")
			hooks.next(t)
		}
	})
}

// readCompressed reads a compressed message (in as many frames as gorilla
// cut it) and inflates it.
func readCompressed(t *testing.T, c *wstest.RawClient) []byte {
	t.Helper()
	var payload []byte
	for {
		f, err := c.ReadFrame(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		payload = append(payload, f.Payload...)
		if f.Fin {
			break
		}
	}
	msg, err := io.ReadAll(flate.NewReader(bytes.NewReader(append(payload, 0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff))))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// isTimeout reports whether err is a read deadline that passed.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
